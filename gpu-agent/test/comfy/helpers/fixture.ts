import type { SimulatorOptions } from "../../../sim/options";
import { type ComfySimulator, startComfySimulator } from "../../../sim/simulator";
import { ComfyHttp, type PromptGraph } from "../../../src/comfy/http";
import { ComfySocket } from "../../../src/comfy/socket";

export interface ComfyFixture {
  sim: ComfySimulator;
  http: ComfyHttp;
  socket: ComfySocket;
  close(): Promise<void>;
}

/** A simulator and a client tuned to notice trouble in well under a second. */
export async function comfyFixture(options: SimulatorOptions = {}): Promise<ComfyFixture> {
  const sim = await startComfySimulator({ stepMs: 2, ...options });
  const http = new ComfyHttp({ baseUrl: sim.url, timeoutMs: 300 });
  const socket = new ComfySocket({
    baseUrl: sim.url,
    pingIntervalMs: 50,
    silenceMs: 250,
    reconnect: { baseMs: 50, capMs: 200 },
  });
  socket.start();
  await socket.waitOpen(2_000);
  return {
    sim,
    http,
    socket,
    close: async () => {
      socket.stop();
      await sim.close();
    },
  };
}

/** Follow-up timings for runPrompt in tests: probe soon, give up soon. */
export const FAST = { quietProbeMs: 200, unreachableMs: 600, progressIntervalMs: 0, socketWaitMs: 500 };

/** EmptyImage → ImageInvert → SaveImage. */
export function saveGraph(prefix = "test/out", color = 0x336699): PromptGraph {
  return {
    "1": { class_type: "EmptyImage", inputs: { width: 16, height: 8, batch_size: 1, color } },
    "2": { class_type: "ImageInvert", inputs: { image: ["1", 0] } },
    "3": { class_type: "SaveImage", inputs: { images: ["2", 0], filename_prefix: prefix } },
  };
}

/** A weightless text-to-image graph whose KSampler reports `steps` steps. */
export function samplerGraph(steps: number, seed = 7): PromptGraph {
  return {
    "4": { class_type: "CheckpointLoaderSimple", inputs: { ckpt_name: "v1-5-pruned-emaonly.safetensors" } },
    "5": { class_type: "EmptyLatentImage", inputs: { width: 64, height: 64, batch_size: 1 } },
    "6": { class_type: "CLIPTextEncode", inputs: { text: "a lighthouse", clip: ["4", 1] } },
    "7": { class_type: "CLIPTextEncode", inputs: { text: "blurry", clip: ["4", 1] } },
    "3": {
      class_type: "KSampler",
      inputs: {
        model: ["4", 0],
        seed,
        steps,
        cfg: 7,
        sampler_name: "euler",
        scheduler: "normal",
        positive: ["6", 0],
        negative: ["7", 0],
        latent_image: ["5", 0],
        denoise: 1,
      },
    },
    "8": { class_type: "VAEDecode", inputs: { samples: ["3", 0], vae: ["4", 2] } },
    "9": { class_type: "SaveImage", inputs: { images: ["8", 0], filename_prefix: "txt2img" } },
  };
}
