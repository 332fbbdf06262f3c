import { exports } from "cloudflare:workers";
import type { Dial } from "./test-agent";

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

/** Opens an agent link through the Worker's own fetch handler, as an agent on the internet would. */
export const dialWorker: Dial = async (token) => {
  const res = await exports.default.fetch(`${BASE}/api/agent/v1/connect`, {
    headers: { Upgrade: "websocket", Authorization: `Bearer ${token}` },
  });
  if (!res.webSocket) return { status: res.status, body: await res.json() };
  res.webSocket.accept();
  return { status: res.status, socket: res.webSocket };
};
