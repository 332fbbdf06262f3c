import { eq, or } from "drizzle-orm";
import type { Db } from "../db/client";
import { users } from "../db/schema";

export type UserRow = typeof users.$inferSelect;

export function findUserById(db: Db, id: string) {
  return db.query.users.findFirst({ where: eq(users.id, id) });
}

export function findUserByLogin(db: Db, login: string) {
  const normalised = login.trim().toLowerCase();
  return db.query.users.findFirst({ where: or(eq(users.email, normalised), eq(users.username, normalised)) });
}

export async function insertUser(db: Db, row: typeof users.$inferInsert): Promise<UserRow> {
  const [created] = await db.insert(users).values(row).onConflictDoNothing().returning();
  return created as UserRow;
}
