import type { Db } from "../db/client";
import type { Bindings } from "../env";
import { notFound } from "../lib/errors";
import { newId } from "../lib/ids";
import {
  type AttemptRow,
  type DeliveryRow,
  deleteEndpoint,
  type EndpointRow,
  findEndpoint,
  findOwnDelivery,
  insertEndpoint,
  listAttempts,
  listDeliveries,
  listEndpoints,
  markRedelivering,
  updateEndpoint,
} from "../stores/webhooks";
import { type DeliveryMessage, forgetTenantEndpoints } from "./enqueue";
import { createSecretIfAbsent } from "./secrets";
import { checkWebhookUrl } from "./urls";

type Ctx = { env: Bindings; db: Db; userId: string };
export type EndpointInput = { url: string; events: string[]; description?: string | null; enabled?: boolean };

export const endpointView = (e: EndpointRow) => ({
  id: e.id,
  url: e.url,
  events: e.events,
  description: e.description,
  enabled: e.enabled,
  created_at: e.createdAt,
  updated_at: e.updatedAt,
});

/** A new endpoint; the tenant's signing secret comes back once, when this call created it. */
export async function createEndpoint(ctx: Ctx, input: EndpointInput) {
  checkWebhookUrl(ctx.env, "url", input.url);
  const endpoint = await insertEndpoint(ctx.db, {
    id: newId(),
    userId: ctx.userId,
    url: input.url,
    events: [...new Set(input.events)],
    description: input.description ?? null,
    enabled: input.enabled ?? true,
  });
  forgetTenantEndpoints(ctx.userId);
  return { ...endpointView(endpoint), secret: await createSecretIfAbsent(ctx.db, ctx.userId) };
}

export async function getEndpoint(ctx: Ctx, id: string) {
  const endpoint = await findEndpoint(ctx.db, ctx.userId, id);
  if (!endpoint) throw notFound("Webhook endpoint");
  return endpoint;
}

export const listTenantEndpoints = async (ctx: Ctx) =>
  (await listEndpoints(ctx.db, ctx.userId)).map(endpointView);

export async function changeEndpoint(ctx: Ctx, id: string, input: Partial<EndpointInput>) {
  if (input.url !== undefined) checkWebhookUrl(ctx.env, "url", input.url);
  const events = input.events ? [...new Set(input.events)] : undefined;
  const row = await updateEndpoint(ctx.db, ctx.userId, id, { ...input, events });
  if (!row) throw notFound("Webhook endpoint");
  forgetTenantEndpoints(ctx.userId);
  return endpointView(row);
}

export async function removeEndpoint(ctx: Ctx, id: string) {
  if (!(await deleteEndpoint(ctx.db, ctx.userId, id))) throw notFound("Webhook endpoint");
  forgetTenantEndpoints(ctx.userId);
}

const attemptView = (a: AttemptRow) => ({
  attempt: a.attempt,
  status_code: a.statusCode,
  latency_ms: a.latencyMs,
  response_excerpt: a.responseExcerpt,
  error: a.error,
  next_retry_at: a.nextRetryAt,
  at: a.at,
});

const deliveryView = (d: DeliveryRow, attempts: AttemptRow[]) => ({
  id: d.id,
  endpoint_id: d.endpointId,
  run_id: d.runId,
  event: d.event,
  url: d.url,
  status: d.status,
  attempts: d.attempts,
  last_status_code: d.lastStatusCode,
  next_retry_at: d.nextRetryAt,
  created_at: d.createdAt,
  updated_at: d.updatedAt,
  attempt_log: attempts.filter((a) => a.deliveryId === d.id).map(attemptView),
});

/** The delivery log of one endpoint or one run, newest first, each with its attempts. */
export async function deliveryLog(
  ctx: Ctx,
  by: { endpointId?: string; runId?: string },
  page: { limit: number; offset: number },
) {
  const rows = await listDeliveries(ctx.db, ctx.userId, by, page);
  const attempts = await listAttempts(
    ctx.db,
    rows.map((r) => r.id),
  );
  return rows.map((r) => deliveryView(r, attempts));
}

/** Sends one delivery again, with the same `webhook-id` and body and a fresh retry budget. */
export async function redeliver(ctx: Ctx, deliveryId: string) {
  const delivery = await findOwnDelivery(ctx.db, ctx.userId, deliveryId);
  if (!delivery) throw notFound("Webhook delivery");
  await markRedelivering(ctx.db, delivery.id);
  await ctx.env.WEBHOOKS.send({ delivery_id: delivery.id } satisfies DeliveryMessage);
  return deliveryView({ ...delivery, status: "pending", nextRetryAt: null }, []);
}
