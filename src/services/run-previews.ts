import type { Db } from "../db/client";
import { runRoomClient } from "../durable/run-room/client";
import type { Preview } from "../durable/run-room/latest-preview";
import type { Bindings } from "../env";
import { AppError } from "../lib/errors";
import { getRun } from "./runs";

/** The newest live preview of one of the caller's runs; 404 when the run is not theirs or has none. */
export async function readPreview(env: Bindings, db: Db, userId: string, runId: string): Promise<Preview> {
  const run = await getRun(db, userId, runId);
  const preview = await runRoomClient(env, run.id).preview();
  if (!preview) throw new AppError("not_found", "This run has no preview yet");
  return preview;
}
