import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "../../..");
/** The one-file agent GPU hosts run, built once per e2e run (`build-artifacts.ts`). */
export const agentBundle = path.join(root, "gpu-agent", "dist", "comfy-edge-agent.mjs");

export type RunningAgent = {
  process: ChildProcess;
  logs(): string;
  /** Resolves once the agent's log says it holds a link (its hello was answered) `count` times. */
  connected(count?: number): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
};

/**
 * Starts the bundled agent as its own process, with its own state directory, or with `stateDir` (kept
 * when it stops, so that a restarted agent finds what the previous process left).
 */
export async function startAgent(opts: {
  server: string;
  token: string;
  comfy: string;
  /** ComfyUI's directory (or one per URL, comma-separated): the agent cleans the runs' files there. */
  comfyDir?: string;
  stateDir?: string;
  /** Seconds an unreachable ComfyUI fails a run after (the agent's `--comfy-down-s`). */
  comfyDownS?: number;
  /** The agent's `--progress-throttle-ms` (default 50); 0 relays every progress event. */
  progressThrottleMs?: number;
}): Promise<RunningAgent> {
  const stateDir = opts.stateDir ?? (await mkdtemp(path.join(tmpdir(), "comfy-edge-agent-")));
  const args = [agentBundle, "--server", opts.server, "--token", opts.token, "--comfy", opts.comfy];
  args.push("--state-dir", stateDir, "--allow-private-inputs", "--progress-throttle-ms");
  args.push(String(opts.progressThrottleMs ?? 50));
  if (opts.comfyDir) args.push("--comfy-dir", opts.comfyDir);
  if (opts.comfyDownS) args.push("--comfy-down-s", String(opts.comfyDownS));
  const child = spawn(process.execPath, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  let links = 0;
  const linkWaiters = new Set<() => void>();
  const collect = (d: Buffer) => {
    const text = d.toString();
    links += text.split("link: connected").length - 1;
    for (const wake of linkWaiters) wake();
    output = (output + text).slice(-20_000);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return {
    process: child,
    logs: () => output,
    connected: (count = 1) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (links >= count) {
            linkWaiters.delete(check);
            resolve();
          } else if (child.exitCode !== null || child.signalCode !== null) {
            linkWaiters.delete(check);
            reject(new Error(`the agent exited before connecting:\n${output}`));
          }
        };
        linkWaiters.add(check);
        child.once("exit", check);
        check();
      }),
    stop: async (signal = "SIGTERM") => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const code = await exited;
      if (!opts.stateDir) await rm(stateDir, { recursive: true, force: true });
      return code;
    },
  };
}
