// Finds the ComfyUI the local agent will use: COMFYUI_URL when something answers there, else the
// bundled simulator, which stands in for a GPU so a newcomer sees a run complete.
import path from "node:path";
import { root } from "./dev-state.mjs";
import { startProcess, waitForHttp } from "./processes.mjs";

export async function comfyAnswers(url) {
  try {
    const res = await fetch(`${url}/system_stats`, { signal: AbortSignal.timeout(2000) });
    return res.ok;
  } catch {
    return false;
  }
}

export async function ensureComfy() {
  const url = (process.env.COMFYUI_URL ?? "http://127.0.0.1:8188").replace(/\/+$/, "");
  if (await comfyAnswers(url)) {
    console.log(`Using the ComfyUI at ${url}.`);
    return { url, simulated: false };
  }
  const port = Number(process.env.COMFY_SIM_PORT ?? 8188);
  const simUrl = `http://127.0.0.1:${port}`;
  console.warn(
    `\n!! No ComfyUI answers at ${url}. Starting the bundled ComfyUI SIMULATOR on ${simUrl}.\n` +
      "!! It runs core nodes on fake pixels, without a GPU. Set COMFYUI_URL to use a real ComfyUI.\n",
  );
  const tsx = path.join(root, "node_modules", ".bin", "tsx");
  startProcess(tsx, [path.join(root, "gpu-agent", "sim", "main.ts"), "--port", String(port)], { cwd: root });
  if (!(await waitForHttp(`${simUrl}/system_stats`, 30_000)))
    throw new Error("The ComfyUI simulator did not start.");
  return { url: simUrl, simulated: true };
}
