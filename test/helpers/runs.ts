import { api } from "./http";
import type { TestUser } from "./users";

/** A graph that needs no model weights: EmptyImage → ImageInvert → SaveImage. */
export const demoGraph = {
  "1": { class_type: "EmptyImage", inputs: { width: 64, height: 64, batch_size: 1, color: 0 } },
  "2": { class_type: "ImageInvert", inputs: { image: ["1", 0] } },
  "3": { class_type: "SaveImage", inputs: { images: ["2", 0], filename_prefix: "test" } },
};

export async function createMachine(user: TestUser, pool?: string) {
  const res = await api<{ id: string; token: string }>("/api/machine/custom", {
    method: "POST",
    token: user.apiKey,
    json: { name: `machine-${crypto.randomUUID().slice(0, 6)}`, pool },
  });
  if (res.status !== 201) throw new Error(`machine create failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** Queues a raw-graph run (seed 004's execute) and returns its id. */
export async function executeRun(
  user: TestUser,
  opts: { priority?: "low" | "normal" | "high"; timeout_minutes?: number; pool?: string } = {},
) {
  const res = await api<{ execution_id: string; queue_position: number | null }>("/api/workflows/execute", {
    method: "POST",
    token: user.apiKey,
    json: { workflow: demoGraph, ...opts },
  });
  if (res.status !== 200) throw new Error(`execute failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.execution_id;
}

export async function getRunStatus(user: TestUser, runId: string) {
  const res = await api<{
    status: string;
    outputs: unknown[];
    error: Record<string, unknown> | null;
    attempt: number;
  }>(`/api/run/${runId}`, { token: user.apiKey });
  return res.body;
}
