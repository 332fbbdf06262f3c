import { sqliteTable, text } from "drizzle-orm/sqlite-core";
import type { FleetSettings } from "../../lib/fleet-settings";
import { users } from "./auth";

/** A tenant's fleet settings (`PUT /api/config`), as stored; absent means the defaults. */
export const fleetSettings = sqliteTable("fleet_settings", {
  userId: text("user_id")
    .primaryKey()
    .references(() => users.id, { onDelete: "cascade" }),
  settings: text("settings", { mode: "json" }).$type<FleetSettings>().notNull(),
  updatedAt: text("updated_at").notNull(),
});
