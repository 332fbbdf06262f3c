import { DEFAULT_MODELS } from "./models";

export interface SimulatorOptions {
  /** 0 picks a free port. Default 0. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Simulated time per node and per sampler step, in ms; 0 runs as fast as possible. Default 20. */
  stepMs?: number;
  /** Per node class overrides of `stepMs`, e.g. `{ KSampler: 100 }`. */
  nodeMs?: Record<string, number>;
  /** The largest accepted request body (ComfyUI's `--max-upload-size`). Default 100 MiB. */
  maxUploadBytes?: number;
  /** The GPU that /system_stats reports. */
  deviceName?: string;
  /**
   * Keep ComfyUI's `input/`, `output/` and `temp/` as real files in this directory (ComfyUI's base
   * directory, as an agent's `--comfy-dir` names it). Default: in memory.
   */
  dir?: string;
  /**
   * Model files to put (weight-free) in `models/<folder>/` at start, unless already there; with `dir`
   * they are real files in `dir/models/`. Default: two checkpoints, a LoRA and a VAE (`DEFAULT_MODELS`).
   */
  models?: Readonly<Record<string, readonly string[]>>;
}

export type ResolvedOptions = Required<SimulatorOptions>;

export function resolveOptions(options: SimulatorOptions): ResolvedOptions {
  return {
    port: options.port ?? 0,
    host: options.host ?? "127.0.0.1",
    stepMs: options.stepMs ?? 20,
    nodeMs: options.nodeMs ?? {},
    maxUploadBytes: options.maxUploadBytes ?? 100 * 1024 * 1024,
    deviceName: options.deviceName ?? "cuda:0 Simulated GPU (comfy-edge ComfyUI simulator) : cudaMallocAsync",
    dir: options.dir ?? "",
    models: options.models ?? DEFAULT_MODELS,
  };
}
