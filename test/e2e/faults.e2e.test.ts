import { mkdtemp, readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type ComfySimulator, startComfySimulator } from "../../gpu-agent/sim/simulator";
import { type RunningAgent, startAgent } from "./support/agent";
import * as api from "./support/api";
import { objectKeys } from "./support/bucket";
import { FAULT_TEST_TIMEOUT_MS, FAULT_TRIALS, type FaultSummary, FaultTally } from "./support/fault-tally";
import { startTcpProxy } from "./support/tcp-proxy";
import { type E2EUser, type RunningWorker, sharedWorkerUrl, startWorker } from "./support/worker";

/**
 * Faults of the infrastructure, injected into real processes and repeated FAULT_TRIALS times each: none
 * may lose a run, run one twice in ComfyUI, or leave one stuck, and the simulators' folders must hold
 * nothing the agent put there afterwards.
 */

let worker: RunningWorker;
const cleanup: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  await sharedWorkerUrl(); // the dashboard and the agent are built by then
  // Longer than an agent restart takes, so a restarted agent finds its leases still held.
  worker = await startWorker({ vars: { LEASE_TTL_MS: "15000" } });
}, 420_000);

afterEach(async () => {
  for (const stop of cleanup.splice(0).reverse()) await stop().catch(() => undefined);
});

afterAll(async () => {
  await worker?.stop();
});

type GpuHost = {
  sims: ComfySimulator[];
  dirs: string[];
  agent: RunningAgent;
  /** Starts the agent again with the same token and state directory (after it was killed). */
  restartAgent(): Promise<RunningAgent>;
};

/** `count` simulators, each with its folders in a temporary directory, and one agent for them all. */
async function gpuHost(user: E2EUser, count: number, server = worker.url): Promise<GpuHost> {
  const dirs = await Promise.all(
    Array.from({ length: count }, () => mkdtemp(path.join(tmpdir(), "comfyui-"))),
  );
  const sims = await Promise.all(dirs.map((dir) => startComfySimulator({ stepMs: 10, dir })));
  for (const sim of sims) cleanup.push(() => sim.close());
  const machine = await api.call<{ token: string }>(worker, user, "POST", "/api/machine/custom", {
    name: "faults",
  });
  const stateDir = await mkdtemp(path.join(tmpdir(), "comfy-edge-agent-"));
  const launch = async () => {
    const agent = await startAgent({
      server,
      token: machine.token,
      comfy: sims.map((sim) => sim.url).join(","),
      comfyDir: dirs.join(","),
      stateDir,
    });
    cleanup.push(() => agent.stop("SIGKILL"));
    await agent.connected();
    return agent;
  };
  const host: GpuHost = {
    sims,
    dirs,
    agent: await launch(),
    restartAgent: async () => (host.agent = await launch()),
  };
  return host;
}

async function queueRun(user: E2EUser, deploymentId: string, fileId: string) {
  const { run_id } = await api.call<{ run_id: string }>(worker, user, "POST", "/api/run/deployment/queue", {
    deployment_id: deploymentId,
    inputs: { input_image: fileId },
  });
  return run_id;
}

/**
 * A fault trial's stage: a fresh user with `count` simulators behind one agent (linked through `server`),
 * a deployment and an input file to queue runs with, and the tally that judges the runs.
 */
async function faultStage(label: string, count: number, server = worker.url) {
  const user = await worker.createUser("faults");
  const host = await gpuHost(user, count, server);
  const sim = host.sims[0] as ComfySimulator;
  return {
    user,
    host,
    sim,
    deploymentId: await api.invertDeployment(worker, user),
    fileId: await api.uploadPng(worker, user, sim),
    tally: new FaultTally(label, worker, user),
  };
}

type FaultStage = Awaited<ReturnType<typeof faultStage>>;

/**
 * One run held mid-node on the stage's first simulator: `fault` hits it there, and it is let go once
 * `recover` is done, then waited on to its end.
 */
async function faultHeldRun(stage: FaultStage, fault: () => unknown, recover: () => Promise<unknown>) {
  const hold = stage.sim.holdNode("ImageInvert");
  const runId = await queueRun(stage.user, stage.deploymentId, stage.fileId);
  await hold.reached();
  await fault();
  stage.tally.add(runId);
  await recover();
  hold.release();
  await stage.tally.settle(runId);
  return runId;
}

