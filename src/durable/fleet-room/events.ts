/** Seed 003's `/ws` messages: `{type, timestamp, data, requestId}`. */
export type InstanceStatus = { instanceId: string; alive: boolean; busy: boolean; enabled?: boolean };

export type FleetEvent =
  | { type: "instance_status"; data: InstanceStatus }
  | { type: "task_progress"; data: { taskId: string; progress: number } }
  | { type: "task_completed"; data: { taskId: string; result: { files: string[] } } }
  | { type: "task_failed"; data: { taskId: string; status: string; error: string | null } };

export type FleetMessage = {
  type: FleetEvent["type"] | "global_status";
  timestamp: number;
  data: unknown;
  requestId: string | null;
};

/** Task counts as of a client's connect (seed 003's overview fields). */
export type TaskCounts = { pendingTasks: number; runningTasks: number; completedTasks: number };
