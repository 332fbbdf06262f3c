import { z } from "zod";

/**
 * ComfyUI's HTTP replies, as far as the agent relies on them. Objects are loose: a newer ComfyUI may
 * add fields, and only what is read here must be there.
 */

export const PromptError = z.looseObject({
  type: z.string(),
  message: z.string(),
  details: z.string().default(""),
  extra_info: z.record(z.string(), z.unknown()).default({}),
});
export type PromptError = z.infer<typeof PromptError>;

export const NodeErrors = z.record(
  z.string(),
  z.looseObject({
    errors: z.array(PromptError),
    dependent_outputs: z.array(z.unknown()).default([]),
    class_type: z.string().optional(),
  }),
);
export type NodeErrors = z.infer<typeof NodeErrors>;

export const PromptAccepted = z.looseObject({
  prompt_id: z.string(),
  number: z.number(),
  node_errors: NodeErrors.default({}),
});

/** The 400 body. Older ComfyUI versions sent `error` as a bare string. */
export const PromptRejected = z.looseObject({
  error: z.union([
    PromptError,
    z.string().transform((message) => ({ type: "error", message, details: "", extra_info: {} })),
  ]),
  node_errors: NodeErrors.default({}),
});

/** One entry of GET /history/{id}: `prompt` is `[number, prompt_id, graph, extra_data, output_ids]`. */
export const HistoryEntry = z.looseObject({
  prompt: z.array(z.unknown()),
  outputs: z.record(z.string(), z.record(z.string(), z.unknown())).default({}),
  status: z
    .looseObject({
      status_str: z.string(),
      completed: z.boolean(),
      messages: z.array(z.tuple([z.string(), z.unknown()])).default([]),
    })
    .optional(),
});
export type HistoryEntry = z.infer<typeof HistoryEntry>;

export const HistoryReply = z.record(z.string(), HistoryEntry);

const QueueItem = z
  .array(z.unknown())
  .check(z.minLength(2))
  .transform((item) => ({ number: Number(item[0]), promptId: String(item[1]) }));

export const QueueReply = z
  .looseObject({ queue_running: z.array(QueueItem), queue_pending: z.array(QueueItem) })
  .transform((queue) => ({ running: queue.queue_running, pending: queue.queue_pending }));
export type QueueState = z.infer<typeof QueueReply>;

export const UploadReply = z.looseObject({
  name: z.string(),
  subfolder: z.string().default(""),
  type: z.string().default("input"),
});
export type UploadedFile = z.infer<typeof UploadReply>;

export const SystemStats = z.looseObject({
  system: z.record(z.string(), z.unknown()),
  devices: z.array(z.unknown()),
});

export const ObjectInfoReply = z.record(z.string(), z.unknown());

/** GET /models (folder names) and GET /models/{folder} (file names, `sub/name` for subfolders). */
export const NameList = z.array(z.string());
