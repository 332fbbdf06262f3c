import { z } from "zod";
import { isTerminal, RUN_STATUSES, type TerminalStatus } from "../db/schema/runs";
import { Progress, RunOutput } from "../protocol/v1";

export const StoredOutput = z.object({
  ...RunOutput.shape,
  file_id: z.string().optional(),
  url: z.string().optional(),
  created_at: z.string().optional(),
});

/** The live state of a run: what a subscriber gets first, and what each `status` event carries. */
export const RunSnapshot = z.object({
  run_id: z.string(),
  status: z.enum(RUN_STATUSES),
  progress: z.nullable(Progress),
  outputs: z.array(StoredOutput).nullable(),
  error: z.object({ code: z.string(), message: z.string() }).loose().nullable(),
  attempt: z.number().int(),
  updated_at: z.string(),
});
export type RunSnapshot = z.infer<typeof RunSnapshot>;

/** Whether the snapshot is of an ended run (none yet: not ended). */
export const hasEnded = (
  snapshot: RunSnapshot | null | undefined,
): snapshot is RunSnapshot & { status: TerminalStatus } => !!snapshot && isTerminal(snapshot.status);

/** What a run's subscribers receive, numbered by its RunRoom. */
export type RunEventBody =
  | { type: "status"; data: RunSnapshot }
  | { type: "progress"; data: Progress }
  | { type: "log"; data: { level: string; message: string; node_id?: string } }
  | { type: "warning"; data: { code: string; message: string } };

export type RunEvent = RunEventBody & { seq: number; at: string };

/** A new live preview exists. Not numbered and never replayed; the image is at `url` until a newer one. */
export type PreviewNotice = {
  run_id: string;
  content_type: string;
  size: number;
  node_id: string | null;
  at: string;
  url: string;
};
export type PreviewEvent = { type: "preview"; data: PreviewNotice };