/** Each run was executed on its first attempt: nothing handed it to ComfyUI again. */
async function expectFirstAttempts(user: E2EUser, runIds: string[]) {
  for (const runId of runIds) {
    expect((await api.call<api.RunView>(worker, user, "GET", `/api/run/${runId}`)).attempt).toBe(1);
  }
}

async function filesIn(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((entry) => entry.isFile()).map((entry) => entry.name);
}

/** Each simulator's input folder holds only ComfyUI's example picture again; output and temp are empty. */
async function expectNoLitter(host: GpuHost) {
  for (const dir of host.dirs) {
    await expect
      .poll(
        async () => ({
          input: await filesIn(path.join(dir, "input")),
          output: await filesIn(path.join(dir, "output")),
          temp: await filesIn(path.join(dir, "temp")),
        }),
        { timeout: 10_000 },
      )
      .toEqual({ input: ["example.png"], output: [], temp: [] });
  }
}

function expectNoHarm(summary: FaultSummary) {
  expect(summary).toMatchObject({ runs: FAULT_TRIALS, lost: 0, executedTwice: 0, stuck: 0 });
}

const running = (sim: ComfySimulator) => sim.queue().running.length > 0;

/** Presigned output PUTs, as they reach the local S3 endpoint of `wrangler dev`. */
const OUTPUT_PUT = /^PUT \/cdn-cgi\/local\/r2\/s3\/[^/]+\/outputs\//;

const outputPrefix = (user: E2EUser, runId: string) => `outputs/${user.id}/${runId}/`;

async function filesOfRun(user: E2EUser, runId: string) {
  type FileList = { files: { id: string }[] };
  return (await api.call<FileList>(worker, user, "GET", `/api/files?run_id=${runId}`)).files;
}

/** The run's objects in R2 beyond its file records: what nothing would ever clean up. */
async function orphanedObjects(user: E2EUser, runId: string) {
  const objects = await objectKeys(worker, outputPrefix(user, runId));
  return Math.max(0, objects.length - (await filesOfRun(user, runId)).length);
}

/** Waits until no instance holds the run any more: its Dispatcher has finished with it. */
async function untilLetGo(user: E2EUser, runId: string) {
  type Instances = { data: { current_task_id: string | null }[] };
  const holding = async () =>
    (await api.call<Instances>(worker, user, "GET", "/api/instances")).data.some(
      (i) => i.current_task_id === runId,
    );
  await expect.poll(holding, { timeout: 30_000 }).toBe(false);
}

type RunFrame = { type: string; seq: number; at?: string; data: { status?: string } };

/** A subscriber of the run's socket, resuming after `after` when given. */
function subscribe(user: E2EUser, runId: string, after?: number) {
  const query = after === undefined ? "" : `&after=${after}`;
  const ws = new WebSocket(
    `${worker.url.replace("http", "ws")}/api/run/${runId}/ws?token=${user.apiKey}${query}`,
  );
  const frames: RunFrame[] = [];
  ws.addEventListener("message", (e) => {
    frames.push(JSON.parse(String(e.data)));
  });
  const closed = new Promise<void>((resolve) => ws.addEventListener("close", () => resolve()));
  return {
    frames,
    /** Resolves when the socket closes; fails after `ms`, saying so, instead of holding the test. */
    closedWithin: (ms: number) =>
      Promise.race([
        closed,
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error(`run ${runId}'s socket still open after ${ms} ms`)), ms),
        ),
      ]),
    /** The numbered events: neither the snapshot nor a preview. */
    events: () => frames.filter((f) => f.type !== "snapshot" && typeof f.seq === "number"),
  };
}

async function cancel(user: E2EUser, runId: string) {
  return api.call<{ status: string }>(worker, user, "POST", `/api/run/${runId}/cancel`);
}

