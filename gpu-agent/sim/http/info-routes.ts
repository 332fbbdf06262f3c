import { freemem, totalmem } from "node:os";
import type { ComfyProcess } from "../comfy-process";
import { queueTuple } from "../queue";
import { SERVER_FEATURES } from "../ws-hub";
import { json, type Reply } from "./reply";

const VRAM_TOTAL = 25_769_803_776;

/** GET /system_stats, shaped like ComfyUI v0.3.64's, with a simulated GPU. */
export function systemStats(comfy: ComfyProcess): Reply {
  const { options } = comfy.durable;
  return json(200, {
    system: {
      os: "posix",
      ram_total: totalmem(),
      ram_free: freemem(),
      comfyui_version: "0.3.64",
      required_frontend_version: "1.27.10",
      installed_templates_version: null,
      required_templates_version: "0.1.95",
      python_version: "3.11.2 (main, Apr 28 2025, 14:11:48) [GCC 12.2.0]",
      pytorch_version: "2.8.0+cu128",
      embedded_python: false,
      argv: ["main.py", "--listen", options.host, "--port", String(options.port)],
    },
    devices: [
      {
        name: options.deviceName,
        type: "cuda",
        index: 0,
        vram_total: VRAM_TOTAL,
        vram_free: VRAM_TOTAL - 1_073_741_824,
        torch_vram_total: 0,
        torch_vram_free: 0,
      },
    ],
  });
}

export function features(): Reply {
  return json(200, SERVER_FEATURES);
}

export function promptInfo(comfy: ComfyProcess): Reply {
  return json(200, { exec_info: { queue_remaining: comfy.queue.remaining } });
}

export function queueInfo(comfy: ComfyProcess): Reply {
  const { running, waiting } = comfy.queue;
  return json(200, {
    queue_running: running ? [queueTuple(running)] : [],
    queue_pending: waiting.map(queueTuple),
  });
}

export function history(comfy: ComfyProcess, url: URL): Reply {
  const number = (name: string) => {
    const value = url.searchParams.get(name);
    return value === null ? undefined : Number.parseInt(value, 10);
  };
  return json(200, comfy.queue.historySlice(number("max_items"), number("offset")));
}

export function historyOf(comfy: ComfyProcess, promptId: string): Reply {
  const entry = comfy.queue.history.get(promptId);
  return json(200, entry ? { [promptId]: entry } : {});
}

export function objectInfo(comfy: ComfyProcess, nodeClass?: string): Reply {
  const { catalog, files } = comfy.durable;
  const classes = nodeClass === undefined ? [...catalog.keys()] : catalog.has(nodeClass) ? [nodeClass] : [];
  const info = Object.fromEntries(classes.map((name) => [name, catalog.get(name)?.info(files)]));
  return json(200, info);
}
