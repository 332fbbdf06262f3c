import type { IncomingMessage, ServerResponse } from "node:http";
import { pyJson } from "../py-json";

/** What a route answers; the router writes it. */
export interface Reply {
  status: number;
  headers: Record<string, string | number>;
  body: Buffer;
}

/** aiohttp's `json_response`. */
export function json(status: number, value: unknown): Reply {
  return {
    status,
    headers: { "Content-Type": "application/json; charset=utf-8" },
    body: Buffer.from(pyJson(value)),
  };
}

/** aiohttp's bare `web.Response(status=…)`: no body, octet-stream. */
export function empty(status: number): Reply {
  return { status, headers: { "Content-Type": "application/octet-stream" }, body: Buffer.alloc(0) };
}

export function text(status: number, message: string): Reply {
  return { status, headers: { "Content-Type": "text/plain; charset=utf-8" }, body: Buffer.from(message) };
}

/** What aiohttp answers when a handler raises. */
export function serverError(): Reply {
  return text(500, "500 Internal Server Error\n\nServer got itself in trouble");
}

export function writeReply(res: ServerResponse, reply: Reply): void {
  res.writeHead(reply.status, { ...reply.headers, "Content-Length": reply.body.length });
  res.end(reply.body);
}

export class BodyTooLarge extends Error {}

export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new BodyTooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** The body as JSON, or undefined when it is empty or not JSON. */
export function parseJson(body: Buffer): unknown {
  if (body.length === 0) return undefined;
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    return undefined;
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
