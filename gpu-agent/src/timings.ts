import { type BackoffPolicy, RECONNECT_BACKOFF } from "./backoff";
import { type ComfyTimings, DEFAULT_COMFY_TIMINGS } from "./comfy-adapter";

/** Intervals and limits that are not user settings; tests shorten them. */
export interface AgentTimings {
  backoff: BackoffPolicy;
  handshakeTimeoutMs: number;
  probeIntervalMs: number;
  probeTimeoutMs: number;
  uploadUrlTimeoutMs: number;
  uploadRetryDelayMs: number;
  /** How long an output upload is retried through transient failures (a control-plane restart). */
  uploadRetryForMs: number;
  inputTimeoutMs: number;
  gpuRefreshMs: number;
  /** How long a new job waits for its instance to finish stopping an earlier run. */
  busyWaitMs: number;
  /** Least time between two progress messages of one model download. */
  modelProgressMs: number;
  /** First pause before a dropped model download resumes (it grows with each fruitless try). */
  modelRetryDelayMs: number;
  comfy: ComfyTimings;
  random?: () => number;
}

export const DEFAULT_TIMINGS: AgentTimings = {
  backoff: RECONNECT_BACKOFF,
  handshakeTimeoutMs: 15_000,
  probeIntervalMs: 5_000,
  probeTimeoutMs: 5_000,
  uploadUrlTimeoutMs: 60_000,
  uploadRetryDelayMs: 500,
  uploadRetryForMs: 10 * 60_000,
  inputTimeoutMs: 120_000,
  gpuRefreshMs: 30_000,
  busyWaitMs: 10_000,
  modelProgressMs: 1000,
  modelRetryDelayMs: 1000,
  comfy: DEFAULT_COMFY_TIMINGS,
};
