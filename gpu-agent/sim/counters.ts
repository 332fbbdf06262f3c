/** What the simulator has been asked to do, for tests to check. */
export interface SimulatorCounters {
  /** POST /prompt calls, accepted or not. */
  prompts: number;
  /** POST /prompt calls answered 400. */
  promptsRejected: number;
  /** POST /interrupt calls. */
  interrupts: number;
  /** Prompt ids asked to be deleted with POST /queue `{delete}`. */
  queueDeletes: number;
  /** GET /queue calls. */
  queueReads: number;
  /** POST /queue `{clear: true}` calls. */
  queueClears: number;
  /** POST /upload/image calls. */
  uploads: number;
  /** GET /view calls. */
  views: number;
  /** The bodies of the POST /free calls ComfyUI accepted, in order. */
  frees: { unload_models?: unknown; free_memory?: unknown }[];
  /** WebSocket connections accepted. */
  wsConnections: number;
  /**
   * Every prompt the worker took up, in order (a prompt run twice is listed twice); `finished` once its
   * history is written (a crash mid-prompt leaves it false).
   */
  executions: { promptId: string; prompt: Record<string, unknown>; finished: boolean }[];
}

export function zeroCounters(): SimulatorCounters {
  return {
    prompts: 0,
    promptsRejected: 0,
    interrupts: 0,
    queueDeletes: 0,
    queueReads: 0,
    queueClears: 0,
    uploads: 0,
    views: 0,
    frees: [],
    wsConnections: 0,
    executions: [],
  };
}
