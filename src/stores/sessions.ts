import { and, eq, isNull } from "drizzle-orm";
import type { Db } from "../db/client";
import { refreshTokens, sessions } from "../db/schema";
import { nowIso } from "../lib/ids";

export async function createSession(
  db: Db,
  session: { id: string; userId: string },
  token: { id: string; tokenHash: string; expiresAt: string },
) {
  await db.batch([
    db.insert(sessions).values(session),
    db.insert(refreshTokens).values({ ...token, sessionId: session.id }),
  ]);
}

export async function findActiveSession(db: Db, id: string) {
  return db.query.sessions.findFirst({ where: and(eq(sessions.id, id), isNull(sessions.revokedAt)) });
}

export function findRefreshToken(db: Db, tokenHash: string) {
  return db
    .select({ token: refreshTokens, session: sessions })
    .from(refreshTokens)
    .innerJoin(sessions, eq(refreshTokens.sessionId, sessions.id))
    .where(eq(refreshTokens.tokenHash, tokenHash))
    .get();
}

/**
 * Marks the old token used and adds its successor in one batch; the `used_at IS NULL` guard makes two
 * concurrent refreshes with the same token produce one winner.
 */
export async function rotateRefreshToken(
  db: Db,
  oldId: string,
  next: { id: string; sessionId: string; tokenHash: string; expiresAt: string },
): Promise<boolean> {
  const [used] = await db.batch([
    db
      .update(refreshTokens)
      .set({ usedAt: nowIso() })
      .where(and(eq(refreshTokens.id, oldId), isNull(refreshTokens.usedAt)))
      .returning({ id: refreshTokens.id }),
  ]);
  if (used.length === 0) return false;
  await db.insert(refreshTokens).values(next);
  return true;
}

export async function revokeSession(db: Db, id: string) {
  await db
    .update(sessions)
    .set({ revokedAt: nowIso() })
    .where(and(eq(sessions.id, id), isNull(sessions.revokedAt)));
}
