import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ComfySimulator, startComfySimulator } from "../../gpu-agent/sim/simulator";
import { type RunningAgent, startAgent } from "./support/agent";
import { idsFrom, RUNNABLE_MARK, runnableBlocks, shellCommands } from "./support/readme";
import { type E2EUser, sharedWorker } from "./support/worker";

const root = path.resolve(import.meta.dirname, "../..");
const readme = readFileSync(path.join(root, "README.md"), "utf8");
const TERMINAL = ["success", "failed", "cancelled", "timeout"];

const worker = sharedWorker();
let sim: ComfySimulator;
let agent: RunningAgent;
let user: E2EUser;

// What a fresh `npm start` gives a newcomer: the control plane, a ComfyUI (here the simulator), one
// agent on a machine of the default pool, and an API key.
beforeAll(async () => {
  sim = await startComfySimulator({ stepMs: 5 });
  user = await worker.createUser("newcomer");
  const res = await fetch(`${worker.url}/api/machine/custom`, {
    method: "POST",
    headers: { Authorization: `Bearer ${user.apiKey}`, "Content-Type": "application/json" },
    body: JSON.stringify({ name: "local-dev", pool: "default" }),
  });
  const machine = (await res.json()) as { token: string };
  agent = await startAgent({ server: worker.url, token: machine.token, comfy: sim.url });
});

afterAll(async () => {
  await agent?.stop();
  await sim?.close();
});

/** Runs one README command as written, with this test's port, key and the ids seen so far put in. */
async function runAsWritten(command: string, assignments: string[], ids: Record<string, string>) {
  const filled = command
    .replaceAll("localhost:8787", worker.url.replace("http://", ""))
    .replace(/<([a-z_]+)>/g, (whole, name: string) => {
      const id = ids[name];
      if (id === undefined) throw new Error(`nothing printed before "${command}" gives ${whole}`);
      return id;
    });
  const script = [...assignments, filled].join("\n");
  const { stdout } = await promisify(execFile)("bash", ["-euc", script], { cwd: root });
  try {
    return JSON.parse(stdout) as unknown;
  } catch {
    return stdout;
  }
}

describe("the README", () => {
  it("marks its runnable shell blocks, and leaves no other block to be taken for one", () => {
    expect(readme.split(RUNNABLE_MARK).length - 1).toBe(runnableBlocks(readme).length);
    expect(runnableBlocks(readme).length).toBeGreaterThan(0);
    expect(shellCommands("A='x\ny' # c\n# d\nb \\\n c")).toEqual(["A='x\ny'", "b   c"]);
  });

  it("runs a workflow, command by command as written, to a successful run with outputs", async () => {
    const ids: Record<string, string> = {};
    const assignments: string[] = [];
    let last: { command: string; reply: unknown } | undefined;
    for (const command of runnableBlocks(readme).flat()) {
      if (/^[A-Z_]+=/.test(command)) {
        assignments.push(command.replace(/^KEY=ce_live_…/, `KEY=${user.apiKey}`));
        continue;
      }
      const reply = await runAsWritten(command, assignments, ids);
      expect(reply, command).toBeTypeOf("object");
      // Not the error envelope (a run's own `error` is null while it goes well).
      expect(reply, command).not.toMatchObject({ error: expect.any(String), message: expect.any(String) });
      Object.assign(ids, idsFrom(command, reply));
      last = { command, reply };
    }
    // The last command reads the run; a newcomer repeats it until the run has ended.
    let run = last!.reply as { status: string; outputs: { data: { images?: { url: string }[] } }[] };
    const deadline = Date.now() + 60_000;
    while (!TERMINAL.includes(run.status) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      run = (await runAsWritten(last!.command, assignments, ids)) as typeof run;
    }
    expect(run.status, JSON.stringify(run)).toBe("success");
    const image = run.outputs[0]?.data.images?.[0];
    expect(image?.url).toBeTruthy();
    const output = await fetch(image!.url);
    expect(output.status).toBe(200);
    expect(output.headers.get("content-type")).toBe("image/png");
  });
});
