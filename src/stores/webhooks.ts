import { and, desc, eq, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import {
  type DeliveryStatus,
  webhookAttempts,
  webhookDeliveries,
  webhookEndpoints,
  webhookSecrets,
} from "../db/schema";
import { nowIso } from "../lib/ids";

export type EndpointRow = typeof webhookEndpoints.$inferSelect;
export type DeliveryRow = typeof webhookDeliveries.$inferSelect;
export type AttemptRow = typeof webhookAttempts.$inferSelect;
export type SecretRow = typeof webhookSecrets.$inferSelect;

// ---- secrets ----

export const findSecret = (db: Db, userId: string) =>
  db.query.webhookSecrets.findFirst({ where: eq(webhookSecrets.userId, userId) });

/** Stores `secret` unless the tenant has one; returns whether it was stored. */
export async function insertSecretIfAbsent(db: Db, userId: string, secret: string): Promise<boolean> {
  const rows = await db
    .insert(webhookSecrets)
    .values({ userId, secret })
    .onConflictDoNothing()
    .returning({ userId: webhookSecrets.userId });
  return rows.length > 0;
}

/** Replaces the secret; the old one stays valid (signs too) until `previousExpiresAt`. */
export async function rotateSecret(db: Db, userId: string, secret: string, previousExpiresAt: string) {
  await db
    .insert(webhookSecrets)
    .values({ userId, secret })
    .onConflictDoUpdate({
      target: webhookSecrets.userId,
      set: {
        previousSecret: sql`${webhookSecrets.secret}`,
        previousExpiresAt,
        secret,
        rotatedAt: nowIso(),
      },
    });
}

// ---- endpoints ----

export async function insertEndpoint(
  db: Db,
  row: typeof webhookEndpoints.$inferInsert,
): Promise<EndpointRow> {
  const [created] = await db.insert(webhookEndpoints).values(row).returning();
  return created as EndpointRow;
}

export const findEndpoint = (db: Db, userId: string, id: string) =>
  db.query.webhookEndpoints.findFirst({
    where: and(eq(webhookEndpoints.id, id), eq(webhookEndpoints.userId, userId)),
  });

export const listEndpoints = (db: Db, userId: string) =>
  db
    .select()
    .from(webhookEndpoints)
    .where(eq(webhookEndpoints.userId, userId))
    .orderBy(desc(webhookEndpoints.createdAt))
    .all();

export const listEnabledEndpoints = (db: Db, userId: string) =>
  db
    .select()
    .from(webhookEndpoints)
    .where(and(eq(webhookEndpoints.userId, userId), eq(webhookEndpoints.enabled, true)))
    .all();

export async function updateEndpoint(
  db: Db,
  userId: string,
  id: string,
  fields: Partial<Pick<EndpointRow, "url" | "events" | "description" | "enabled">>,
) {
  const [row] = await db
    .update(webhookEndpoints)
    .set({ ...fields, updatedAt: nowIso() })
    .where(and(eq(webhookEndpoints.id, id), eq(webhookEndpoints.userId, userId)))
    .returning();
  return row;
}

export async function deleteEndpoint(db: Db, userId: string, id: string) {
  const rows = await db
    .delete(webhookEndpoints)
    .where(and(eq(webhookEndpoints.id, id), eq(webhookEndpoints.userId, userId)))
    .returning({ id: webhookEndpoints.id });
  return rows.length > 0;
}

// ---- deliveries ----

export async function insertDeliveries(db: Db, rows: (typeof webhookDeliveries.$inferInsert)[]) {
  if (rows.length > 0) await db.insert(webhookDeliveries).values(rows);
}

export const findDelivery = (db: Db, id: string) =>
  db.query.webhookDeliveries.findFirst({ where: eq(webhookDeliveries.id, id) });

export const findOwnDelivery = (db: Db, userId: string, id: string) =>
  db.query.webhookDeliveries.findFirst({
    where: and(eq(webhookDeliveries.id, id), eq(webhookDeliveries.userId, userId)),
  });

export function listDeliveries(
  db: Db,
  userId: string,
  by: { endpointId?: string; runId?: string },
  page: { limit: number; offset: number },
) {
  const conditions = [eq(webhookDeliveries.userId, userId)];
  if (by.endpointId) conditions.push(eq(webhookDeliveries.endpointId, by.endpointId));
  if (by.runId) conditions.push(eq(webhookDeliveries.runId, by.runId));
  return db
    .select()
    .from(webhookDeliveries)
    .where(and(...conditions))
    .orderBy(desc(webhookDeliveries.createdAt), desc(webhookDeliveries.id))
    .limit(page.limit)
    .offset(page.offset)
    .all();
}

export const listAttempts = (db: Db, deliveryIds: string[]) =>
  deliveryIds.length === 0
    ? Promise.resolve([] as AttemptRow[])
    : db.query.webhookAttempts.findMany({
        where: (t, { inArray }) => inArray(t.deliveryId, deliveryIds),
        orderBy: (t, { asc }) => [asc(t.attempt)],
      });

/** Records one attempt and the delivery's resulting state in one batch. */
export async function recordAttempt(
  db: Db,
  attempt: typeof webhookAttempts.$inferInsert,
  state: { status: DeliveryStatus; nextRetryAt: string | null },
) {
  await db.batch([
    db.insert(webhookAttempts).values(attempt),
    db
      .update(webhookDeliveries)
      .set({
        status: state.status,
        attempts: attempt.attempt,
        lastStatusCode: attempt.statusCode ?? null,
        nextRetryAt: state.nextRetryAt,
        updatedAt: nowIso(),
      })
      .where(eq(webhookDeliveries.id, attempt.deliveryId)),
  ]);
}

export async function markRedelivering(db: Db, id: string) {
  await db
    .update(webhookDeliveries)
    .set({ status: "pending", nextRetryAt: null, updatedAt: nowIso() })
    .where(eq(webhookDeliveries.id, id));
}
