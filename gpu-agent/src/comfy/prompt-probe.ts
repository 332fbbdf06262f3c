import type { ComfyHttp } from "./http";
import type { HistoryEntry } from "./schemas";

export type Whereabouts =
  | { where: "pending" }
  | { where: "running" }
  | { where: "done"; entry: HistoryEntry }
  /** Neither queued nor in the history: deleted from the queue, or lost when ComfyUI restarted. */
  | { where: "gone" };

/**
 * Where a prompt is, over HTTP alone. The queue is read first: ComfyUI writes the history before it
 * takes a prompt off the queue, so a prompt missing from both is really gone.
 */
export async function locatePrompt(http: ComfyHttp, promptId: string): Promise<Whereabouts> {
  const queue = await http.getQueue();
  if (queue.running.some((item) => item.promptId === promptId)) return { where: "running" };
  if (queue.pending.some((item) => item.promptId === promptId)) return { where: "pending" };
  const entry = await http.getHistory(promptId);
  return entry ? { where: "done", entry } : { where: "gone" };
}
