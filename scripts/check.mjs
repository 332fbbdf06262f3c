#!/usr/bin/env node
// `npm run check` after the dashboard is built: the linter, the type checks and wrangler's dry-run
// bundle. Each is one mostly single-threaded process, so they run side by side; every failure is shown.
import { run } from "./lib/processes.mjs";

const steps = [
  ["biome", ["check", "--error-on-warnings", "."]],
  ["tsc", ["--noEmit"]], // the Worker and its workerd tests
  ["tsc", ["-p", "tsconfig.node.json"]], // agent, simulator, e2e, bench and scripts in one program
  ["tsc", ["-p", "app"]],
  ["wrangler", ["deploy", "--dry-run", "--outdir", ".wrangler/dry-run"]],
];

const root = new URL("..", import.meta.url).pathname;
const results = await Promise.all(
  steps.map(async ([tool, args]) => {
    const name = [tool, ...args].join(" ");
    const started = Date.now();
    const outcome = await run(tool, args, { cwd: root }).then(
      () => null,
      (err) => err.message,
    );
    console.log(`${outcome ? "✗" : "✓"} ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    return outcome;
  }),
);
const failures = results.filter((failure) => failure !== null);
for (const failure of failures) console.error(`\n${failure}`);
process.exitCode = failures.length > 0 ? 1 : 0;
