import { TestAgent } from "../../test/helpers/test-agent";
import { BENCH_AGENT, BENCH_GRAPH, BENCH_MARKER, timedDispatch, warmUp } from "./dispatch";
import { type Account, createDeployment, createMachine } from "./product";
import { queueFromClients } from "./throughput";
import type { WranglerServer } from "./wrangler";

/**
 * Row 7. The cost of one run when its pool's queue is empty and when `backlog` runs wait in it. The
 * backlog is real runs queued through the API, pinned to a machine of the same pool that never
 * connects, so they wait for the whole measurement in the same Dispatcher; the measured runs go to
 * the pool's one connected agent (the bench's protocol agent, one slot), one at a time, as in row 1.
 * For each run: POST sent → job frame at the agent, and the control plane's CPU while the POST was open
 * (accepting, storing, enqueueing and dispatching it).
 */
export async function backlogCost(
  controlPlane: WranglerServer,
  account: Account,
  opts: { backlog: number; runs: number; warmup: number; clients: number },
) {
  const pool = "backlog";
  const [online, parked] = await Promise.all([
    createMachine(controlPlane, account, "backlog-agent", pool),
    createMachine(controlPlane, account, "backlog-parked", pool),
  ]);
  const deploymentId = await createDeployment(controlPlane, account, pool, BENCH_GRAPH, BENCH_MARKER);
  const parkedId = await createDeployment(controlPlane, account, pool, BENCH_GRAPH, BENCH_MARKER, parked.id);
  const agent = await TestAgent.connect(online.token, BENCH_AGENT(controlPlane.url));
  let marker = 0;
  const oneRun = () => timedDispatch(controlPlane, account, agent, deploymentId, marker++);
  const measure = async () => {
    await warmUp(controlPlane, account, oneRun, opts.warmup);
    const latency: number[] = [];
    const cpu: number[] = [];
    for (let i = 0; i < opts.runs; i++) {
      const r = await oneRun();
      latency.push(r.latency);
      cpu.push(r.postCpuMs);
    }
    return { latency, cpuPerRunMs: cpu.reduce((a, b) => a + b, 0) / cpu.length };
  };
  try {
    const empty = await measure();
    let asked = 0;
    const filled = await queueFromClients(controlPlane, account, parkedId, {
      clients: opts.clients,
      more: () => asked++ < opts.backlog,
    });
    if (filled.accepted < opts.backlog)
      throw new Error(
        `the backlog took ${filled.accepted} of ${opts.backlog} runs: ${filled.errorSamples[0]}`,
      );
    const full = await measure();
    return { empty, full, backlog: filled.accepted };
  } finally {
    agent.close();
  }
}
