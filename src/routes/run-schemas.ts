import { z } from "@hono/zod-openapi";
import { RUN_STATUSES } from "../db/schema";
import type { Bindings } from "../env";
import { checkWebhookUrl } from "../webhooks/urls";

export const RunId = z.string().min(1).max(64);

export const RunOptionsSchema = {
  webhook: z
    .url({ protocol: /^https?$/ })
    .max(2048)
    .optional()
    .openapi({ example: "https://example.com/hooks/runs" }),
  webhook_url: z
    .url({ protocol: /^https?$/ })
    .max(2048)
    .optional()
    .openapi({ description: "Alias of `webhook`" }),
  webhook_intermediate_status: z
    .boolean()
    .optional()
    .openapi({ description: "Also post every non-terminal status change to the webhook" }),
  priority: z.enum(["low", "normal", "high"]).optional().openapi({ example: "normal" }),
  timeout_minutes: z.number().int().min(1).max(1440).optional().openapi({ example: 30 }),
  metadata: z
    .record(z.string(), z.unknown())
    .optional()
    .openapi({ example: { user_tag: "batch_001" } }),
};

/** The run's webhook (`webhook` or its alias `webhook_url`), refused at submit if it is not public. */
export function webhookOption(env: Bindings, body: { webhook?: string; webhook_url?: string }) {
  if (body.webhook) return checkWebhookUrl(env, "webhook", body.webhook);
  if (body.webhook_url) return checkWebhookUrl(env, "webhook_url", body.webhook_url);
  return undefined;
}

export const QueueRunSchema = z
  .object({
    deployment_id: z.string().min(1).max(64).openapi({ example: "9b2e4c1a-7d3f-4e5a-8b6c-1d2e3f4a5b6c" }),
    inputs: z
      .record(z.string(), z.unknown())
      .default({})
      .openapi({ example: { input_text: "a photo of a cat", seed: 42 } }),
    gpu: z
      .string()
      .optional()
      .openapi({ description: "Accepted for compatibility; machines are chosen by pool" }),
    ...RunOptionsSchema,
  })
  .openapi("QueueRunRequest");

export const QueuedSchema = z
  .object({
    run_id: z.string().openapi({ example: "87654321-4321-4321-4321-210987654321" }),
    status: z.enum(RUN_STATUSES).openapi({ example: "not-started" }),
    queue_position: z.number().int().nullable().openapi({ example: 0 }),
  })
  .openapi("QueuedRun");

export const OutputGroupSchema = z
  .object({
    id: z.string(),
    run_id: z.string(),
    node_id: z.string(),
    type: z.string().nullable(),
    data: z.record(z.string(), z.array(z.unknown())).openapi({
      example: {
        images: [{ url: "https://…", type: "output", filename: "invert_00001_.png", subfolder: "" }],
      },
    }),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .catchall(z.unknown())
  .openapi("RunOutputGroup");

const ProgressSchema = z
  .object({
    percentage: z.number(),
    nodes_done: z.number(),
    nodes_total: z.number(),
    current_node: z.string().nullable(),
    step: z.number().nullable(),
    total_steps: z.number().nullable(),
    eta_seconds: z.number().nullable(),
  })
  .catchall(z.unknown())
  .openapi("RunProgress");

export const RunSchema = z
  .object({
    id: z.string().openapi({ example: "87654321-4321-4321-4321-210987654321" }),
    status: z.enum(RUN_STATUSES).openapi({ example: "success" }),
    progress: z.number().openapi({ example: 1, description: "0 to 1" }),
    live_status: z.string().nullable(),
    workflow_id: z.string(),
    workflow_version_id: z.string().nullable(),
    deployment_id: z.string().nullable(),
    workflow_inputs: z.record(z.string(), z.unknown()),
    workflow_outputs: z.record(z.string(), z.array(z.unknown())),
    machine_id: z.string().nullable(),
    origin: z.string(),
    attempt: z.number().int(),
    retried_from: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
    queued_at: z.string().nullable(),
    started_at: z.string().nullable(),
    ended_at: z.string().nullable(),
    duration: z.number().nullable(),
    run_duration: z.number().nullable(),
    number: z.number().int(),
    queue_position: z.number().int().nullable(),
    outputs: z.array(OutputGroupSchema),
    error: z.record(z.string(), z.unknown()).nullable(),
  })
  .catchall(z.unknown())
  .openapi("Run");

export const StatusSchema = z
  .object({
    id: z.string(),
    status: z.enum(RUN_STATUSES),
    started_at: z.string().nullable(),
    ended_at: z.string().nullable(),
    duration: z.number().nullable(),
    outputs: z.array(OutputGroupSchema),
    error: z.string().nullable(),
    progress: z.object({
      current: z.number().openapi({ example: 40 }),
      total: z.number().openapi({ example: 100 }),
      message: z.string().openapi({ example: "KSampler step 8/20" }),
    }),
  })
  .openapi("RunStatus");

export const RunListQuery = z.object({
  status: z
    .string()
    .optional()
    .openapi({ example: "running,queued", description: "One status or a comma-separated list" }),
  deployment_id: z.string().max(64).optional(),
  created_after: z.iso.datetime().optional().openapi({ example: "2026-01-01T00:00:00Z" }),
  created_before: z.iso.datetime().optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  offset: z.coerce.number().int().min(0).max(100_000).default(0),
});

export { ProgressSchema };
