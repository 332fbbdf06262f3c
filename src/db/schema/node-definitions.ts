import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { createdAt } from "./auth";
import { machines } from "./runs";

/** A set of ComfyUI node definitions (`GET /object_info`), once per content hash; the JSON is in R2. */
export const nodeDefinitions = sqliteTable("node_definitions", {
  hash: text("hash").primaryKey(),
  classCount: integer("class_count").notNull(),
  byteSize: integer("byte_size").notNull(),
  createdAt: createdAt(),
});

/** The definitions each ComfyUI instance of a machine reports now. */
export const machineNodeDefinitions = sqliteTable(
  "machine_node_definitions",
  {
    machineId: text("machine_id")
      .notNull()
      .references(() => machines.id, { onDelete: "cascade" }),
    instanceId: text("instance_id").notNull(),
    hash: text("hash")
      .notNull()
      .references(() => nodeDefinitions.hash),
    reportedAt: text("reported_at").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.machineId, t.instanceId] }),
    index("machine_node_definitions_hash_idx").on(t.hash),
  ],
);
