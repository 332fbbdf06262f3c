import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const root = path.resolve(import.meta.dirname, "..");
const tsx = path.join(root, "node_modules", "tsx", "dist", "cli.mjs");
const dir = mkdtempSync(path.join(os.tmpdir(), "comfy-edge-bench-smoke-"));
const out = path.join(dir, "results.json");

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The rows a run prints, by row id: whatever the machine's load, each must be there, measured. */
const ROWS: [number, RegExp][] = [
  [1, /^dispatch latency p50$/],
  [1, /^dispatch latency p99$/],
  [2, /^progress latency p50$/],
  [2, /^progress latency p99$/],
  [2, /^progress events lost$/],
  [3, /^throughput \(runs accepted\/s\)$/],
  [3, /^throughput vs an accept-shaped floor$/],
  [3, /^throughput errors$/],
  [3, /^throughput runs lost$/],
  [3, /^throughput runs run twice$/],
  [4, /^overhead per run p50$/],
  [5, /^agent RSS idle$/],
  [5, /^agent RSS, \d+ jobs in flight$/],
  [5, /^agent CPU per 1,000 progress events$/],
  [6, /^bytes up \(/],
  [6, /^bytes down \(/],
  [7, /^dispatch p50 with a backlog$/],
  [7, /^accept CPU per run with a backlog$/],
  [8, /^fan-out p50 to the last of \d+ subscribers$/],
  [9, /^sustained completions\/s$/],
  [9, /^sustained errors \/ lost \/ run twice$/],
  [9, /^runtime memory after the drain$/],
];

let child: ChildProcess | undefined;
afterAll(() => {
  // The test's own timeout ends it; the bench then stops everything it started on SIGINT.
  if (child?.exitCode === null) child.kill("SIGINT");
});

/** Runs `bench/run.ts --smoke` in a child process; resolves with its exit code and output. */
function runSmoke(): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    child = spawn(process.execPath, [tsx, path.join(root, "bench", "run.ts"), "--smoke", "--out", out], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    const keep = (d: Buffer) => {
      output += d;
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    child.on("error", reject);
    child.on("exit", (code) => resolve({ code, output }));
  });
}

type Figure = { id: number; name: string; value: number | null; note?: string };

// Figures depend on the machine's load (a loaded machine may deliver every progress step late, as a
// replay, and leave a latency empty); what the smoke run checks is that the bench runs to its end and
// measures every row without an error.
describe("npm run bench -- --smoke", () => {
  it("runs every part to its end and writes every row to results.json", async () => {
    const { code, output } = await runSmoke();
    expect(code, output).toBe(0);
    const results = JSON.parse(readFileSync(out, "utf8")) as {
      machine: { cpus: number };
      at: string;
      mode: string;
      figures: Figure[];
    };
    expect(results.machine.cpus).toBeGreaterThan(0);
    expect(Number.isNaN(Date.parse(results.at))).toBe(false);
    expect(results.mode).toBe("smoke");
    const failed = results.figures.filter((f) => f.note?.startsWith("not measured"));
    expect(failed, output).toEqual([]);
    expect(results.figures.map((f) => [f.id, f.name])).toEqual(
      ROWS.map(([id, name]) => [id, expect.stringMatching(name)]),
    );
    for (const f of results.figures)
      expect(f.value === null || typeof f.value === "number", f.name).toBe(true);
  });
});
