import type { RunStatus } from "../db/schema";
import type { Progress } from "../protocol/v1";

/** What a run's subscribers receive, numbered by its RunRoom. */
export type RunEventBody =
  | { type: "status"; data: RunSnapshot }
  | { type: "progress"; data: Progress }
  | { type: "log"; data: { level: string; message: string; node_id?: string } };

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

/** The live state of a run: what a subscriber gets first, and what each `status` event carries. */
export type RunSnapshot = {
  run_id: string;
  status: RunStatus;
  progress: Progress | null;
  outputs: unknown[] | null;
  error: Record<string, unknown> | null;
  attempt: number;
  updated_at: string;
};

export const TERMINAL: ReadonlySet<RunStatus> = new Set(["success", "failed", "cancelled", "timeout"]);
