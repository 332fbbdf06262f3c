import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ComfySimulator, startComfySimulator } from "../../gpu-agent/sim/simulator";
import { type RunningAgent, startAgent } from "./support/agent";
import { type E2EUser, sharedWorker } from "./support/worker";

/**
 * A workflow as ComfyUI's editor saves it: a ComfyDeploy external image → Invert Image → (Reroute) →
 * Save Image, whose file name prefix comes from a ComfyDeploy external text; plus a note.
 */
const uiWorkflow = {
  last_node_id: 6,
  last_link_id: 4,
  nodes: [
    {
      id: 1,
      type: "ComfyUIDeployExternalImage",
      mode: 0,
      inputs: [{ name: "default_value", type: "IMAGE", link: null }],
      outputs: [{ name: "image", type: "IMAGE", links: [1] }],
      widgets_values: ["photo", "Photo", "The picture to invert", ""],
    },
    {
      id: 2,
      type: "ComfyUIDeployExternalText",
      mode: 0,
      inputs: [],
      outputs: [{ name: "text", type: "STRING", links: [4] }],
      widgets_values: ["prefix", "inverted", "", "File name prefix"],
    },
    {
      id: 3,
      type: "ImageInvert",
      mode: 0,
      inputs: [{ name: "image", type: "IMAGE", link: 1 }],
      outputs: [{ name: "IMAGE", type: "IMAGE", links: [2] }],
      widgets_values: [],
    },
    {
      id: 4,
      type: "Reroute",
      mode: 0,
      inputs: [{ name: "", type: "*", link: 2 }],
      outputs: [{ name: "", type: "IMAGE", links: [3] }],
    },
    {
      id: 5,
      type: "SaveImage",
      mode: 0,
      inputs: [
        { name: "images", type: "IMAGE", link: 3 },
        { name: "filename_prefix", type: "STRING", widget: { name: "filename_prefix" }, link: 4 },
      ],
      outputs: [],
      widgets_values: ["ComfyUI"],
    },
    { id: 6, type: "Note", mode: 0, inputs: [], outputs: [], widgets_values: ["Inverts the photo."] },
  ],
  links: [
    [1, 1, 0, 3, 0, "IMAGE"],
    [2, 3, 0, 4, 0, "IMAGE"],
    [3, 4, 0, 5, 0, "IMAGE"],
    [4, 2, 0, 5, 1, "STRING"],
  ],
  groups: [],
  config: {},
  extra: {},
  version: 0.4,
};

/** The same workflow as ComfyUI's "Export (API)" writes it. */
const apiExport = {
  "1": {
    class_type: "ComfyUIDeployExternalImage",
    inputs: {
      input_id: "photo",
      display_name: "Photo",
      description: "The picture to invert",
      default_value_url: "",
    },
    _meta: { title: "ComfyUIDeployExternalImage" },
  },
  "2": {
    class_type: "ComfyUIDeployExternalText",
    inputs: {
      input_id: "prefix",
      default_value: "inverted",
      display_name: "",
      description: "File name prefix",
    },
    _meta: { title: "ComfyUIDeployExternalText" },
  },
  "3": { class_type: "ImageInvert", inputs: { image: ["1", 0] }, _meta: { title: "Invert Image" } },
  "5": {
    class_type: "SaveImage",
    inputs: { images: ["3", 0], filename_prefix: ["2", 0] },
    _meta: { title: "Save Image" },
  },
};

const worker = sharedWorker();
let sim: ComfySimulator;
let agent: RunningAgent;
let user: E2EUser;

