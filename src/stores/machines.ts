import { and, desc, eq, isNull } from "drizzle-orm";
import type { Db } from "../db/client";
import { machines } from "../db/schema";
import { nowIso } from "../lib/ids";

export type MachineRow = typeof machines.$inferSelect;

export async function insertMachine(db: Db, row: typeof machines.$inferInsert): Promise<MachineRow> {
  const [created] = await db.insert(machines).values(row).returning();
  return created as MachineRow;
}

export function findMachine(db: Db, userId: string, id: string) {
  return db.query.machines.findFirst({
    where: and(eq(machines.id, id), eq(machines.userId, userId), isNull(machines.deletedAt)),
  });
}

export function listMachines(db: Db, userId: string) {
  return db
    .select()
    .from(machines)
    .where(and(eq(machines.userId, userId), isNull(machines.deletedAt)))
    .orderBy(desc(machines.createdAt))
    .all();
}

export function findMachineByTokenHash(db: Db, tokenHash: string) {
  return db.query.machines.findFirst({
    where: and(eq(machines.tokenHash, tokenHash), isNull(machines.deletedAt)),
  });
}

/** Soft-deletes and revokes the token in one write; false when not the user's or already gone. */
export async function deleteMachine(db: Db, userId: string, id: string): Promise<MachineRow | undefined> {
  const [row] = await db
    .update(machines)
    .set({ deletedAt: nowIso(), status: "offline", tokenHash: `revoked:${id}` })
    .where(and(eq(machines.id, id), eq(machines.userId, userId), isNull(machines.deletedAt)))
    .returning();
  return row;
}

export async function recordMachineState(
  db: Db,
  id: string,
  state: { status: MachineRow["status"]; info?: Record<string, unknown> },
) {
  await db
    .update(machines)
    .set({ ...state, lastSeenAt: nowIso() })
    .where(and(eq(machines.id, id), isNull(machines.deletedAt)));
}

/** The D1 mirror of a machine's enabled flags (the Dispatcher holds the ones that route). */
export async function setMachineFlags(
  db: Db,
  userId: string,
  id: string,
  flags: { enabled?: boolean; disabledInstances?: string[] },
) {
  await db
    .update(machines)
    .set(flags)
    .where(and(eq(machines.id, id), eq(machines.userId, userId), isNull(machines.deletedAt)));
}
