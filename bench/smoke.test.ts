import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const root = path.resolve(import.meta.dirname, "..");
const tsx = path.join(root, "node_modules", "tsx", "dist", "cli.mjs");
const dir = mkdtempSync(path.join(os.tmpdir(), "comfy-edge-bench-smoke-"));
const out = path.join(dir, "results.json");

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `bench/run.ts --smoke` in a child process; resolves with its exit code and output. */
function runSmoke(): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [tsx, path.join(root, "bench", "run.ts"), "--smoke", "--out", out],
      {
        cwd: root,
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let output = "";
    child.stdout.on("data", (d: Buffer) => {
      output += d;
    });
    child.stderr.on("data", (d: Buffer) => {
      output += d;
    });
    const timer = setTimeout(() => child.kill("SIGINT"), 110_000);
    child.on("error", reject);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

type Figure = { id: number; name: string; value: number | null; unit: string; met: boolean | null };

describe("npm run bench -- --smoke", () => {
  it("measures every figure and writes results.json", async () => {
    const { code, output } = await runSmoke();
    expect(code, output).toBe(0);
    const results = JSON.parse(readFileSync(out, "utf8")) as {
      machine: Record<string, unknown>;
      at: string;
      figures: Figure[];
    };
    expect(results.machine.cpus).toBeGreaterThan(0);
    expect(Number.isNaN(Date.parse(results.at))).toBe(false);
    const ids = new Set(results.figures.map((f) => f.id));
    expect([...ids].sort()).toEqual([1, 2, 3, 4, 5, 6]);
    for (const f of results.figures) {
      expect(typeof f.value, `${f.id} ${f.name}: ${JSON.stringify(f)}`).toBe("number");
      expect(Number.isFinite(f.value), `${f.id} ${f.name}`).toBe(true);
    }
    // The correctness figures hold even in a smoke run.
    const mustBeZero = results.figures.filter((f) => /lost|twice|errors/.test(f.name));
    expect(mustBeZero.length).toBeGreaterThanOrEqual(4);
    for (const f of mustBeZero) expect(f.value, f.name).toBe(0);
  });
});
