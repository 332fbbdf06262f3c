import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, readdirSync, readFileSync, type WriteStream } from "node:fs";

/**
 * Every process the bench starts runs in its own process group and is stopped, with everything it
 * started, when the bench ends: normally, on an error, or on Ctrl-C.
 */
export type Managed = {
  name: string;
  child: ChildProcess;
  pid: number;
  /** The last lines it printed, for error messages. */
  tail: () => string;
  exited: Promise<number | null>;
};

const managed = new Set<Managed>();
/** Process groups started by another launcher (the shared `wrangler dev` one), with their stop. */
const adopted = new Map<number, () => Promise<void>>();
let hooksInstalled = false;

/** Makes a process group started elsewhere stop with the bench, like one of its own. */
export function adopt(pid: number, stop: () => Promise<void>) {
  installHooks();
  adopted.set(pid, stop);
}

function installHooks() {
  if (hooksInstalled) return;
  hooksInstalled = true;
  // Last resort: whatever is still running when this process exits is killed with it.
  process.on("exit", () => {
    for (const m of managed) killGroup(m.pid, "SIGKILL");
    for (const pid of adopted.keys()) killGroup(pid, "SIGKILL");
  });
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      void stopAll().finally(() => process.exit(130));
    });
  }
}

function killGroup(pid: number, signal: NodeJS.Signals) {
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is gone already
  }
}

export function startProcess(
  name: string,
  command: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; logFile?: string } = {},
): Managed {
  installHooks();
  const child = spawn(command, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (child.pid === undefined) throw new Error(`could not start ${name} (${command})`);
  const log: WriteStream | null = opts.logFile ? createWriteStream(opts.logFile) : null;
  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    log?.write(chunk);
    for (const line of chunk.toString("utf8").split("\n")) if (line.trim()) lines.push(line);
    if (lines.length > 200) lines.splice(0, lines.length - 200);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<number | null>((resolve) => {
    child.once("exit", (code) => {
      managed.delete(entry);
      log?.end();
      resolve(code);
    });
  });
  const entry: Managed = { name, child, pid: child.pid, tail: () => lines.slice(-40).join("\n"), exited };
  managed.add(entry);
  return entry;
}

/** Stops one process group: SIGTERM, then SIGKILL after `graceMs`. */
export async function stopProcess(m: Managed, graceMs = 3000) {
  if (m.child.exitCode !== null || m.child.signalCode !== null) {
    killGroup(m.pid, "SIGKILL"); // children it left behind
    return;
  }
  killGroup(m.pid, "SIGTERM");
  const timer = setTimeout(() => killGroup(m.pid, "SIGKILL"), graceMs);
  await m.exited;
  clearTimeout(timer);
  killGroup(m.pid, "SIGKILL");
}

export async function stopAll() {
  const stops = [...adopted.values()];
  adopted.clear();
  await Promise.all([...[...managed].map((m) => stopProcess(m)), ...stops.map((stop) => stop())]);
}

/** Runs a command to completion; rejects with its output when it fails or takes longer than `timeoutMs`. */
export function runCommand(
  command: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    const add = (d: Buffer) => {
      output += d.toString("utf8");
    };
    child.stdout?.on("data", add);
    child.stderr?.on("data", add);
    const timer = setTimeout(() => {
      if (child.pid) killGroup(child.pid, "SIGKILL");
      reject(new Error(`${command} ${args.join(" ")} took longer than ${opts.timeoutMs} ms:\n${output}`));
    }, opts.timeoutMs ?? 120_000);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(output);
      else reject(new Error(`${command} ${args.join(" ")} exited ${code}:\n${output}`));
    });
  });
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Reads a Linux process's resident set size (kB → MB) and CPU time (ms) from /proc. */
export function processUsage(pid: number): { rssMb: number; cpuMs: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may contain spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime
  return { rssMb: rssKb / 1024, cpuMs: (ticks * 1000) / 100 };
}

/** CPU time (ms) used so far by every live process in a process group, read from /proc (Linux). */
export function groupCpuMs(pgid: number): number {
  let total = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) !== pgid) continue;
      total += ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
    } catch {
      // the process ended while we looked
    }
  }
  return total;
}

/** Resident memory (MB) of the live processes of a process group whose command name is `comm`. */
export function groupRssMb(pgid: number, comm: string): number {
  let total = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) !== pgid || name !== comm) continue;
      total += processUsage(Number(entry)).rssMb;
    } catch {
      // the process ended while we looked
    }
  }
  return total;
}
