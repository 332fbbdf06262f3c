import type { Db } from "../db/client";
import type { Preview } from "../durable/run-room/latest-preview";
import type { Bindings } from "../env";
import { AppError } from "../lib/errors";
import { latestPreview } from "./run-room-client";
import { getRun } from "./runs";

/** The newest live preview of one of the caller's runs; 404 when the run is not theirs or has none. */
export async function readPreview(env: Bindings, db: Db, userId: string, runId: string): Promise<Preview> {
  const run = await getRun(db, userId, runId);
  const preview = await latestPreview(env, run.id);
  if (!preview) throw new AppError("not_found", "This run has no preview yet");
  return preview;
}
