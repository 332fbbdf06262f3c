import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import type { ExplicitBinding } from "../../lib/graph/inputs";
import type { ApiGraph, InputBinding } from "../../protocol/graph";
import { createdAt, users } from "./auth";

/** A workflow is a name over a list of immutable versions; `currentVersion` is the newest. */
export const workflows = sqliteTable(
  "workflows",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    description: text("description"),
    currentVersion: integer("current_version").notNull().default(1),
    createdAt: createdAt(),
    updatedAt: text("updated_at").notNull(),
    /** Soft delete: runs and deployments keep pointing at the versions. */
    deletedAt: text("deleted_at"),
  },
  (t) => [index("workflows_user_created_idx").on(t.userId, t.createdAt)],
);

/** Never updated: a change to the graph inserts version N+1. */
export const workflowVersions = sqliteTable(
  "workflow_versions",
  {
    id: text("id").primaryKey(),
    workflowId: text("workflow_id")
      .notNull()
      .references(() => workflows.id, { onDelete: "cascade" }),
    userId: text("user_id").notNull(),
    version: integer("version").notNull(),
    /** R2 key of ComfyUI's UI-format JSON, kept as sent; versions share it when it did not change. */
    workflowKey: text("workflow_key"),
    /** The API-format graph that runs (D1 rows stop at 1 MB, so its size is capped before insert). */
    workflowApi: text("workflow_api", { mode: "json" }).$type<ApiGraph>().notNull(),
    comment: text("comment"),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex("workflow_versions_workflow_version_uq").on(t.workflowId, t.version)],
);

export type OutputSpec = { class_type: string; output_id: string };

export const deploymentEnvironments = ["production", "staging", "public-share", "private-share"] as const;
export type DeploymentEnvironment = (typeof deploymentEnvironments)[number];

/** A deployment pins one workflow version and a machine pool; its input spec is derived when pinned. */
export const deployments = sqliteTable(
  "deployments",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    workflowId: text("workflow_id")
      .notNull()
      .references(() => workflows.id),
    workflowVersionId: text("workflow_version_id")
      .notNull()
      .references(() => workflowVersions.id),
    name: text("name").notNull(),
    description: text("description"),
    environment: text("environment", { enum: deploymentEnvironments }).notNull(),
    pool: text("pool").notNull().default("default"),
    /** A machine id as plain text; the machines table will own it. */
    machineId: text("machine_id"),
    /** The explicit bindings as given; the input spec is derived from them and the pinned graph. */
    bindings: text("bindings", { mode: "json" }).$type<ExplicitBinding[]>().notNull(),
    inputSpec: text("input_spec", { mode: "json" }).$type<InputBinding[]>().notNull(),
    outputSpec: text("output_spec", { mode: "json" }).$type<OutputSpec[]>().notNull(),
    isActive: integer("is_active", { mode: "boolean" }).notNull().default(true),
    createdAt: createdAt(),
    updatedAt: text("updated_at").notNull(),
    deletedAt: text("deleted_at"),
  },
  (t) => [
    index("deployments_user_created_idx").on(t.userId, t.createdAt),
    index("deployments_workflow_idx").on(t.workflowId),
  ],
);

export const deploymentEventKinds = [
  "created",
  "promoted",
  "updated",
  "deactivated",
  "activated",
  "deleted",
] as const;

/** An append-only record of what happened to a deployment, promotions included. */
export const deploymentEvents = sqliteTable(
  "deployment_events",
  {
    id: text("id").primaryKey(),
    deploymentId: text("deployment_id")
      .notNull()
      .references(() => deployments.id, { onDelete: "cascade" }),
    userId: text("user_id").notNull(),
    kind: text("kind", { enum: deploymentEventKinds }).notNull(),
    fromVersionId: text("from_version_id"),
    toVersionId: text("to_version_id"),
    changes: text("changes", { mode: "json" }).$type<Record<string, unknown>>(),
    createdAt: createdAt(),
  },
  (t) => [index("deployment_events_deployment_idx").on(t.deploymentId, t.createdAt)],
);
