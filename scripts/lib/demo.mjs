// The local demo: a dev machine for the local agent and a deployment that runs on any ComfyUI
// (core nodes only, no model weights): an image input → ImageInvert → SaveImage.
import { readFileSync } from "node:fs";
import path from "node:path";
import { root } from "./dev-state.mjs";

/** The README's example picture (64×64), so the demo's image input has a default. */
const demoPng = () =>
  `data:image/png;base64,${readFileSync(path.join(root, "docs", "example.png")).toString("base64")}`;

export const DEMO_NAME = "demo-invert";

const demoGraph = {
  1: { class_type: "LoadImage", inputs: { image: "example.png" }, _meta: { title: "Input image" } },
  2: { class_type: "ImageInvert", inputs: { image: ["1", 0] } },
  3: { class_type: "SaveImage", inputs: { images: ["2", 0], filename_prefix: "demo/invert" } },
};

async function call(baseUrl, apiKey, method, path, body) {
  const res = await fetch(`${baseUrl}/api${path}`, {
    method,
    headers: { Authorization: `Bearer ${apiKey}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  const json = text ? JSON.parse(text) : null;
  if (!res.ok && res.status !== 404) throw new Error(`${method} ${path} → ${res.status}: ${text}`);
  return { status: res.status, body: json };
}

/** Finds or creates the demo deployment; returns its id. */
export async function ensureDemoDeployment(baseUrl, apiKey) {
  const existing = await call(baseUrl, apiKey, "GET", "/deployments");
  const found = existing.body.find((d) => d.name === DEMO_NAME);
  if (found) return found.id;
  const workflow = await call(baseUrl, apiKey, "POST", "/workflow", {
    name: DEMO_NAME,
    workflow_api: demoGraph,
  });
  const binding = {
    input_id: "input_image",
    node_id: "1",
    input_name: "image",
    type: "image",
    default: demoPng(),
    description: "The image to invert: a URL, a data URI or a file id",
  };
  const deployment = await call(baseUrl, apiKey, "POST", "/deployment", {
    workflow_id: workflow.body.id,
    name: DEMO_NAME,
    environment: "production",
    inputs: [binding],
  });
  return deployment.body.id;
}

/** Finds the dev machine recorded in the local state, or registers a new one. */
export async function ensureDevMachine(baseUrl, apiKey, saved) {
  if (saved?.machineId && saved.machineToken) {
    const found = await call(baseUrl, apiKey, "GET", `/machine/${saved.machineId}`);
    if (found.status === 200) return { machineId: saved.machineId, machineToken: saved.machineToken };
  }
  const created = await call(baseUrl, apiKey, "POST", "/machine/custom", {
    name: "local-dev",
    pool: "default",
  });
  return { machineId: created.body.id, machineToken: created.body.token };
}
