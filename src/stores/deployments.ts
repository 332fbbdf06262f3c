import {
  type AnyColumn,
  and,
  asc,
  count,
  desc,
  eq,
  isNotNull,
  isNull,
  type SQLWrapper,
  sql,
} from "drizzle-orm";
import type { Db } from "../db/client";
import { batchPrepared, prepareOnce } from "../db/prepared";
import {
  type DeploymentEnvironment,
  deploymentEvents,
  deployments,
  machines,
  workflows,
  workflowVersions,
} from "../db/schema";

import { inventoryInstanceRows } from "./models";
import { definitionHashRows, distinctHashes } from "./node-definitions";
import type { PoolState } from "./pool-state";

export type DeploymentRow = typeof deployments.$inferSelect;
export type DeploymentEventRow = typeof deploymentEvents.$inferSelect;
export type NewDeploymentEvent = Omit<typeof deploymentEvents.$inferInsert, "deploymentId" | "userId">;

/** A deployment with the names and numbers its responses show. */
export type DeploymentView = { deployment: DeploymentRow; workflowName: string; version: number };

const live = (userId: string | SQLWrapper, id: string | SQLWrapper) =>
  and(eq(deployments.id, id), eq(deployments.userId, userId), isNull(deployments.deletedAt));

function selectViews(db: Db) {
  return db
    .select({ deployment: deployments, workflowName: workflows.name, version: workflowVersions.version })
    .from(deployments)
    .innerJoin(workflows, eq(workflows.id, deployments.workflowId))
    .innerJoin(workflowVersions, eq(workflowVersions.id, deployments.workflowVersionId));
}

export async function insertDeployment(
  db: Db,
  row: typeof deployments.$inferInsert,
  event: NewDeploymentEvent,
): Promise<DeploymentRow> {
  const [[created]] = await db.batch([
    db.insert(deployments).values(row).returning(),
    db.insert(deploymentEvents).values({ ...event, deploymentId: row.id, userId: row.userId }),
  ]);
  return created!;
}

export function listDeployments(
  db: Db,
  userId: string,
  filters: { environment?: DeploymentEnvironment; isFluid?: boolean; workflowId?: string },
): Promise<DeploymentView[]> {
  const fluid =
    filters.isFluid === undefined
      ? undefined
      : filters.isFluid
        ? isNull(deployments.machineId)
        : isNotNull(deployments.machineId);
  return selectViews(db)
    .where(
      and(
        eq(deployments.userId, userId),
        isNull(deployments.deletedAt),
        filters.environment ? eq(deployments.environment, filters.environment) : undefined,
        filters.workflowId ? eq(deployments.workflowId, filters.workflowId) : undefined,
        fluid,
      ),
    )
    .orderBy(desc(deployments.createdAt), desc(sql`${deployments}.rowid`))
    .all();
}

export function findDeployment(db: Db, userId: string, id: string): Promise<DeploymentView | undefined> {
  return selectViews(db).where(live(userId, id)).get();
}

/**
 * Applies a change and records it in one transaction. Callers check ownership first; the update itself
 * is scoped too, so undefined means the deployment went away in between.
 */
export async function updateDeployment(
  db: Db,
  userId: string,
  id: string,
  changes: Partial<typeof deployments.$inferInsert>,
  event: NewDeploymentEvent,
): Promise<DeploymentRow | undefined> {
  const [[updated]] = await db.batch([
    db.update(deployments).set(changes).where(live(userId, id)).returning(),
    db.insert(deploymentEvents).values({ ...event, deploymentId: id, userId }),
  ]);
  return updated;
}

export function listDeploymentEvents(db: Db, deploymentId: string) {
  return db
    .select()
    .from(deploymentEvents)
    .where(eq(deploymentEvents.deploymentId, deploymentId))
    .orderBy(asc(deploymentEvents.createdAt), asc(sql`rowid`))
    .all();
}

/** Deployments that still point at a workflow (deactivated ones included: they can come back). */
export async function countLiveDeployments(db: Db, userId: string, workflowId: string): Promise<number> {
  const [row] = await db
    .select({ n: count() })
    .from(deployments)
    .where(
      and(
        eq(deployments.userId, userId),
        eq(deployments.workflowId, workflowId),
        isNull(deployments.deletedAt),
      ),
    );
  return row?.n ?? 0;
}

/** The deployment's columns a run uses (not its explicit bindings or output spec: JSON nobody reads there). */
const RUN_COLUMNS = {
  id: deployments.id,
  name: deployments.name,
  pool: deployments.pool,
  machineId: deployments.machineId,
  workflowId: deployments.workflowId,
  workflowVersionId: deployments.workflowVersionId,
  environment: deployments.environment,
  inputSpec: deployments.inputSpec,
  isActive: deployments.isActive,
};

/**
 * What a run's accept reads, built once per database handle (see `prepareOnce`): the deployment's own row and
 * what checking a run of it reads about its pool (see `PoolState`). The pool and the pinned machine are
 * subqueries on the deployment, so a deployment that does not exist or is not the user's reads nothing
 * else.
 */
const forRunQueries = (db: Db) =>
  prepareOnce(db, "findDeploymentForRun", () => {
    const userId = sql.placeholder("userId");
    const id = sql.placeholder("id");
    const ofDeployment = (column: AnyColumn) =>
      sql`(select ${column} from ${deployments} where ${live(userId, id)})`;
    const pool = ofDeployment(deployments.pool);
    // An unpinned deployment's scope is every machine of its pool.
    const machineId = sql`coalesce(${ofDeployment(deployments.machineId)}, ${machines.id})`;
    return [
      db.select(RUN_COLUMNS).from(deployments).where(live(userId, id)).prepare(),
      definitionHashRows(db, userId, pool).prepare(),
      inventoryInstanceRows(db, userId, { pool, machineId }).prepare(),
    ] as const;
  });

/**
 * A live deployment's own row (its version's graph is read apart, and cached) with its pool's state,
 * in one round trip.
 */
export async function findDeploymentForRun(db: Db, userId: string, id: string) {
  const [[deployment], hashRows, instances] = await batchPrepared(db, forRunQueries(db), { userId, id });
  if (!deployment) return undefined;
  const poolState: PoolState = { definitionHashes: distinctHashes(hashRows), instances };
  return { deployment, poolState };
}

/** The graph of a workflow version; a version never changes once written. */
export async function findVersionGraph(db: Db, versionId: string) {
  const row = await db
    .select({ graph: workflowVersions.workflowApi })
    .from(workflowVersions)
    .where(eq(workflowVersions.id, versionId))
    .get();
  return row?.graph;
}
