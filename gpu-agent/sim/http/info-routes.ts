import { freemem, totalmem } from "node:os";
import RECORDED from "../../../fixtures/comfyui-traces/object_info_full.json";
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
  comfy.durable.counters.queueReads++;
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

/**
 * The recorded server's definitions (all its core classes, as a real ComfyUI reports them), plus the
 * simulator's own classes the recording lacks; classes whose definition lists files (LoadImage's
 * choices) describe this simulator's input folder instead, as a real server describes its own.
 */
function allDefinitions(comfy: ComfyProcess): Record<string, unknown> {
  const { catalog, files } = comfy.durable;
  const definitions: Record<string, unknown> = {};
  for (const [name, node] of catalog) {
    const listsFiles = node.info.length > 0;
    definitions[name] = listsFiles || !Object.hasOwn(RECORDED, name) ? node.info(files) : undefined;
  }
  for (const [name, info] of Object.entries(RECORDED)) definitions[name] ??= info;
  return definitions;
}

export function objectInfo(comfy: ComfyProcess, nodeClass?: string): Reply {
  const definitions = allDefinitions(comfy);
  if (nodeClass === undefined) return json(200, definitions);
  return json(200, Object.hasOwn(definitions, nodeClass) ? { [nodeClass]: definitions[nodeClass] } : {});
}
