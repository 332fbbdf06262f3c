import type { Db } from "../db/client";
import type { Bindings } from "../env";
import { base64url, randomBytes } from "../lib/crypto";
import { nowIso } from "../lib/ids";
import { TtlCache } from "../lib/ttl-cache";
import type { RunRow } from "../stores/runs";
import {
  type DeliveryRow,
  type EndpointRow,
  insertDeliveries,
  listEnabledEndpoints,
} from "../stores/webhooks";
import { type EventType, envelope, runEventType, runWebhookBody, runWebhookWants } from "./events";

/** What the delivery queue carries: the delivery's id; everything else is read from D1. */
export type DeliveryMessage = { delivery_id: string };

export const newMessageId = () => `msg_${base64url(randomBytes(16))}`;

type Target = Pick<DeliveryRow, "endpointId" | "url" | "event"> & { body: unknown };

/** Records one delivery per target, then queues them; the row exists before any attempt can run. */
export async function queueDeliveries(
  env: Bindings,
  db: Db,
  owner: { userId: string; runId?: string },
  targets: Target[],
) {
  if (targets.length === 0) return;
  const rows = targets.map((t) => ({
    id: newMessageId(),
    userId: owner.userId,
    runId: owner.runId ?? null,
    endpointId: t.endpointId,
    event: t.event,
    url: t.url,
    payload: JSON.stringify(t.body),
  }));
  await insertDeliveries(db, rows);
  await env.WEBHOOKS.sendBatch(rows.map((r) => ({ body: { delivery_id: r.id } satisfies DeliveryMessage })));
}

/**
 * Each tenant's enabled endpoints, read once per isolate every `ENDPOINTS_STALE_MS` instead of once per
 * event. The bound (docs/webhooks.md): an endpoint created, changed or deleted in another isolate is
 * heard of within 5 s; in this isolate at once (`forgetTenantEndpoints`).
 */
const endpointsByTenant = new TtlCache<EndpointRow[]>(5_000, 1_000);

export const forgetTenantEndpoints = (userId: string) => endpointsByTenant.delete(userId);

const enabledEndpoints = async (db: Db, userId: string) =>
  (await endpointsByTenant.getOrLoad(userId, () => listEnabledEndpoints(db, userId))) ?? [];

async function endpointTargets(db: Db, userId: string, type: EventType, at: string, data: unknown) {
  const endpoints = await enabledEndpoints(db, userId);
  return endpoints
    .filter((e) => e.events.includes("*") || e.events.includes(type))
    .map((e) => ({ endpointId: e.id, url: e.url, event: type, body: envelope(type, at, data) }));
}

/**
 * Webhooks for a run's new status (`row` as just written to D1): its own URL in its dialect, and
 * every tenant endpoint subscribed to `run.<status>`. Never throws: a webhook must not undo a status
 * change, and delivery is retried from the queue.
 */
export async function enqueueRunWebhooks(env: Bindings, db: Db, row: RunRow): Promise<void> {
  try {
    const at = nowIso();
    const targets: Target[] = [];
    if (row.webhookUrl && runWebhookWants(row)) {
      const { event, body } = runWebhookBody(row, at);
      targets.push({ endpointId: null, url: row.webhookUrl, event, body });
    }
    const type = runEventType(row.status);
    targets.push(...(await endpointTargets(db, row.userId, type, at, runWebhookBody(row, at).body)));
    await queueDeliveries(env, db, { userId: row.userId, runId: row.id }, targets);
  } catch (err) {
    console.error(JSON.stringify({ webhook_enqueue_failed: row.id, error: String(err) }));
  }
}

/** `machine.online` / `machine.offline` for the tenant's subscribed endpoints. Never throws. */
export async function enqueueMachineWebhooks(
  env: Bindings,
  db: Db,
  machine: { userId: string; machineId: string; status: "online" | "offline" },
): Promise<void> {
  try {
    const type: EventType = `machine.${machine.status}`;
    const data = { machine_id: machine.machineId, status: machine.status };
    const targets = await endpointTargets(db, machine.userId, type, nowIso(), data);
    await queueDeliveries(env, db, { userId: machine.userId }, targets);
  } catch (err) {
    console.error(JSON.stringify({ webhook_enqueue_failed: machine.machineId, error: String(err) }));
  }
}
