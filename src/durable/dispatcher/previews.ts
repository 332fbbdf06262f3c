import type { Bindings } from "../../env";
import type { PreviewMessage } from "../../protocol/v1";
import { runRoomClient } from "../run-room/client";
import type { AgentAttachment } from "./agent-registry";
import type { JobQueue } from "./job-queue";

const decodeBase64 = (data: string) => Uint8Array.from(atob(data), (c) => c.charCodeAt(0));

/**
 * Passes a live preview to its run's RunRoom when it comes from the holder of the run's live lease.
 * Best effort: nothing is acknowledged, a stale or undecodable preview is dropped, and it never touches
 * D1 or R2, so previews cost no storage quota.
 */
export async function relayPreview(
  env: Bindings,
  queue: JobQueue,
  agent: AgentAttachment,
  message: PreviewMessage,
): Promise<void> {
  const job = queue.get(message.run_id);
  if (!job || job.machine_id !== agent.machineId || job.state === "stopping") return;
  if (!queue.holds(message.run_id, message.lease_token)) return;
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = decodeBase64(message.data);
  } catch {
    return;
  }
  await runRoomClient(env, message.run_id).setPreview({
    contentType: message.content_type,
    nodeId: message.node_id ?? null,
    at: new Date(message.at).toISOString(),
    bytes,
  });
}
