import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { machines } from "./runs";

/** The hash of the model inventory each ComfyUI instance of a machine reported last. */
export const machineModelSets = sqliteTable(
  "machine_model_sets",
  {
    machineId: text("machine_id")
      .notNull()
      .references(() => machines.id, { onDelete: "cascade" }),
    instanceId: text("instance_id").notNull(),
    hash: text("hash").notNull(),
    reportedAt: text("reported_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.machineId, t.instanceId] })],
);

/** One model file of one ComfyUI instance; size, mtime (ms) and SHA-256 when its agent knows them. */
export const machineModels = sqliteTable(
  "machine_models",
  {
    machineId: text("machine_id")
      .notNull()
      .references(() => machines.id, { onDelete: "cascade" }),
    instanceId: text("instance_id").notNull(),
    folder: text("folder").notNull(),
    name: text("name").notNull(),
    sizeBytes: integer("size_bytes"),
    modifiedAt: integer("modified_at"),
    sha256: text("sha256"),
  },
  (t) => [
    primaryKey({ columns: [t.machineId, t.instanceId, t.folder, t.name] }),
    index("machine_models_name_idx").on(t.name),
  ],
);
