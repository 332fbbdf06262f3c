import * as z from "zod/mini";

/**
 * ComfyUI's WebSocket JSON messages, `{type, data}`, as v0.3.64 sends them. Unknown types (custom nodes
 * send their own) and known types in an unexpected shape come through as `other`, never as errors.
 * Only the fields the agent reads are checked and kept: several of these come with every sampler step
 * (`progress_state` with an entry per node of the graph), and copying the rest is CPU for nothing.
 */

const nodeStatus = z.object({ state: z.string() });

const KnownEvent = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("status"),
    data: z.object({
      status: z.object({ exec_info: z.object({ queue_remaining: z.number() }) }),
      sid: z.optional(z.string()),
    }),
  }),
  z.object({ type: z.literal("execution_start"), data: z.object({ prompt_id: z.string() }) }),
  z.object({
    type: z.literal("execution_cached"),
    data: z.object({ prompt_id: z.string(), nodes: z.array(z.string()) }),
  }),
  z.object({
    type: z.literal("executing"),
    // After a reconnect ComfyUI repeats the running node without prompt_id.
    data: z.object({ node: z.nullable(z.string()), prompt_id: z.optional(z.string()) }),
  }),
  z.object({
    type: z.literal("progress"),
    data: z.object({
      value: z.number(),
      max: z.number(),
      prompt_id: z.optional(z.string()),
      node: z.optional(z.nullable(z.string())),
    }),
  }),
  z.object({
    type: z.literal("progress_state"),
    data: z.object({ prompt_id: z.string(), nodes: z.record(z.string(), nodeStatus) }),
  }),
  z.object({
    type: z.literal("executed"),
    data: z.object({
      prompt_id: z.string(),
      node: z.string(),
      output: z.nullable(z.record(z.string(), z.unknown())),
    }),
  }),
  z.object({ type: z.literal("execution_success"), data: z.object({ prompt_id: z.string() }) }),
  z.object({
    type: z.literal("execution_error"),
    data: z.object({
      prompt_id: z.string(),
      node_id: z.string(),
      node_type: z.string(),
      executed: z._default(z.array(z.string()), []),
      exception_message: z.string(),
      exception_type: z.string(),
      traceback: z._default(z.array(z.string()), []),
    }),
  }),
  z.object({
    type: z.literal("execution_interrupted"),
    data: z.object({
      prompt_id: z.string(),
      node_id: z.optional(z.nullable(z.string())),
      node_type: z.optional(z.nullable(z.string())),
      executed: z._default(z.array(z.string()), []),
    }),
  }),
  z.object({ type: z.literal("feature_flags"), data: z.record(z.string(), z.unknown()) }),
]);

export type KnownEvent = z.infer<typeof KnownEvent>;
export type ComfyEvent = KnownEvent | { type: "other"; name: string; data: unknown };
export type ExecutionErrorEvent = Extract<KnownEvent, { type: "execution_error" }>["data"];

/** Parses one text frame; undefined if it is not a `{type, data}` JSON message at all. */
export function parseEvent(text: string): ComfyEvent | undefined {
  let message: unknown;
  try {
    message = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (
    typeof message !== "object" ||
    message === null ||
    typeof (message as { type?: unknown }).type !== "string"
  ) {
    return undefined;
  }
  const step = stepEvent(message as { type: string; data?: unknown });
  if (step) return step;
  const known = KnownEvent.safeParse(message);
  if (known.success) return known.data;
  const { type, data } = message as { type: string; data?: unknown };
  return { type: "other", name: type, data };
}

type ProgressEvent = Extract<KnownEvent, { type: "progress" }>;
type ProgressStateEvent = Extract<KnownEvent, { type: "progress_state" }>;

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * `progress` and `progress_state`, checked by hand: both come with every sampler step, and the schema's
 * generic walk costs more than the rest of relaying them. The same checks as the schema's; whatever
 * fails them falls through to the schema.
 */
function stepEvent(message: {
  type: string;
  data?: unknown;
}): ProgressEvent | ProgressStateEvent | undefined {
  if (!isRecord(message.data)) return undefined;
  if (message.type === "progress") return progressOf(message.data);
  if (message.type === "progress_state") return progressStateOf(message.data);
  return undefined;
}

/** The nodes' entries are passed on as parsed (their other fields unread), not copied. */
function progressStateOf(data: Record<string, unknown>): ProgressStateEvent | undefined {
  const { prompt_id, nodes } = data;
  if (typeof prompt_id !== "string" || !isRecord(nodes)) return undefined;
  for (const id in nodes) {
    const node = nodes[id];
    if (!isRecord(node) || typeof node.state !== "string") return undefined;
  }
  return {
    type: "progress_state",
    data: { prompt_id, nodes: nodes as Record<string, { state: string }> },
  };
}

function progressOf(data: Record<string, unknown>): ProgressEvent | undefined {
  const { value, max, prompt_id, node } = data;
  if (typeof value !== "number" || typeof max !== "number") return undefined;
  if (prompt_id !== undefined && typeof prompt_id !== "string") return undefined;
  if (node !== undefined && node !== null && typeof node !== "string") return undefined;
  const step: ProgressEvent["data"] = { value, max };
  if (prompt_id !== undefined) step.prompt_id = prompt_id;
  if (node !== undefined) step.node = node;
  return { type: "progress", data: step };
}
