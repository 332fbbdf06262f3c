import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const root = path.resolve(import.meta.dirname, "../../..");
export const agentBundle = path.join(root, "gpu-agent", "dist", "comfy-edge-agent.mjs");

/** Builds the one-file agent that GPU hosts run. */
export async function buildAgent() {
  await promisify(execFile)(process.execPath, [path.join(root, "gpu-agent", "build.mjs")], { cwd: root });
}

export type RunningAgent = {
  process: ChildProcess;
  logs(): string;
  /** Resolves once the agent's log says it holds a link (its hello was answered). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
};

/** Starts the bundled agent as its own process, with its own state directory. */
export async function startAgent(opts: {
  server: string;
  token: string;
  comfy: string;
  /** Seconds an unreachable ComfyUI fails a run after (the agent's `--comfy-down-s`). */
  comfyDownS?: number;
}): Promise<RunningAgent> {
  const stateDir = await mkdtemp(path.join(tmpdir(), "comfy-edge-agent-"));
  const args = [agentBundle, "--server", opts.server, "--token", opts.token, "--comfy", opts.comfy];
  args.push("--state-dir", stateDir, "--allow-private-inputs", "--progress-throttle-ms", "50");
  if (opts.comfyDownS) args.push("--comfy-down-s", String(opts.comfyDownS));
  const child = spawn(process.execPath, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const collect = (d: Buffer) => {
    output = (output + d.toString()).slice(-20_000);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return {
    process: child,
    logs: () => output,
    stop: async (signal = "SIGTERM") => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const code = await exited;
      await rm(stateDir, { recursive: true, force: true });
      return code;
    },
  };
}
