import { z } from "@hono/zod-openapi";
import { RUN_STATUSES } from "../../db/schema";
import type { Bindings } from "../../env";
import type { RunOptions } from "../../services/runs";
import { checkWebhookUrl } from "../../webhooks/urls";

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

/**
 * The run options of a request body, the same for every route that creates a run. `webhook` is
 * ComfyDeploy's (canonical) name and wins when both it and seed 004's `webhook_url` are given; a
 * webhook that is not a public URL is refused at submit.
 */
export function runOptions(
  env: Bindings,
  body: {
    webhook?: string;
    webhook_url?: string;
    webhook_intermediate_status?: boolean;
    priority?: "low" | "normal" | "high";
    timeout_minutes?: number;
    metadata?: Record<string, unknown>;
  },
): RunOptions {
  return {
    priority: body.priority,
    webhook: webhookOption(env, body),
    webhookIntermediateStatus: body.webhook_intermediate_status,
    timeoutMinutes: body.timeout_minutes,
    metadata: body.metadata,
  };
}

function webhookOption(env: Bindings, body: { webhook?: string; webhook_url?: string }) {
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
    gpu: z.string().trim().min(1).max(64).optional().openapi({
      example: "A100",
      description:
        "Run only on a machine reporting a GPU whose name contains this (case-insensitive: A100, H100, T4, RTX 4090); a 400 when no machine of the pool ever has",
    }),
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

const OUTPUT_KINDS = ["images", "gifs", "videos", "audio", "text", "files"] as const;

/** One output file as a client reads it; text outputs are plain strings instead. */
const OutputItemSchema = z.union([
  z
    .object({
      url: z.string().openapi({ example: "https://api.example.com/api/files/…/content?expires=…&sig=…" }),
      type: z.string().openapi({ example: "output" }),
      filename: z.string().openapi({ example: "invert_00001_.png" }),
      subfolder: z.string(),
      is_public: z.boolean(),
      upload_duration: z.number(),
      content_type: z.string().openapi({ example: "image/png" }),
      size: z.number().int(),
      file_id: z.string().nullable(),
    })
    .openapi("RunOutputFile"),
  z.string(),
]);

const OutputsByKind = z
  .object(Object.fromEntries(OUTPUT_KINDS.map((kind) => [kind, z.array(OutputItemSchema).optional()])))
  .openapi({ description: "Outputs grouped by kind: images, gifs, videos, audio, text, files" });

export const OutputGroupSchema = z
  .object({
    id: z.string(),
    run_id: z.string(),
    node_id: z.string(),
    type: z.enum(OUTPUT_KINDS).nullable(),
    node_meta: z.null(),
    data: OutputsByKind,
    ...Object.fromEntries(OUTPUT_KINDS.map((kind) => [kind, z.array(OutputItemSchema).optional()])),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi("RunOutputGroup");

export const RunWarningsSchema = z
  .array(z.object({ code: z.string(), message: z.string() }).openapi("RunWarning"))
  .openapi({
    description:
      "What the client should know about an accepted run: `no_machine_online` (it waits for a machine), `node_classes_unchecked` (no machine of the pool has reported node definitions)",
  });

export const RunSchema = z
  .object({
    id: z.string().openapi({ example: "87654321-4321-4321-4321-210987654321" }),
    run_id: z.string().openapi({ description: "Same as `id`" }),
    status: z.enum(RUN_STATUSES).openapi({ example: "success" }),
    live_status: z.string().nullable().openapi({ description: "The node type running now" }),
    progress: z.number().openapi({ example: 1, description: "0 to 1" }),
    workflow_id: z.string(),
    workflow_version_id: z.string().nullable(),
    deployment_id: z.string().nullable(),
    workflow_inputs: z.record(z.string(), z.unknown()),
    workflow_outputs: OutputsByKind,
    workflow_api: z.record(z.string(), z.unknown()).openapi({ description: "The API-format graph that ran" }),
    machine_id: z.string().nullable(),
    origin: z.enum(["api", "execution"]),
    priority: z.number().int().openapi({ description: "0 low, 1 normal, 2 high" }),
    attempt: z.number().int(),
    retried_from: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
    queued_at: z.string().nullable(),
    started_at: z.string().nullable(),
    ended_at: z.string().nullable(),
    duration: z.number().nullable(),
    run_duration: z.number().nullable(),
    cold_start_duration: z.number().nullable(),
    cold_start_duration_total: z.number().nullable(),
    number: z.number().int(),
    queue_position: z.number().int().nullable(),
    gpu_event_id: z.null(),
    gpu: z.string().nullable().openapi({ description: "The run's GPU requirement" }),
    machine_version: z.null(),
    machine_type: z.literal("custom").nullable(),
    modal_function_call_id: z.null(),
    user_id: z.string(),
    org_id: z.null(),
    is_realtime: z.boolean(),
    webhook: z.string().nullable(),
    webhook_status: z.null(),
    webhook_intermediate_status: z.boolean(),
    metadata: z.record(z.string(), z.unknown()).nullable(),
    outputs: z.array(OutputGroupSchema),
    error: z.object({ code: z.string(), message: z.string() }).loose().nullable(),
    warnings: RunWarningsSchema,
  })
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
