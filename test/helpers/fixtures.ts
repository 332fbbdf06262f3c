import { invertGraph } from "./graphs";
import { api } from "./http";
import type { TestUser } from "./users";

export { externalGraph, invertGraph } from "./graphs";

export type CreatedWorkflow = { id: string; name: string; version: number; workflow_version_id: string };

export type CreatedDeployment = {
  id: string;
  name: string;
  workflow_id: string;
  workflow_version_id: string;
  version: number;
  environment: string;
  pool: string;
  machine_id: string;
  is_active: boolean;
  input_types: { input_id: string; type: string; default_value: unknown; required: boolean }[];
};

export async function createWorkflow(
  user: TestUser,
  graph: unknown = invertGraph,
  extra: Record<string, unknown> = {},
): Promise<CreatedWorkflow> {
  const res = await api<CreatedWorkflow>("/api/workflow", {
    method: "POST",
    token: user.apiKey,
    json: { name: `wf-${crypto.randomUUID().slice(0, 8)}`, workflow_api: graph, ...extra },
  });
  if (res.status !== 201)
    throw new Error(`workflow create failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** Creates a deployment; makes a workflow from `graph` (default: the invert graph) unless given one. */
export async function createDeployment(
  user: TestUser,
  opts: { workflow_id?: string; graph?: unknown } & Record<string, unknown> = {},
): Promise<CreatedDeployment> {
  const { graph, ...body } = opts;
  const workflowId = body.workflow_id ?? (await createWorkflow(user, graph ?? invertGraph)).id;
  const res = await api<CreatedDeployment>("/api/deployment", {
    method: "POST",
    token: user.apiKey,
    json: { environment: "production", ...body, workflow_id: workflowId },
  });
  if (res.status !== 201)
    throw new Error(`deployment create failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}
