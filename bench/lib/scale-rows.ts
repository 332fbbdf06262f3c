import type { backlogCost } from "./backlog";
import type { fanOut } from "./fan-out";
import { type Figure, figure } from "./report";
import { percentile } from "./stats";
import type { sustainedLoad } from "./sustained";

/** Row 7's figures: with the backlog against without it, each the run's own floor. */
export function backlogFigures(r: Awaited<ReturnType<typeof backlogCost>>): Figure[] {
  const note = `${r.backlog} runs waiting (pinned to a machine of the same pool that never connects) against none; measured runs one at a time to the pool's one connected agent (the bench's protocol agent)`;
  return [
    figure({
      id: 7,
      name: "dispatch p50 with a backlog",
      value: percentile(r.full.latency, 50),
      unit: "ms",
      floor: percentile(r.empty.latency, 50),
      target: "≤ 1.5× none waiting",
      check: { kind: "ratio_max", limit: 1.5 },
      n: r.full.latency.length,
      note,
    }),
    figure({
      id: 7,
      name: "accept CPU per run with a backlog",
      value: r.full.cpuPerRunMs,
      unit: "ms",
      floor: r.empty.cpuPerRunMs,
      target: "≤ 1.5× none waiting",
      check: { kind: "ratio_max", limit: 1.5 },
      n: r.full.latency.length,
      note: "CPU of the control plane's processes (wrangler dev, workerd) while each POST was open: accepting, storing, enqueueing and dispatching the run; mean per run",
    }),
  ];
}

/** Row 8's figures: report sent → the last subscriber has it, against a bare Durable Object's fan-out. */
export function fanOutFigures(r: Awaited<ReturnType<typeof fanOut>>, subscribers: number): Figure[] {
  return [
    figure({
      id: 8,
      name: `fan-out p50 to the last of ${subscribers} subscribers`,
      value: percentile(r.product, 50),
      unit: "ms",
      floor: percentile(r.floor, 50),
      target: "≤ 3× floor",
      check: { kind: "ratio_max", limit: 3 },
      n: r.product.length,
      note: `one run, ${subscribers} clients on GET /api/run/{id}/ws; progress report sent by the bench's protocol agent → the last client has the step; floor: ${subscribers} clients on a bare Durable Object, POST /push sent → the last has the message`,
    }),
  ];
}

/** Row 9's figures: completions keep up with accepts, no run is lost, and the memory comes back. */
export function sustainedFigures(r: Awaited<ReturnType<typeof sustainedLoad>>, clients: number): Figure[] {
  return [
    figure({
      id: 9,
      name: "sustained completions/s",
      value: r.completionsPerSecond,
      unit: "runs/s",
      floor: r.acceptsPerSecond,
      target: "≥ 0.8× accepts/s",
      check: { kind: "ratio_min", limit: 0.8 },
      n: r.accepted,
      note: `${r.accepted} runs from ${clients} clients; ${r.fleet}; floor = accepts/s over the queueing; completions/s from the first request to the last run's end; drained ${r.drainSeconds.toFixed(1)} s after the last accept`,
    }),
    figure({
      id: 9,
      name: "sustained errors / lost / run twice",
      value: r.errors + r.lost + r.runTwice,
      unit: "runs",
      floor: null,
      target: "0",
      check: { kind: "max", limit: 0 },
      note: `${r.errors} errors, ${r.lost} lost, ${r.runTwice} run twice${r.errorSamples.length ? `: ${r.errorSamples.join(" | ")}` : ""}`,
    }),
    figure({
      id: 9,
      name: "runtime memory after the drain",
      value: r.rssAfterMb,
      unit: "MB",
      floor: r.rssBeforeMb,
      target: "≤ 1.5× before",
      check: { kind: "ratio_max", limit: 1.5 },
      note: "resident memory of the workerd processes under wrangler dev: floor = connected and idle before the load (in a full run, after rows 1–8 in the same runtime; run alone, a cold runtime, which a bare Worker's load grows too: bench/README.md, \"Row 9's memory\"), value = once every run had ended",
    }),
  ];
}
