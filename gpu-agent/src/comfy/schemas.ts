import * as z from "zod/mini";

/**
 * ComfyUI's HTTP replies, as far as the agent relies on them. Objects are loose: a newer ComfyUI may
 * add fields, and only what is read here must be there.
 */

export const PromptError = z.looseObject({
  type: z.string(),
  message: z.string(),
  details: z._default(z.string(), ""),
  extra_info: z._default(z.record(z.string(), z.unknown()), {}),
});
export type PromptError = z.infer<typeof PromptError>;

export const NodeErrors = z.record(
  z.string(),
  z.looseObject({
    errors: z.array(PromptError),
    dependent_outputs: z._default(z.array(z.unknown()), []),
    class_type: z.optional(z.string()),
  }),
);
export type NodeErrors = z.infer<typeof NodeErrors>;

export const PromptAccepted = z.looseObject({
  prompt_id: z.string(),
  number: z.number(),
  node_errors: z._default(NodeErrors, {}),
});

/** The 400 body. Older ComfyUI versions sent `error` as a bare string. */
export const PromptRejected = z.looseObject({
  error: z.union([
    PromptError,
    z.pipe(
      z.string(),
      z.transform((message) => ({ type: "error", message, details: "", extra_info: {} })),
    ),
  ]),
  node_errors: z._default(NodeErrors, {}),
});

/** One entry of GET /history/{id}: `prompt` is `[number, prompt_id, graph, extra_data, output_ids]`. */
export const HistoryEntry = z.looseObject({
  prompt: z.array(z.unknown()),
  outputs: z._default(z.record(z.string(), z.record(z.string(), z.unknown())), {}),
  status: z.optional(
    z.looseObject({
      status_str: z.string(),
      completed: z.boolean(),
      messages: z._default(z.array(z.tuple([z.string(), z.unknown()])), []),
    }),
  ),
});
export type HistoryEntry = z.infer<typeof HistoryEntry>;

export const HistoryReply = z.record(z.string(), HistoryEntry);

const QueueItem = z.pipe(
  z.array(z.unknown()).check(z.minLength(2)),
  z.transform((item: unknown[]) => ({ number: Number(item[0]), promptId: String(item[1]) })),
);

export const QueueReply = z.pipe(
  z.looseObject({ queue_running: z.array(QueueItem), queue_pending: z.array(QueueItem) }),
  z.transform((queue) => ({ running: queue.queue_running, pending: queue.queue_pending })),
);
export type QueueState = z.infer<typeof QueueReply>;

export const UploadReply = z.looseObject({
  name: z.string(),
  subfolder: z._default(z.string(), ""),
  type: z._default(z.string(), "input"),
});
export type UploadedFile = z.infer<typeof UploadReply>;

export const SystemStats = z.looseObject({
  system: z.record(z.string(), z.unknown()),
  devices: z.array(z.unknown()),
});

export const ObjectInfoReply = z.record(z.string(), z.unknown());

/** GET /models (folder names) and GET /models/{folder} (file names, `sub/name` for subfolders). */
export const NameList = z.array(z.string());
