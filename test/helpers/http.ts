import { exports } from "cloudflare:workers";

export const BASE = "http://comfy-edge.test";

export type JsonResponse<T = Record<string, unknown>> = { status: number; body: T; headers: Headers };

/** Calls the Worker's own fetch handler, as a client on the internet would. */
export async function api<T = Record<string, unknown>>(
  path: string,
  init: {
    method?: string;
    token?: string;
    json?: unknown;
    body?: BodyInit;
    headers?: Record<string, string>;
  } = {},
): Promise<JsonResponse<T>> {
  const headers = new Headers(init.headers);
  if (init.token) headers.set("Authorization", `Bearer ${init.token}`);
  let body = init.body;
  if (init.json !== undefined) {
    headers.set("Content-Type", "application/json");
    body = JSON.stringify(init.json);
  }
  const res = await exports.default.fetch(`${BASE}${path}`, { method: init.method ?? "GET", headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // non-JSON bodies are returned as text
  }
  return { status: res.status, body: parsed as T, headers: res.headers };
}
