import { readdirSync, readFileSync } from "node:fs";
import { resolve } from "node:path";

/** Recordings of a real ComfyUI server, kept in the repository as test data. */
export const TRACES_DIR = resolve(import.meta.dirname, "../../../../fixtures/comfyui-traces");

export interface TraceMessage {
  kind: "client_event" | "client_sent_text" | "text" | "binary";
  json?: { type: string; data: Record<string, unknown> };
  frame_base64?: string;
  event_type?: number;
  metadata?: Record<string, unknown>;
}

export interface Trace {
  prompt_request: { prompt: Record<string, unknown>; client_id?: string; [key: string]: unknown };
  prompt_response: { status: number; body: Record<string, unknown> };
  prompt_id: string;
  ws_messages: TraceMessage[];
  ws_message_types_in_order: string[];
  ws_message_types_in_order_observer: string[];
  history?: Record<string, Record<string, unknown>>;
  http: { method: string; path: string; request_json?: Record<string, unknown>; [key: string]: unknown }[];
  [key: string]: unknown;
}

/** A scenario trace by its number (`"01"`) or a data file by name (`"upload_image"`). */
export function loadTrace<T = Trace>(name: string): T {
  const file = readdirSync(TRACES_DIR).find(
    (entry) => entry.startsWith(`${name}_`) || entry === `${name}.json`,
  );
  if (!file) throw new Error(`no trace ${name} in ${TRACES_DIR}`);
  return JSON.parse(readFileSync(resolve(TRACES_DIR, file), "utf8")) as T;
}

/** The recorded JSON messages of one type. */
export function recordedMessages(trace: Trace, type: string): Record<string, unknown>[] {
  return trace.ws_messages
    .filter((m) => m.kind === "text" && m.json?.type === type)
    .map((m) => m.json?.data ?? {});
}
