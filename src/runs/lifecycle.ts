import type { BatchItem } from "drizzle-orm/batch";
import type { Db } from "../db/client";
import { isTerminal, type NewRun, type RunRow, type RunStatus } from "../db/schema";
import { publishTaskStatus } from "../durable/fleet-room/client";
import { runRoomClient } from "../durable/run-room/client";
import type { Bindings } from "../env";
import { nowIso } from "../lib/ids";
import type { Progress } from "../protocol/v1";
import { findRunById, updateRunStatus } from "../stores/runs";
import { enqueueRunWebhooks } from "../webhooks/enqueue";

/** What the lifecycle acts with: the Worker's bindings and its database. */
export type LifecycleContext = { env: Bindings; db: Db };

/** One committed status change: the run's row before it and after it. */
export type RunChange = { before: RunRow; after: RunRow };

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

/** A racing writer can move a run between our read and our write; a few tries always settle it. */
const MAX_TRIES = 3;

/**
 * What a caller already knows or writes with a change: the run's row read in the same round trip as
 * its own reads (`before`, for the first try), and writes that belong to the change (`alongside`), made
 * in one D1 batch with it.
 */
export type ChangeOptions = { before?: RunRow; alongside?: BatchItem<"sqlite">[] };

/**
 * THE transition point: every change of a run's status flows through here, and nothing else writes
 * `runs.status`. D1 first (compare-and-set on the status read), then `afterRunChange`. Returns the new
 * row, or undefined when the move is not allowed from where the run is (a late or repeated change),
 * so each change is applied and announced at most once.
 */
export async function changeRunStatus(
  ctx: LifecycleContext,
  runId: string,
  to: RunStatus,
  fields: RunChangeFields = {},
  options: ChangeOptions = {},
): Promise<RunRow | undefined> {
  let known = options.before;
  for (let tries = 0; tries < MAX_TRIES; tries++) {
    const before = known ?? (await findRunById(ctx.db, runId));
    known = undefined;
    if (!before || !canMove(before.status, to)) return undefined;
    const update = updateRunStatus(ctx.db, runId, before.status, {
      ...fields,
      ...stamps(before, to, fields),
      status: to,
    });
    const [after] = await writeChange(ctx.db, update, options.alongside ?? []);
    if (after) {
      await afterRunChange(ctx, { before, after });
      return after;
    }
  }
  throw new Error(`run ${runId}: status kept changing under a move to ${to}`);
}

/** The change's update, in one batch with the writes that belong to it when there are any. */
async function writeChange(
  db: Db,
  update: ReturnType<typeof updateRunStatus>,
  alongside: BatchItem<"sqlite">[],
) {
  if (alongside.length === 0) return update;
  const results = await db.batch([update, ...alongside]);
  return results[0];
}

/**
 * What follows every committed status change: the RunRoom event, the run's webhooks and the fleet
 * event, all at once (each reads only `change`; D1 already holds the row). Webhooks and fleet events
 * never throw; a RunRoom failure is the caller's, after the other two have gone.
 */
async function afterRunChange(ctx: LifecycleContext, change: RunChange): Promise<void> {
  const [room] = await Promise.allSettled([
    runRoomClient(ctx.env, change.after.id).publishStatus(change.after),
    enqueueRunWebhooks(ctx.env, ctx.db, change.after),
    publishTaskStatus(ctx.env, change.after.userId, change.after),
  ]);
  if (room.status === "rejected") throw room.reason;
}

/** Timestamps and progress that follow from the move itself. */
function stamps(before: RunRow, to: RunStatus, fields: RunChangeFields): RunChangeFields {
  const now = nowIso();
  if (to === "not-started") return { machineId: null, instanceId: null, promptId: null, progress: null };
  if (to === "queued") return { queuedAt: now };
  if (to === "running") return { startedAt: now };
  if (!isTerminal(to)) return {};
  const last = fields.progress ?? before.progress ?? null;
  return { endedAt: now, progress: to === "success" ? completeProgress(last) : last };
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
