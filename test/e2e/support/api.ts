import type { ComfySimulator } from "../../../gpu-agent/sim/simulator";
import { invertGraph } from "../../helpers/graphs";
import type { E2EUser, RunningWorker } from "./worker";

/** A JSON call to the public API as `user`; throws with the body on any non-2xx. */
export async function call<T>(
  worker: Pick<RunningWorker, "url">,
  user: E2EUser,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  const res = await fetch(`${worker.url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${user.apiKey}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

/** The invert deployment with an image input bound to LoadImage. */
export async function invertDeployment(worker: Pick<RunningWorker, "url">, user: E2EUser) {
  const workflow = await call<{ id: string }>(worker, user, "POST", "/api/workflow", {
    name: "invert",
    workflow_api: invertGraph,
  });
  const binding = { input_id: "input_image", node_id: "1", input_name: "image", type: "image" };
  const deployment = await call<{ id: string }>(worker, user, "POST", "/api/deployment", {
    workflow_id: workflow.id,
    environment: "production",
    inputs: [binding],
  });
  return deployment.id;
}

/** Uploads the simulator's example picture as a file of `user`; returns its file id. */
export async function uploadPng(worker: Pick<RunningWorker, "url">, user: E2EUser, sim: ComfySimulator) {
  const png = Buffer.from(
    await (await fetch(`${sim.url}/view?filename=example.png&type=input`)).arrayBuffer(),
  );
  const form = new FormData();
  form.set("file", new Blob([png], { type: "image/png" }), "cat.png");
  const res = await fetch(`${worker.url}/api/files/upload`, {
    method: "POST",
    headers: { Authorization: `Bearer ${user.apiKey}` },
    body: form,
  });
  const body = (await res.json()) as { file_id: string };
  return body.file_id;
}

export type RunView = {
  status: string;
  attempt?: number;
  error: { code?: string; message?: string } | null;
  outputs: { data: { images?: { url: string; filename: string; subfolder: string }[] } }[];
};

/** Polls the run until its status is one of `statuses`; throws after `timeoutMs`. */
export async function waitForStatus(
  worker: Pick<RunningWorker, "url">,
  user: E2EUser,
  runId: string,
  statuses: string[],
  timeoutMs = 30_000,
): Promise<RunView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const run = await call<RunView>(worker, user, "GET", `/api/run/${runId}`);
    if (statuses.includes(run.status)) return run;
    if (Date.now() > deadline) throw new Error(`run ${runId} is ${run.status}, wanted ${statuses.join("|")}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
