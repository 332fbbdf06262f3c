#!/usr/bin/env node
// Runs the fault e2e tests (test/e2e/faults.e2e.test.ts) with `--trials N` trials per fault, the full
// version of what CI runs with its small default; FAULT_TRIALS is the setting underneath.
import { spawn } from "node:child_process";
import path from "node:path";
import { root } from "./lib/dev-state.mjs";
import { readFaultArgs } from "./lib/fault-args.mjs";

let parsed;
try {
  parsed = readFaultArgs(process.argv.slice(2));
} catch (error) {
  console.error(error.message);
  process.exit(2);
}
const env = parsed.trials ? { ...process.env, FAULT_TRIALS: parsed.trials } : process.env;
const vitest = path.join(root, "node_modules", ".bin", "vitest");
const args = ["run", "--project", "e2e", "test/e2e/faults.e2e.test.ts", ...parsed.vitestArgs];
const child = spawn(vitest, args, { cwd: root, env, stdio: "inherit" });
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
