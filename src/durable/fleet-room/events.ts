/** Seed 003's `/ws` messages: `{type, timestamp, data, requestId}`. */
export type InstanceStatus = { instanceId: string; alive: boolean; busy: boolean; enabled?: boolean };

/** A model download on one machine, as `/ws` hears of it (our extension to seed 003's messages). */
export type ModelDownloadEvent = {
  downloadId: string;
  machineId: string;
  modelName: string;
  folder: string;
  status: "pending" | "downloading" | "completed" | "failed";
  bytesDone: number;
  bytesTotal: number | null;
  /** 0–1; null while the size is unknown. */
  progress: number | null;
  sha256: string | null;
  error: string | null;
};

type RemovedModels = {
  machineId: string;
  requestId: string;
  removed: { folder: string; name: string; size_bytes: number }[];
  kept: { folder: string; name: string; reason: string }[];
};

export type FleetEvent =
  | { type: "instance_status"; data: InstanceStatus }
  | { type: "task_progress"; data: { taskId: string; progress: number } }
  | { type: "task_completed"; data: { taskId: string; result: { files: string[] } } }
  | { type: "task_failed"; data: { taskId: string; status: string; error: string | null } }
  | {
      type: "model_download_progress" | "model_download_completed" | "model_download_failed";
      data: ModelDownloadEvent;
    }
  | { type: "models_removed"; data: RemovedModels };

export type FleetMessage = {
  type: FleetEvent["type"] | "global_status";
  timestamp: number;
  data: unknown;
  requestId: string | null;
};

/** Task counts as of a client's connect (seed 003's overview fields). */
export type TaskCounts = { pendingTasks: number; runningTasks: number; completedTasks: number };
