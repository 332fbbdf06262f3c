/**
 * Runs the ComfyUI simulator alone: `tsx gpu-agent/sim/main.ts [--port 8188] [--host 127.0.0.1]
 * [--step-ms 20] [--node-ms KSampler=100,ImageBlur=50] [--dir DIR]`. Each flag can also come from the
 * environment (COMFY_SIM_PORT, COMFY_SIM_HOST, COMFY_SIM_STEP_MS, COMFY_SIM_NODE_MS, COMFY_SIM_DIR).
 */
import { parseArgs } from "node:util";
import { startComfySimulator } from "./simulator";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: process.env.COMFY_SIM_PORT ?? "8188" },
    host: { type: "string", default: process.env.COMFY_SIM_HOST ?? "127.0.0.1" },
    "step-ms": { type: "string", default: process.env.COMFY_SIM_STEP_MS ?? "20" },
    "node-ms": { type: "string", default: process.env.COMFY_SIM_NODE_MS ?? "" },
    dir: { type: "string", default: process.env.COMFY_SIM_DIR ?? "" },
  },
});

const simulator = await startComfySimulator({
  port: integer("port", values.port),
  host: values.host,
  stepMs: integer("step-ms", values["step-ms"]),
  nodeMs: nodeTimes(values["node-ms"]),
  dir: values.dir || undefined,
});
console.log(`ComfyUI simulator (ComfyUI v0.3.64 API, no GPU) listening on ${simulator.url}`);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void simulator.close().then(() => process.exit(0));
  });
}

function integer(flag: string, value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0)
    throw new Error(`--${flag} must be a whole number, got "${value}"`);
  return parsed;
}

/** `KSampler=100,ImageBlur=50` → `{ KSampler: 100, ImageBlur: 50 }`. */
function nodeTimes(spec: string): Record<string, number> {
  const times: Record<string, number> = {};
  for (const pair of spec.split(",").filter(Boolean)) {
    const [name, ms] = pair.split("=");
    if (!name || ms === undefined) throw new Error(`--node-ms expects Class=ms pairs, got "${pair}"`);
    times[name.trim()] = integer("node-ms", ms.trim());
  }
  return times;
}
