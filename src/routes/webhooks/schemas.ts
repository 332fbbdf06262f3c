import { z } from "@hono/zod-openapi";
import { DELIVERY_STATUSES } from "../../db/schema";
import { EVENT_TYPES } from "../../webhooks/events";

export const EventFilter = z
  .array(z.enum(["*", ...EVENT_TYPES]))
  .min(1)
  .max(EVENT_TYPES.length + 1)
  .openapi({ example: ["run.success", "run.failed", "machine.offline"], description: '"*" for every event' });

export const EndpointInputSchema = z
  .object({
    url: z.string().max(2048).openapi({ example: "https://example.com/hooks/comfy-edge" }),
    events: EventFilter.default(["*"]),
    description: z.string().max(500).nullable().optional(),
    enabled: z.boolean().optional(),
  })
  .openapi("WebhookEndpointInput");

export const EndpointPatchSchema = z
  .object({
    url: z.string().max(2048).optional(),
    events: EventFilter.optional(),
    description: z.string().max(500).nullable().optional(),
    enabled: z.boolean().optional(),
  })
  .openapi("WebhookEndpointPatch");

export const EndpointSchema = z
  .object({
    id: z.string(),
    url: z.string(),
    events: z.array(z.string()),
    description: z.string().nullable(),
    enabled: z.boolean(),
    created_at: z.string(),
    updated_at: z.string().nullable(),
  })
  .openapi("WebhookEndpoint");

export const CreatedEndpointSchema = EndpointSchema.extend({
  secret: z.string().nullable().openapi({
    example: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    description:
      "The tenant's signing secret, shown once when this call created it; null when it already existed (rotate to see a new one)",
  }),
}).openapi("CreatedWebhookEndpoint");

export const SecretSchema = z
  .object({
    secret: z.string().openapi({ example: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" }),
    previous_valid_until: z
      .string()
      .openapi({ description: "Until then messages carry a signature with the previous secret too" }),
  })
  .openapi("WebhookSecret");

export const DeliverySchema = z
  .object({
    id: z.string().openapi({ description: "The `webhook-id` every attempt of this event carries" }),
    endpoint_id: z.string().nullable().openapi({ description: "null for a run's own webhook URL" }),
    run_id: z.string().nullable(),
    event: z.string().openapi({ example: "run.success" }),
    url: z.string(),
    status: z.enum(DELIVERY_STATUSES),
    attempts: z.number().int(),
    last_status_code: z.number().int().nullable(),
    next_retry_at: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string().nullable(),
    attempt_log: z.array(
      z.object({
        attempt: z.number().int(),
        status_code: z.number().int().nullable(),
        latency_ms: z.number().int(),
        response_excerpt: z.string().nullable().openapi({ description: "The first 1 KiB of the response" }),
        error: z.string().nullable(),
        next_retry_at: z.string().nullable(),
        at: z.string(),
      }),
    ),
  })
  .openapi("WebhookDelivery");

export const PageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(50),
  offset: z.coerce.number().int().min(0).max(100_000).default(0),
});

/** A seed 004 run's own webhook body. */
export const ExecutionEventSchema = z
  .object({
    event: z.string().openapi({ example: "workflow.completed" }),
    execution_id: z.string(),
    status: z.enum(["pending", "running", "completed", "failed", "cancelled"]),
    timestamp: z.string(),
    workflow_result: z.object({
      execution_id: z.string(),
      status: z.string(),
      raw_status: z.string(),
      outputs: z.record(z.string(), z.array(z.unknown())),
      duration_seconds: z.number().nullable(),
      error: z.string().nullable(),
    }),
  })
  .openapi("WebhookExecutionEvent");

/** What a tenant endpoint receives (Standard Webhooks envelope). */
export const EndpointEventSchema = z
  .object({
    type: z.enum(EVENT_TYPES).openapi({ example: "run.success" }),
    timestamp: z.string(),
    data: z.record(z.string(), z.unknown()).openapi({
      description: "A run in its dialect's webhook body, or `{machine_id, status}` for machine events",
    }),
  })
  .openapi("WebhookEndpointEvent");
