import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { createdAt, users } from "./auth";

export const FILE_STATUSES = ["pending", "ready", "expired"] as const;
export type FileStatus = (typeof FILE_STATUSES)[number];

export const FILE_PURPOSES = ["upload", "output", "asset"] as const;
export type FilePurpose = (typeof FILE_PURPOSES)[number];

/** Metadata of an object in R2. The bytes never pass through D1; `size` counts toward the quota. */
export const files = sqliteTable(
  "files",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    r2Key: text("r2_key").notNull().unique(),
    filename: text("filename").notNull(),
    contentType: text("content_type").notNull(),
    /** Declared size while pending (null when the client did not say), actual size once ready. */
    size: integer("size"),
    status: text("status", { enum: FILE_STATUSES }).notNull().default("pending"),
    purpose: text("purpose", { enum: FILE_PURPOSES }).notNull().default("upload"),
    /** Asset library folder, `/` or `/a/b`. */
    folder: text("folder").notNull().default("/"),
    description: text("description"),
    sha256: text("sha256"),
    /** R2 multipart upload id while a large upload is in progress. */
    uploadId: text("upload_id"),
    partSize: integer("part_size"),
    runId: text("run_id"),
    createdAt: createdAt(),
    updatedAt: text("updated_at"),
    /** A pending upload that has not arrived by then expires; ready files keep it null. */
    expiresAt: text("expires_at"),
    confirmedAt: text("confirmed_at"),
  },
  (t) => [
    index("files_user_created_idx").on(t.userId, t.createdAt),
    index("files_user_purpose_folder_idx").on(t.userId, t.purpose, t.folder),
    index("files_status_expires_idx").on(t.status, t.expiresAt),
    index("files_run_idx").on(t.runId),
  ],
);
