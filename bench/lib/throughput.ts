import { BENCH_GRAPH, BENCH_MARKER } from "./dispatch";
import type { Fleet } from "./fleet";
import { floorThroughput } from "./floor";
import { bearer, call, request } from "./http";
import { groupCpuMs, sleep } from "./procs";
import { type Account, createDeployment } from "./product";
import type { WranglerServer } from "./wrangler";

type Totals = Record<"success" | "failed" | "other", number>;

/** What a client of the accept-shaped floor sends: a job-sized JSON body (the bench's graph, padded to 2 KB). */
const JOB_BODY = (() => {
  const job = { graph: BENCH_GRAPH, inputs: { marker: 0 }, padding: "" };
  job.padding = "x".repeat(2048 - JSON.stringify(job).length);
  return JSON.stringify(job);
})();

type FloorRun = Awaited<ReturnType<typeof floorThroughput>>;

/**
 * Both throughput floors, `ms` each, one after the other: one D1 insert per request (`POST /insert`),
 * and an accept's trips with the job as body (`POST /accept/{pool}`; bench/floor/src/index.ts).
 * `acceptFirst` swaps their order, so that across both halves neither always runs first.
 */
async function throughputFloors(
  floor: WranglerServer,
  pool: string,
  opts: { clients: number; ms: number; acceptFirst: boolean },
) {
  const insert = () =>
    floorThroughput(floor, "/insert", (client, i) => `w${client}-${i}`, opts.clients, opts.ms);
  const accept = () => floorThroughput(floor, `/accept/${pool}`, () => JOB_BODY, opts.clients, opts.ms);
  if (opts.acceptFirst) {
    const acceptRun = await accept();
    return { accept: acceptRun, insert: await insert() };
  }
  const insertRun = await insert();
  return { insert: insertRun, accept: await accept() };
}

/** Requests per second and the floor's CPU (ms) per request, over both halves of one floor. */
function floorRate(before: FloorRun, after: FloorRun) {
  const ok = before.ok + after.ok;
  return {
    perSecond: ok / (before.seconds + after.seconds),
    cpuPerRequestMs: (before.cpuMs + after.cpuMs) / Math.max(1, ok),
    errors: before.errors + after.errors,
  };
}

export async function countRuns(
  controlPlane: WranglerServer,
  account: Account,
  deploymentId: string,
): Promise<Totals> {
  const total = async (status: string) => {
    const page = await call<{ total: number }>(
      "GET",
      `${controlPlane.url}/api/runs?deployment_id=${deploymentId}&status=${status}&limit=1`,
      { headers: bearer(account.apiKey) },
    );
    return page.total;
  };
  const [success, failed, other] = await Promise.all([
    total("success"),
    total("failed,cancelled,timeout"),
    total("not-started,queued,running,uploading"),
  ]);
  return { success, failed, other };
}

/**
 * Row 3. `clients` concurrent clients queue runs of one deployment for `durationMs`; the fleet's
 * agents complete every run. The figure is runs accepted (2xx) per second. Then the bench waits for
 * every accepted run to end and checks none failed, none was lost and none reached ComfyUI twice.
 * The floors (one D1 insert per request; an accept's trips without the product, `throughputFloors`;
 * same clients) are each measured for half the time before and half after (once every run has
 * ended), so a change in the machine's load weighs on all.
 */
