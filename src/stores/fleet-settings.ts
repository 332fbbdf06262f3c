import { eq } from "drizzle-orm";
import type { Db } from "../db/client";
import { fleetSettings } from "../db/schema";
import type { FleetSettings } from "../lib/fleet-settings";
import { nowIso } from "../lib/ids";

export function findFleetSettings(db: Db, userId: string) {
  return db.query.fleetSettings.findFirst({ where: eq(fleetSettings.userId, userId) });
}

export async function saveFleetSettings(db: Db, userId: string, settings: FleetSettings) {
  const updatedAt = nowIso();
  await db
    .insert(fleetSettings)
    .values({ userId, settings, updatedAt })
    .onConflictDoUpdate({ target: fleetSettings.userId, set: { settings, updatedAt } });
  return updatedAt;
}
