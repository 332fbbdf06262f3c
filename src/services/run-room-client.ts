import type { Preview } from "../durable/run-room/latest-preview";
import type { Bindings } from "../env";
import type { RunEventBody, RunSnapshot } from "../lib/run-events";
import type { RunRow } from "../stores/runs";

/** The only way the rest of the code talks to a run's RunRoom. */
export const runRoom = (env: Bindings, runId: string) => env.RUN_ROOM.getByName(runId);

export function toSnapshot(row: RunRow): RunSnapshot {
  return {
    run_id: row.id,
    status: row.status,
    progress: (row.progress as RunSnapshot["progress"]) ?? null,
    outputs: row.outputs ?? null,
    error: row.error ?? null,
    attempt: row.attempt,
    updated_at: row.updatedAt,
  };
}

export async function publishStatus(env: Bindings, row: RunRow) {
  await runRoom(env, row.id).publish([{ type: "status", data: toSnapshot(row) }]);
}

export async function publish(env: Bindings, runId: string, events: RunEventBody[]) {
  await runRoom(env, runId).publish(events);
}

/** Hands a run's RunRoom its newest live preview; false when the run has already ended. */
export async function publishPreview(env: Bindings, runId: string, preview: Preview) {
  return runRoom(env, runId).setPreview(runId, preview);
}

/** The newest live preview of a run, or null when none arrived. */
export async function latestPreview(env: Bindings, runId: string): Promise<Preview | null> {
  return runRoom(env, runId).preview();
}
