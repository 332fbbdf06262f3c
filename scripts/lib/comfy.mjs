// Finds the ComfyUI the local agent will use: COMFYUI_URL when something answers there, else the
// bundled simulator, which stands in for a GPU so a newcomer sees a run complete.
import path from "node:path";
import { root } from "./dev-state.mjs";
import { startProcess, waitForHttp } from "./processes.mjs";
import { simulatorPlacement } from "./start-config.mjs";

export async function comfyAnswers(url) {
  try {
    const res = await fetch(`${url}/system_stats`, { signal: AbortSignal.timeout(2000) });
    return res.ok;
  } catch {
    return false;
  }
}

/** The ComfyUI to use: `{url, simulated, note}`; starts the simulator when nothing answers at COMFYUI_URL. */
export async function ensureComfy(config) {
  const url = config.comfyUrl;
  if (await comfyAnswers(url)) {
    console.log(`Using the ComfyUI at ${url}.`);
    return { url, simulated: false };
  }
  const sim = simulatorPlacement(config);
  const where = sim.moved ? `on ${sim.url}, NOT at ${url} (${sim.moved})` : `on ${sim.url}`;
  console.warn(
    `\n!! No ComfyUI answers at ${url}. Starting the bundled ComfyUI SIMULATOR ${where}.\n` +
      "!! It runs core nodes on fake pixels, without a GPU. Set COMFYUI_URL to use a real ComfyUI.\n",
  );
  if (await comfyAnswers(sim.url)) throw new Error(`Something else already answers at ${sim.url}.`);
  const tsx = path.join(root, "node_modules", ".bin", "tsx");
  const args = [
    path.join(root, "gpu-agent", "sim", "main.ts"),
    "--host",
    sim.host,
    "--port",
    String(sim.port),
  ];
  startProcess(tsx, args, { cwd: root });
  if (!(await waitForHttp(`${sim.url}/system_stats`, 30_000)))
    throw new Error(`The ComfyUI simulator did not start on ${sim.url}.`);
  return { url: sim.url, simulated: true, note: `SIMULATOR: nothing answered at ${url}` };
}