export async function throughput(
  controlPlane: WranglerServer,
  floor: WranglerServer,
  account: Account,
  pool: string,
  startFleet: () => Promise<Fleet>,
  opts: { clients: number; durationMs: number; drainTimeoutMs: number },
) {
  const deploymentId = await createDeployment(controlPlane, account, pool, BENCH_GRAPH, BENCH_MARKER);
  const fleet = await startFleet();
  try {
    const half = { clients: opts.clients, ms: opts.durationMs / 2 };
    const before = await throughputFloors(floor, pool, { ...half, acceptFirst: false });
    let productCpu = groupCpuMs(controlPlane.pid);
    const benchCpu = process.cpuUsage();

    const started = performance.now();
    const deadline = started + opts.durationMs;
    const { accepted, errors, errorSamples } = await queueFromClients(controlPlane, account, deploymentId, {
      clients: opts.clients,
      more: () => performance.now() < deadline,
    });
    const seconds = (performance.now() - started) / 1000;
    const acceptedAt = performance.now();

    const { totals, drainedAt } = await drain(
      controlPlane,
      account,
      deploymentId,
      accepted,
      opts.drainTimeoutMs,
    );
    errorSamples.push(...totals.failures);
    productCpu = groupCpuMs(controlPlane.pid) - productCpu;
    const benchCpuMs = (({ user, system }) => (user + system) / 1000)(process.cpuUsage(benchCpu));
    // The second half of the floors runs once the product is idle again, like the first.
    const after = await throughputFloors(floor, pool, { ...half, acceptFirst: true });
    const insertFloor = floorRate(before.insert, after.insert);
    const acceptFloor = floorRate(before.accept, after.accept);
    const executions = fleet.executions();
    let runTwice = 0;
    for (const times of executions.values()) if (times > 1) runTwice++;
    return {
      perSecond: accepted / seconds,
      floorPerSecond: insertFloor.perSecond,
      /** The accept-shaped floor: its requests per second, its processes' CPU per request, its errors. */
      acceptFloor,
      accepted,
      errors: errors + totals.failed,
      httpErrors: errors,
      failedRuns: totals.failed,
      errorSamples,
      lost: accepted - totals.success - totals.failed,
      runTwice,
      executed: executions.size,
      /** Runs completed per second, from the first request until the last run ended. */
      completedPerSecond: totals.success / ((drainedAt - started) / 1000),
      drainSeconds: (drainedAt - acceptedAt) / 1000,
      floorErrors: insertFloor.errors,
      /** CPU the control plane's processes (wrangler + workerd) spent per accepted run, until all ended. */
      productCpuPerRunMs: productCpu / Math.max(1, accepted),
      /** CPU the floor's processes spent per insert. */
      floorCpuPerRequestMs: insertFloor.cpuPerRequestMs,
      /** CPU the bench process itself (clients, agents in-process) spent during the product phase. */
      benchCpuMs,
      fleet: fleet.label,
    };
  } finally {
    await fleet.stop();
  }
}

/**
 * `clients` concurrent clients each queue runs of the deployment one after another while `more()` says
 * so (asked before each request); every run gets its own marker. Counts 2xx answers and the rest.
 */
export async function queueFromClients(
  controlPlane: WranglerServer,
  account: Account,
  deploymentId: string,
  opts: { clients: number; more: () => boolean },
) {
  let accepted = 0;
  let errors = 0;
  const errorSamples: string[] = [];
  let nextMarker = 1;
  const failed = (sample: string) => {
    errors++;
    if (errorSamples.length < 5) errorSamples.push(sample);
  };
  await Promise.all(
    Array.from({ length: opts.clients }, async () => {
      while (opts.more()) {
        const marker = nextMarker++;
        try {
          const res = await request("POST", `${controlPlane.url}/api/run/deployment/queue`, {
            body: { deployment_id: deploymentId, inputs: { marker } },
            headers: bearer(account.apiKey),
          });
          if (res.status === 200) accepted++;
          else failed(`${res.status} ${res.body.slice(0, 200)}`);
        } catch (err) {
          failed(String(err));
        }
      }
    }),
  );
  return { accepted, errors, errorSamples };
}

/**
 * Waits until every accepted run of the deployment has ended (or `timeoutMs` passes); returns the
 * totals by outcome, when they were read, and a few failed runs' errors.
 */
export async function drain(
  controlPlane: WranglerServer,
  account: Account,
  deploymentId: string,
  accepted: number,
  timeoutMs: number,
) {
  let totals = await countRuns(controlPlane, account, deploymentId);
  const deadline = Date.now() + timeoutMs;
  while (totals.success + totals.failed < accepted && Date.now() < deadline) {
    await sleep(250);
    totals = await countRuns(controlPlane, account, deploymentId);
  }
  const drainedAt = performance.now();
  const failures: string[] = [];
  if (totals.failed > 0) {
    const page = await call<{ runs: { status: string; error: unknown }[] }>(
      "GET",
      `${controlPlane.url}/api/runs?deployment_id=${deploymentId}&status=failed,cancelled,timeout&limit=3`,
      { headers: bearer(account.apiKey) },
    );
    for (const run of page.runs)
      failures.push(`run ${run.status}: ${JSON.stringify(run.error).slice(0, 200)}`);
  }
  return { totals: { ...totals, failures }, drainedAt };
}
