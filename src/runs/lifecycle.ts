import type { BatchItem } from "drizzle-orm/batch";
import type { Db } from "../db/client";
import { isTerminal, type NewRun, type RunRow, type RunStatus } from "../db/schema";
import { publishTaskStatus } from "../durable/fleet-room/client";
import { runRoomClient } from "../durable/run-room/client";
import type { RunEventOrder } from "../durable/run-room/ordered-publish";
import type { Bindings } from "../env";
import { nowIso } from "../lib/ids";
import type { RunEventBody } from "../lib/run-events";
import type { Progress } from "../protocol/v1";
import { findRunById, moveRunStatus, updateRunStatus } from "../stores/runs";
import { enqueueRunWebhooks } from "../webhooks/enqueue";

/**
 * What the lifecycle acts with: the Worker's bindings and its database, and in a Durable Object that
 * announces a run's changes without waiting for each, the order its room events keep (`order`).
 */
export type LifecycleContext = { env: Bindings; db: Db; order?: RunEventOrder };

/** Fields written together with a status change. */
export type RunChangeFields = Partial<Omit<NewRun, "id" | "userId" | "status" | "createdAt" | "updatedAt">>;

/**
 * Statuses a run may move to from each status: forward only and never out of a terminal status,
 * except the one step back a lost lease takes (a new attempt starts over at `not-started`).
 */
const ALLOWED_FROM: Record<RunStatus, readonly RunStatus[]> = {
  "not-started": ["not-started", "queued", "running", "uploading"],
  queued: ["not-started"],
  running: ["not-started", "queued"],
  uploading: ["not-started", "queued", "running"],
  success: ["not-started", "queued", "running", "uploading"],
  failed: ["not-started", "queued", "running", "uploading"],
  cancelled: ["not-started", "queued", "running", "uploading"],
  timeout: ["not-started", "queued", "running", "uploading"],
};

export const canMove = (from: RunStatus, to: RunStatus) => ALLOWED_FROM[to].includes(from);

/**
 * What a caller already knows or writes with a change: the run's row read in the same round trip as
 * its own reads (`before`), writes that belong to the change (`alongside`), made in one D1 batch
 * with it, room events that come just before its status event (`events`), in the same call, and what
 * to do the moment D1 holds the change, before it is announced (`written`: the Dispatcher frees an
 * ended run's slot there, so the next job does not wait for the announcement).
 */
export type ChangeOptions = {
  before?: RunRow;
  alongside?: BatchItem<"sqlite">[];
  events?: RunEventBody[];
  written?: (after: RunRow) => void;
};

/**
 * THE transition point: every change of a run's status flows through here, and nothing else writes
 * `runs.status`. D1 first, then `afterRunChange`. The write is one compare-and-set on the statuses the
 * move is allowed from, so a change costs one round trip and no racing writer can slip between a read
 * and the write. Returns the new row, or undefined when the move is not allowed from where the run is
 * (a late or repeated change), so each change is applied and announced at most once.
 */
export async function changeRunStatus(
  ctx: LifecycleContext,
  runId: string,
  to: RunStatus,
  fields: RunChangeFields = {},
  options: ChangeOptions = {},
): Promise<RunRow | undefined> {
  const before = options.before ?? (await readIfNeeded(ctx.db, runId, to, fields));
  if (before && !canMove(before.status, to)) return undefined;
  const change = { ...fields, ...stamps(before, to, fields), status: to };
  const [after] = await writeChange(ctx.db, runId, ALLOWED_FROM[to], change, options.alongside ?? []);
  if (!after) return undefined;
  options.written?.(after);
  await afterRunChange(ctx, after, options.events);
  return after;
}

/** Only a success with no progress in hand needs the row first: its complete progress counts the last one's nodes. */
async function readIfNeeded(db: Db, runId: string, to: RunStatus, fields: RunChangeFields) {
  if (to !== "success" || fields.progress) return undefined;
  return findRunById(db, runId);
}

/** The change's update, in one batch with the writes that belong to it when there are any. */
async function writeChange(
  db: Db,
  runId: string,
  from: readonly RunStatus[],
  change: Parameters<typeof updateRunStatus>[3],
  alongside: BatchItem<"sqlite">[],
) {
  if (alongside.length === 0) return moveRunStatus(db, runId, from, change);
  const results = await db.batch([updateRunStatus(db, runId, from, change), ...alongside]);
  return results[0];
}

/**
 * What follows every committed status change: the RunRoom event, the run's webhooks and the fleet
 * event, all at once (each reads only the new row; D1 already holds it). Webhooks and fleet events
 * never throw; a RunRoom failure is the caller's, after the other two have gone.
 */
async function afterRunChange(
  ctx: LifecycleContext,
  after: RunRow,
  events: RunEventBody[] = [],
): Promise<void> {
  const [room] = await Promise.allSettled([
    runRoomClient(ctx.env, after.id, ctx.order).publishStatus(after, events),
    enqueueRunWebhooks(ctx.env, ctx.db, after),
    publishTaskStatus(ctx.env, after.userId, after),
  ]);
  if (room.status === "rejected") throw room.reason;
}

/** Timestamps and progress that follow from the move itself. */
function stamps(before: RunRow | undefined, to: RunStatus, fields: RunChangeFields): RunChangeFields {
  const now = nowIso();
  if (to === "not-started") return { machineId: null, instanceId: null, promptId: null, progress: null };
  if (to === "queued") return { queuedAt: now };
  if (to === "running") return { startedAt: now };
  if (!isTerminal(to)) return {};
  const last = fields.progress ?? before?.progress;
  // Without a newer one in hand, an ending other than success keeps the progress the row holds.
  if (to !== "success") return last === undefined ? { endedAt: now } : { endedAt: now, progress: last };
  return { endedAt: now, progress: completeProgress(last ?? null) };
}

/** A succeeded run's progress: everything done, nothing running, nothing left to wait for. */
export function completeProgress(last: Progress | null): Progress {
  const nodes = last?.nodes_total ?? 0;
  return {
    percentage: 100,
    nodes_done: nodes,
    nodes_total: nodes,
    current_node: null,
    current_node_type: null,
    step: null,
    total_steps: null,
    eta_seconds: 0,
  };
}
