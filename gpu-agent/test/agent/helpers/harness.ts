import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ApiGraph } from "../../../../src/protocol/graph";
import type { JobMessage } from "../../../../src/protocol/v1";
import { type ComfySimulator, startComfySimulator } from "../../../sim/simulator";
import { Agent } from "../../../src/agent";
import type { AgentConfig } from "../../../src/config";
import { createLogger, silentLogger } from "../../../src/log";
import type { AgentTimings } from "../../../src/timings";
import { MockControlPlane, type MockOptions } from "./mock-control-plane";

/** Everything short, so that faults show up in well under a second. */
export const FAST_TIMINGS: Partial<AgentTimings> = {
  backoff: { baseMs: 10, capMs: 50 },
  handshakeTimeoutMs: 2000,
  probeIntervalMs: 100,
  probeTimeoutMs: 500,
  uploadUrlTimeoutMs: 3000,
  uploadRetryDelayMs: 10,
  uploadRetryForMs: 300,
  inputTimeoutMs: 2000,
  gpuRefreshMs: 60_000,
  busyWaitMs: 1000,
  comfy: {
    requestTimeoutMs: 1000,
    quietProbeMs: 200,
    unreachableMs: 600,
    socketPingMs: 100,
    socketSilenceMs: 500,
    socketWaitMs: 1000,
  },
};

export const FAKE_GPU = {
  index: 0,
  name: "NVIDIA Test GPU",
  uuid: "GPU-test",
  memory_total_mb: 24_000,
  memory_used_mb: 100,
  utilization_percent: 0,
  temperature_c: 30,
  driver_version: "550.0",
};

export interface Harness {
  mock: MockControlPlane;
  sims: ComfySimulator[];
  sim: ComfySimulator;
  agent: Agent;
  stateDir: string;
  config: AgentConfig;
  close(): Promise<void>;
}

export interface HarnessOptions {
  mock?: MockOptions;
  comfyCount?: number;
  config?: Partial<AgentConfig>;
  stateDir?: string;
  timings?: Partial<AgentTimings>;
  /** Give each simulator a real directory for its files, and the agent those directories (`comfyDir`). */
  comfyDirs?: boolean;
  /** Prepares the state dir (an outbox or journal from "before") and the ComfyUIs before the agent starts. */
  beforeStart?: (stateDir: string, sims: ComfySimulator[]) => Promise<void>;
  /** What nvidia-smi reports (default: one fake GPU). */
  nvidiaGpus?: (typeof FAKE_GPU)[];
}

/** A mock control plane, simulated ComfyUIs, and an agent connected to both, ready for jobs. */
export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const mock = await MockControlPlane.start(options.mock);
  const dirs = Array.from({ length: options.comfyCount ?? 1 }, () =>
    options.comfyDirs ? mkdtempSync(join(tmpdir(), "comfyui-")) : undefined,
  );
  const sims = await Promise.all(dirs.map((dir) => startComfySimulator({ stepMs: 2, dir })));
  const stateDir = options.stateDir ?? mkdtempSync(join(tmpdir(), "agent-state-"));
  await options.beforeStart?.(stateDir, sims);
  const config: AgentConfig = {
    server: mock.url,
    token: "tok",
    comfy: sims.map((sim) => sim.url),
    stateDir,
    progressThrottleMs: 50,
    uploadConcurrency: 2,
    maxInputMb: 5,
    shutdownGraceS: 5,
    comfyDownS: 30,
    allowPrivateInputs: false,
    modelDownloads: 2,
    modelDiskReserveMb: 0,
    logLevel: "error",
    comfyDir: options.comfyDirs ? (dirs as string[]) : undefined,
    ...options.config,
  };
  const log = process.env.AGENT_TEST_LOG ? createLogger("debug") : silentLogger;
  const timings = { ...FAST_TIMINGS, ...options.timings };
  const agent = await Agent.start({
    config,
    log,
    timings,
    readGpus: async () => options.nvidiaGpus ?? [FAKE_GPU],
  });
  await mock.until(() => agent.linkState === "ready", "the agent's welcome");
  const sim = sims[0] as ComfySimulator;
  return {
    mock,
    sims,
    sim,
    agent,
    stateDir,
    config,
    async close() {
      if (agent.linkState !== "closed") await agent.close();
      await mock.close();
      await Promise.all(sims.map((s) => s.close()));
    },
  };
}

let runCounter = 0;

export function jobMessage(graph: ApiGraph, overrides: Partial<JobMessage> = {}): JobMessage {
  runCounter += 1;
  return {
    type: "job",
    run_id: `run-${runCounter}`,
    lease_token: `lease-${runCounter}`,
    lease_expires_at: Date.now() + 30_000,
    attempt: 1,
    instance_id: "comfy-0",
    graph,
    inputs: {},
    bindings: [],
    input_urls: {},
    deadline_at: null,
    ...overrides,
  };
}

/** EmptyImage → progress node (8 steps) → ImageInvert → SaveImage + PreviewImage, and a text output. */
export function imageGraph(prefix = "edge/test"): ApiGraph {
  return {
    "1": { class_type: "EmptyImage", inputs: { width: 32, height: 24, batch_size: 1, color: 255 } },
    "2": { class_type: "CRTestProgressPreview", inputs: { image: ["1", 0], steps: 8, delay: 0 } },
    "3": { class_type: "ImageInvert", inputs: { image: ["2", 0] } },
    "4": { class_type: "SaveImage", inputs: { images: ["3", 0], filename_prefix: prefix } },
    "5": { class_type: "PreviewImage", inputs: { images: ["3", 0] } },
    "6": { class_type: "PrimitiveString", inputs: { value: "hello from comfy" } },
    "7": { class_type: "PreviewAny", inputs: { source: ["6", 0] } },
  };
}

/** LoadImage of `image` → ImageInvert → SaveImage. */
export function loadImageGraph(image = "example.png"): ApiGraph {
  return {
    "1": { class_type: "LoadImage", inputs: { image } },
    "2": { class_type: "ImageInvert", inputs: { image: ["1", 0] } },
    "3": { class_type: "SaveImage", inputs: { images: ["2", 0], filename_prefix: "edge/loaded" } },
  };
}