describe(`infrastructure faults (${FAULT_TRIALS} trials each; FAULT_TRIALS sets it)`, {
  timeout: FAULT_TEST_TIMEOUT_MS,
}, () => {
  it("agent SIGKILLed mid-run and restarted while ComfyUI keeps running: picked up, executed once", async () => {
    const stage = await faultStage("agent SIGKILL + restart", 1);
    const { user, host, sim, tally } = stage;
    const runIds: string[] = [];
    for (let trial = 0; trial < FAULT_TRIALS; trial++) {
      runIds.push(
        await faultHeldRun(
          stage,
          () => host.agent.stop("SIGKILL"),
          () => host.restartAgent(),
        ),
      );
    }
    expectNoHarm(await tally.summarize(host.sims));
    for (const runId of runIds) {
      const run = await api.call<api.RunView>(worker, user, "GET", `/api/run/${runId}`);
      expect(run.attempt).toBe(1);
      expect(run.outputs.flatMap((output) => output.data.images ?? [])).toHaveLength(1);
    }
    expect(sim.counters.prompts).toBe(FAULT_TRIALS);
    await expectNoLitter(host);
  });

  it("ComfyUI killed mid-run with a second instance available: the run moves there, executed once", async () => {
    const { user, host, deploymentId, fileId, tally } = await faultStage(
      "ComfyUI crash, second instance available",
      2,
    );
    for (let trial = 0; trial < FAULT_TRIALS; trial++) {
      const holds = host.sims.map((sim) => sim.holdNode("ImageInvert"));
      const runId = await queueRun(user, deploymentId, fileId);
      await Promise.race(holds.map((hold) => hold.reached()));
      const crashed = host.sims.findIndex(running);
      const other = 1 - crashed;
      const connectionsBefore = (host.sims[crashed] as ComfySimulator).counters.wsConnections;
      await (host.sims[crashed] as ComfySimulator).crash();
      tally.add(runId);
      holds[crashed]?.release();
      await holds[other]?.reached();
      holds[other]?.release();
      await tally.settle(runId);
      await (host.sims[crashed] as ComfySimulator).restart();
      await expect
        .poll(() => (host.sims[crashed] as ComfySimulator).counters.wsConnections, { timeout: 20_000 })
        .toBeGreaterThan(connectionsBefore);
    }
    expectNoHarm(await tally.summarize(host.sims));
    await expectNoLitter(host);
  });

  it("ComfyUI killed mid-run with no other instance: the run waits, then runs once ComfyUI is back", async () => {
    const { user, host, sim, deploymentId, fileId, tally } = await faultStage(
      "ComfyUI crash, no other instance",
      1,
    );
    for (let trial = 0; trial < FAULT_TRIALS; trial++) {
      const hold = sim.holdNode("ImageInvert");
      const runId = await queueRun(user, deploymentId, fileId);
      await hold.reached();
      await sim.crash();
      tally.add(runId);
      hold.release();
      // Handed back and waiting for a slot, not failed.
      const requeued = await api.waitForStatus(worker, user, runId, ["not-started", "failed"], 30_000);
      expect(requeued).toMatchObject({ status: "not-started", attempt: 2 });
      await sim.restart();
      await tally.settle(runId);
    }
    expectNoHarm(await tally.summarize(host.sims));
    await expectNoLitter(host);
  });

  it("control plane restarted on its state, idle and under load: leases reclaimed, nothing run twice", async () => {
    const { user, host, sim, deploymentId, fileId, tally } = await faultStage("control-plane restart", 1);
    const runIds: string[] = [];
    for (let trial = 0; trial < FAULT_TRIALS; trial++) {
      // Every other restart is under load: a run mid-node and two more waiting in the queue.
      const hold = sim.holdNode("ImageInvert");
      const batch: string[] = [];
      for (let i = 0; i < (trial % 2 === 0 ? 1 : 3); i++)
        batch.push(await queueRun(user, deploymentId, fileId));
      await hold.reached();
      // A subscriber of the held run has its every event so far, then the restart cuts it off.
      const before = subscribe(user, batch[0] as string, 0);
      await expect
        .poll(
          () =>
            (before.events().at(-1)?.seq ?? 0) >= (before.frames[0]?.seq ?? 1) &&
            before.events().some((f) => f.type === "progress"),
          {
            timeout: 10_000,
          },
        )
        .toBe(true);
      await worker.restart();
      await before.closedWithin(30_000);
      for (const runId of batch) tally.add(runId);
      runIds.push(...batch);
      await host.agent.connected(trial + 2);
      const after = subscribe(user, batch[0] as string, 0);
      hold.release();
      for (const runId of batch) await tally.settle(runId);
      await after.closedWithin(30_000);
      // Its snapshot is where the run was, even when the restart took the room's last status events.
      expect(["running", "uploading", "success"]).toContain(after.frames[0]?.data.status);
      // Its events of the last moment may be gone from the replay, but no number names another event.
      const what = (f: RunFrame) => JSON.stringify([f.type, f.data, f.at]);
      const replayed = new Map(after.events().map((f) => [f.seq, what(f)]));
      for (const event of before.events())
        if (replayed.has(event.seq)) expect(replayed.get(event.seq)).toBe(what(event));
      const seqs = after.events().map((f) => f.seq);
      expect(seqs).toEqual([...new Set(seqs)].sort((a, b) => a - b));
      expect(after.events().at(-1)).toMatchObject({ type: "status", data: { status: "success" } });
    }
    const summary = await tally.summarize(host.sims);
    expect(summary).toMatchObject({ runs: runIds.length, lost: 0, executedTwice: 0, stuck: 0 });
    await expectFirstAttempts(user, runIds);
    expect(sim.counters.prompts).toBe(runIds.length);
    await expectNoLitter(host);
  });

  it("cancel racing with the output upload, both ways: cancel wins until success is recorded; no orphaned object", async () => {
    const target = new URL(worker.url);
    // The agent reaches the control plane, and so R2's presigned PUTs, through the proxy.
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port) });
    cleanup.push(() => proxy.close());
    const { user, host, deploymentId, fileId, tally } = await faultStage(
      "cancel racing with upload",
      1,
      proxy.url,
    );
    for (let trial = 0; trial < FAULT_TRIALS; trial++) {
      // The output is in R2 but the agent has not heard so, so it has not reported success: cancel now.
      const hold = proxy.holdReplies(OUTPUT_PUT);
      const cancelledRun = await queueRun(user, deploymentId, fileId);
      await hold.reached();
      expect(await objectKeys(worker, outputPrefix(user, cancelledRun))).toHaveLength(1);
      expect(await cancel(user, cancelledRun)).toMatchObject({ status: "cancelled" });
      tally.add(cancelledRun, "cancelled");
      await tally.settle(cancelledRun);
      await untilLetGo(user, cancelledRun);
      hold.release();
      expect(await objectKeys(worker, outputPrefix(user, cancelledRun))).toEqual([]);
      expect(await filesOfRun(user, cancelledRun)).toEqual([]);

      // Success recorded first: the cancel right after it changes nothing, and the files stay.
      const finishedRun = await queueRun(user, deploymentId, fileId);
      await api.waitForStatus(worker, user, finishedRun, ["success", "failed", "cancelled"], 60_000);
      expect(await cancel(user, finishedRun)).toMatchObject({ status: "success" });
      tally.add(finishedRun, "success");
      await tally.settle(finishedRun);
      const [file] = await filesOfRun(user, finishedRun);
      expect(await objectKeys(worker, outputPrefix(user, finishedRun))).toHaveLength(1);
      const content = await fetch(`${worker.url}/api/files/${file?.id}`, {
        headers: { Authorization: `Bearer ${user.apiKey}` },
      });
      expect(content.status).toBe(200);
      expect((await content.arrayBuffer()).byteLength).toBeGreaterThan(0);
    }
    const summary = await tally.summarize(host.sims, (runId) => orphanedObjects(user, runId));
    expect(summary).toMatchObject({
      runs: 2 * FAULT_TRIALS,
      lost: 0,
      executedTwice: 0,
      stuck: 0,
      orphanedObjects: 0,
    });
    await expectNoLitter(host);
  });

  it("connection to the control plane cut mid-run through a proxy: the runs carry on, executed once", async () => {
    const target = new URL(worker.url);
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port) });
    cleanup.push(() => proxy.close());
    const stage = await faultStage("control-plane link cut", 1, proxy.url);
    const { user, host, tally } = stage;
    const runIds: string[] = [];
    for (let trial = 0; trial < FAULT_TRIALS; trial++) {
      runIds.push(
        await faultHeldRun(
          stage,
          () => proxy.cut(),
          () => host.agent.connected(trial + 2),
        ),
      );
    }
    expectNoHarm(await tally.summarize(host.sims));
    await expectFirstAttempts(user, runIds);
    await expectNoLitter(host);
  });
});
