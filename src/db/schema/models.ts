import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { createdAt, users } from "./auth";
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

export const MODEL_DOWNLOAD_STATUSES = ["pending", "downloading", "completed", "failed"] as const;
export type ModelDownloadStatus = (typeof MODEL_DOWNLOAD_STATUSES)[number];

/** A model file to download onto one machine; its agent reports progress and the end. */
export const modelDownloads = sqliteTable(
  "model_downloads",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    machineId: text("machine_id")
      .notNull()
      .references(() => machines.id, { onDelete: "cascade" }),
    folder: text("folder").notNull(),
    name: text("name").notNull(),
    description: text("description"),
    /** The URL as given (it may carry a token in its query: never shown back whole). */
    sourceUrl: text("source_url"),
    sourceFileId: text("source_file_id"),
    expectedSha256: text("expected_sha256"),
    status: text("status", { enum: MODEL_DOWNLOAD_STATUSES }).notNull().default("pending"),
    bytesDone: integer("bytes_done").notNull().default(0),
    bytesTotal: integer("bytes_total"),
    sha256: text("sha256"),
    error: text("error"),
    createdAt: createdAt(),
    updatedAt: text("updated_at").notNull(),
    finishedAt: text("finished_at"),
  },
  (t) => [
    index("model_downloads_user_name_idx").on(t.userId, t.name),
    index("model_downloads_machine_status_idx").on(t.machineId, t.status),
  ],
);
