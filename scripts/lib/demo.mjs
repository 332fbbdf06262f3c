// The local demo: a dev machine for the local agent and a deployment that runs on any ComfyUI
// (core nodes only, no model weights): an image input → ImageInvert → SaveImage.
import { deflateSync } from "node:zlib";

/** A small PNG (a 64×64 colour gradient), so the demo's image input has a default. */
function demoPng() {
  const size = 64;
  const raw = Buffer.alloc(size * (size * 3 + 1));
  for (let y = 0; y < size; y++) {
    raw[y * (size * 3 + 1)] = 0;
    for (let x = 0; x < size; x++) {
      const o = y * (size * 3 + 1) + 1 + x * 3;
      raw[o] = x * 4;
      raw[o + 1] = y * 4;
      raw[o + 2] = 160;
    }
  }
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, "ascii");
    const tail = Buffer.alloc(4);
    tail.writeUInt32BE(crc(Buffer.concat([head.subarray(4), data])), 0);
    return Buffer.concat([head, data, tail]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const png = Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(raw)),
    chunk("IEND", Buffer.alloc(0)),
  ]);
  return `data:image/png;base64,${png.toString("base64")}`;
}

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
