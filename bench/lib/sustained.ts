import { BENCH_GRAPH, BENCH_MARKER } from "./dispatch";
import type { Fleet } from "./fleet";
import { groupRssMb, sleep } from "./procs";
import { type Account, createDeployment } from "./product";
import { drain, queueFromClients } from "./throughput";
import type { WranglerServer } from "./wrangler";

/** The runtime that holds the Worker, its Durable Objects and local D1/R2 under `wrangler dev`. */
const RUNTIME = "workerd";

/**
 * Row 9. `clients` clients queue `runs` runs of one deployment as fast as they are answered while
 * the fleet's agents (zero-time simulators) complete them. Accepts per second is over the queueing;
 * completions per second from the first request to the last run's end, so a backlog that drains more
 * slowly than it was accepted shows as a ratio below 1. The runtime's resident memory is read when the
 * fleet is connected and idle, and again once every run has ended (after `settleMs`).
 */
export async function sustainedLoad(
  controlPlane: WranglerServer,
  account: Account,
  pool: string,
  startFleet: () => Promise<Fleet>,
  opts: { runs: number; clients: number; drainTimeoutMs: number; settleMs: number },
) {
  const deploymentId = await createDeployment(controlPlane, account, pool, BENCH_GRAPH, BENCH_MARKER);
  const fleet = await startFleet();
  try {
    await sleep(opts.settleMs);
    const rssBeforeMb = groupRssMb(controlPlane.pid, RUNTIME);
    let asked = 0;
    const started = performance.now();
    const queued = await queueFromClients(controlPlane, account, deploymentId, {
      clients: opts.clients,
      more: () => asked++ < opts.runs,
    });
    const acceptSeconds = (performance.now() - started) / 1000;
    const { totals, drainedAt } = await drain(
      controlPlane,
      account,
      deploymentId,
      queued.accepted,
      opts.drainTimeoutMs,
    );
    await sleep(opts.settleMs);
    const rssAfterMb = groupRssMb(controlPlane.pid, RUNTIME);
    let runTwice = 0;
    for (const times of fleet.executions().values()) if (times > 1) runTwice++;
    return {
      accepted: queued.accepted,
      acceptsPerSecond: queued.accepted / acceptSeconds,
      completionsPerSecond: totals.success / ((drainedAt - started) / 1000),
      drainSeconds: (drainedAt - started) / 1000 - acceptSeconds,
      errors: queued.errors + totals.failed,
      lost: queued.accepted - totals.success - totals.failed,
      runTwice,
      errorSamples: [...queued.errorSamples, ...totals.failures],
      rssBeforeMb,
      rssAfterMb,
      fleet: fleet.label,
    };
  } finally {
    await fleet.stop();
  }
}
