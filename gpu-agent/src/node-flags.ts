/**
 * V8 flags the agent runs with: a young generation capped at 1 MB per semi-space (startup, every
 * ComfyUI's node definitions, otherwise grows it to 16 MB, which idle never gives back: about 20 MB), and
 * one V8 worker thread instead of one per core (each thread that collects or compiles in parallel holds
 * memory of its own: about 4 MB less while jobs run, at the same CPU). bench/README.md, row 5. A heap
 * flag only works on Node's command line.
 */
export const NODE_FLAGS = ["--max-semi-space-size=1", "--v8-pool-size=1"];

/** Set in the environment of the process restarted with the flags, so it never restarts again. */
const APPLIED = "COMFY_EDGE_AGENT_NODE_FLAGS";

type Execve = (file: string, args: string[], env: NodeJS.ProcessEnv) => never;

/**
 * Gives the agent its flags however it was started (`node agent.mjs`, the bundle's shebang, npx): when
 * Node was started without them, the process replaces itself (same pid, `process.execve`, Node >=
 * 22.15) with one started with them. Older Node carries on without; the README's unit passes them.
 */
export function applyNodeFlags(): void {
  const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? "").split(/\s+/)];
  const missing = NODE_FLAGS.filter((flag) => !given.some((arg) => arg.split("=")[0] === flag.split("=")[0]));
  const execve = (process as { execve?: Execve }).execve;
  if (missing.length === 0 || process.env[APPLIED] || typeof execve !== "function") return;
  const args = [process.execPath, ...missing, ...process.execArgv, ...process.argv.slice(1)];
  try {
    execve(process.execPath, args, { ...process.env, [APPLIED]: "1" });
  } catch {
    // Not allowed here (a sandbox, a Node built without it): the agent runs, with a larger heap.
  }
}