async function request(method: string, path: string, body?: unknown) {
  const res = await fetch(`${worker.url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${user.apiKey}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: JSON.parse(await res.text()) };
}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await request(method, path, body);
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as T;
}

/** Polls until `probe` answers; the agent's definitions reach the control plane asynchronously. */
async function eventually<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await probe();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function uploadExamplePng() {
  const png = await (await fetch(`${sim.url}/view?filename=example.png&type=input`)).arrayBuffer();
  const form = new FormData();
  form.set("file", new Blob([png], { type: "image/png" }), "photo.png");
  const res = await fetch(`${worker.url}/api/files/upload`, {
    method: "POST",
    headers: { Authorization: `Bearer ${user.apiKey}` },
    body: form,
  });
  return ((await res.json()) as { file_id: string }).file_id;
}

type RunView = {
  status: string;
  error: unknown;
  outputs: { data: { images?: { url: string; filename: string }[] } }[];
};

/**
 * A PNG split into its pixels (every chunk but tEXt) and its text chunks, where ComfyUI stores the
 * prompt it ran. Runs name their uploaded inputs apart, so only pixels compare byte for byte.
 */
function splitPng(bytes: Buffer) {
  const pixels: Buffer[] = [];
  const text: Record<string, string> = {};
  for (let at = 8; at < bytes.length; ) {
    const length = bytes.readUInt32BE(at);
    const type = bytes.toString("latin1", at + 4, at + 8);
    const data = bytes.subarray(at + 8, at + 8 + length);
    if (type === "tEXt") {
      const nul = data.indexOf(0);
      text[data.toString("latin1", 0, nul)] = data.toString("latin1", nul + 1);
    } else {
      pixels.push(bytes.subarray(at, at + 12 + length));
    }
    at += 12 + length;
  }
  return { pixels: createHash("sha256").update(Buffer.concat(pixels)).digest("hex"), text };
}

/** Deploys a workflow, runs it with `inputs` and returns its output image: name, pixels, prompt run. */
async function deployAndRun(workflowId: string, inputs: Record<string, unknown>) {
  const deployment = await call<{ id: string; input_types: { input_id: string; type: string }[] }>(
    "POST",
    "/api/deployment",
    { workflow_id: workflowId, environment: "production" },
  );
  const { run_id } = await call<{ run_id: string }>("POST", "/api/run/deployment/queue", {
    deployment_id: deployment.id,
    inputs,
  });
  const run = await eventually(async () => {
    const view = await call<RunView>("GET", `/api/run/${run_id}`);
    return ["success", "failed"].includes(view.status) ? view : undefined;
  }, `run ${run_id}`);
  expect(run.error).toBeNull();
  const image = run.outputs[0]?.data.images?.[0];
  const png = splitPng(Buffer.from(await (await fetch(image!.url)).arrayBuffer()));
  const prompt = JSON.parse(png.text.prompt ?? "{}") as Record<string, { inputs: Record<string, unknown> }>;
  for (const node of Object.values(prompt)) {
    if (typeof node.inputs.image === "string") node.inputs.image = "<uploaded input>";
  }
  return {
    inputTypes: deployment.input_types.map((i) => [i.input_id, i.type]),
    filename: image!.filename,
    pixels: png.pixels,
    prompt,
  };
}

beforeAll(async () => {
  sim = await startComfySimulator({ stepMs: 10 });
  user = await worker.createUser("ui");
  const machine = await call<{ token: string }>("POST", "/api/machine/custom", { name: "ui-gpu" });
  agent = await startAgent({ server: worker.url, token: machine.token, comfy: sim.url });
}, 120_000);

afterAll(async () => {
  await agent?.stop("SIGKILL").catch(() => undefined);
  await sim?.close();
});

describe("UI-format workflows end to end", () => {
  it("saves a UI-only workflow, deploys and runs it; its outputs match a run of its API export", async () => {
    // The agent reports the simulator's node definitions on connect; the save waits for them.
    const fromUi = await eventually(async () => {
      const res = await request("POST", "/api/workflow", { name: "invert (UI)", workflow: uiWorkflow });
      return res.status === 201 ? (res.body as { id: string }) : undefined;
    }, "the agent's node definitions");
    const saved = await call<{
      latest_version: { workflow: unknown; workflow_api: Record<string, unknown> };
    }>("GET", `/api/workflow/${fromUi.id}`);
    expect(saved.latest_version.workflow).toEqual(uiWorkflow);
    expect(saved.latest_version.workflow_api).toEqual(apiExport);

    const fromApi = await call<{ id: string }>("POST", "/api/workflow", {
      name: "invert (API)",
      workflow_api: apiExport,
    });
    const inputs = { photo: await uploadExamplePng(), prefix: "same" };
    const uiRun = await deployAndRun(fromUi.id, inputs);
    const apiRun = await deployAndRun(fromApi.id, inputs);
    expect(uiRun.inputTypes).toEqual([
      ["photo", "image"],
      ["prefix", "string"],
    ]);
    expect(uiRun.inputTypes).toEqual(apiRun.inputTypes);
    expect(uiRun.filename).toMatch(/^same_\d+_\.png$/);
    expect(apiRun.filename).toMatch(/^same_\d+_\.png$/);
    expect(uiRun.pixels).toBe(apiRun.pixels);
    expect(Object.keys(uiRun.prompt).length).toBeGreaterThan(0);
    expect(uiRun.prompt).toEqual(apiRun.prompt);
  }, 120_000);
});
