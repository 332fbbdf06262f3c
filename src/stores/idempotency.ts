import { and, eq, lt } from "drizzle-orm";
import type { Db } from "../db/client";
import { idempotencyKeys } from "../db/schema";

export type IdempotencyRow = typeof idempotencyKeys.$inferSelect;

export type Claim = { won: true } | { won: false; held: IdempotencyRow | undefined };

/**
 * Claims `key` for this request: inserts a pending record unless a live one exists (one statement, so
 * two concurrent requests cannot both win). An expired record is taken over.
 */
export async function claimIdempotencyKey(
  db: Db,
  claim: { userId: string; key: string; requestHash: string; now: string; expiresAt: string },
): Promise<Claim> {
  await db
    .delete(idempotencyKeys)
    .where(
      and(
        eq(idempotencyKeys.userId, claim.userId),
        eq(idempotencyKeys.key, claim.key),
        lt(idempotencyKeys.expiresAt, claim.now),
      ),
    );
  const won = await db
    .insert(idempotencyKeys)
    .values({
      userId: claim.userId,
      key: claim.key,
      requestHash: claim.requestHash,
      expiresAt: claim.expiresAt,
    })
    .onConflictDoNothing()
    .returning({ key: idempotencyKeys.key });
  if (won.length > 0) return { won: true };
  const held = await db.query.idempotencyKeys.findFirst({
    where: and(eq(idempotencyKeys.userId, claim.userId), eq(idempotencyKeys.key, claim.key)),
  });
  return { won: false, held };
}

export async function completeIdempotencyKey(
  db: Db,
  userId: string,
  key: string,
  response: { status: number; body: string; contentType: string | null },
) {
  await db
    .update(idempotencyKeys)
    .set({
      state: "done",
      responseStatus: response.status,
      responseBody: response.body,
      responseContentType: response.contentType,
    })
    .where(and(eq(idempotencyKeys.userId, userId), eq(idempotencyKeys.key, key)));
}

/** Frees a key whose first request failed on our side, so the client's retry runs again. */
export async function releaseIdempotencyKey(db: Db, userId: string, key: string) {
  await db
    .delete(idempotencyKeys)
    .where(and(eq(idempotencyKeys.userId, userId), eq(idempotencyKeys.key, key)));
}

export async function deleteExpiredIdempotencyKeys(db: Db, now: string) {
  await db.delete(idempotencyKeys).where(lt(idempotencyKeys.expiresAt, now));
}
