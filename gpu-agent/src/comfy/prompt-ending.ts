import type { ExecutionErrorEvent } from "./events";
import type { HistoryEntry } from "./schemas";

/** ComfyUI's account of a node that raised, from `execution_error`. */
export interface ExecutionFailure {
  node_id: string;
  node_type: string;
  exception_message: string;
  exception_type: string;
  traceback: string[];
  /** The nodes that had finished before it. */
  executed: string[];
}

/** How ComfyUI says a prompt ended. */
export type Ending =
  | { kind: "success" }
  | { kind: "execution_error"; failure: ExecutionFailure }
  | { kind: "interrupted"; nodeId: string | null; nodeType: string | null };

export function failureOf(data: ExecutionErrorEvent): ExecutionFailure {
  return {
    node_id: data.node_id,
    node_type: data.node_type,
    exception_message: data.exception_message,
    exception_type: data.exception_type,
    traceback: data.traceback,
    executed: data.executed,
  };
}

/** The ending a /history entry records (its status and the `execution_*` messages in it). */
export function endingFromHistory(entry: HistoryEntry): Ending {
  // Versions before status tracking only listed outputs, and only for prompts that succeeded.
  if (!entry.status || entry.status.status_str === "success") return { kind: "success" };
  const message = (type: string) =>
    entry.status?.messages.find(([name]) => name === type)?.[1] as Record<string, unknown> | undefined;
  const error = message("execution_error");
  if (error) {
    return {
      kind: "execution_error",
      failure: {
        node_id: String(error.node_id ?? ""),
        node_type: String(error.node_type ?? ""),
        exception_message: String(error.exception_message ?? ""),
        exception_type: String(error.exception_type ?? ""),
        traceback: Array.isArray(error.traceback) ? error.traceback.map(String) : [],
        executed: Array.isArray(error.executed) ? error.executed.map(String) : [],
      },
    };
  }
  const interrupted = message("execution_interrupted");
  if (interrupted) {
    const text = (value: unknown) => (typeof value === "string" ? value : null);
    return { kind: "interrupted", nodeId: text(interrupted.node_id), nodeType: text(interrupted.node_type) };
  }
  return {
    kind: "execution_error",
    failure: {
      node_id: "",
      node_type: "",
      exception_message: `ComfyUI reported the prompt as ${entry.status.status_str}`,
      exception_type: "",
      traceback: [],
      executed: [],
    },
  };
}
