import WebSocket from "ws";
import { progress, TestAgent } from "../../test/helpers/test-agent";
import { BENCH_AGENT, BENCH_GRAPH, BENCH_MARKER, withTimeout } from "./dispatch";
import { request } from "./http";
import { type Account, createDeployment, createMachine, queueRun } from "./product";
import { RunSocket } from "./run-socket";
import type { WranglerServer } from "./wrangler";

/** Sockets are opened this many at a time, so the bench does not stampede the runtime it measures. */
const OPENING = 50;

async function inBatches<T>(count: number, open: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < count; i += OPENING) {
    const batch = Array.from({ length: Math.min(OPENING, count - i) }, (_, j) => open(i + j));
    out.push(...(await Promise.all(batch)));
  }
  return out;
}

/** Resolves with the `performance.now()` at which the last of `count` arrivals was counted. */
function lastOf(count: number, what: string) {
  let seen = 0;
  let arrived: (at: number) => void = () => {};
  const done = withTimeout(
    new Promise<number>((resolve) => {
      arrived = resolve;
    }),
    30_000,
    what,
  );
  return {
    done,
    count: (at: number) => {
      seen += 1;
      if (seen === count) arrived(at);
    },
  };
}

/**
 * Row 8. One run with `subscribers` clients on its WebSocket (`GET /api/run/{id}/ws`); the bench's
 * protocol agent holds the run and sends `steps` progress reports one at a time. Each sample: report
 * sent → the last subscriber has that step. The floor: the same number of clients on a bare Durable
 * Object's hibernatable sockets, `POST /push` sent → the last client has the message.
 */
export async function fanOut(
  controlPlane: WranglerServer,
  floor: WranglerServer,
  account: Account,
  opts: { subscribers: number; steps: number },
) {
  const pool = "fan-out";
  const machine = await createMachine(controlPlane, account, "fan-out-agent", pool);
  const deploymentId = await createDeployment(controlPlane, account, pool, BENCH_GRAPH, BENCH_MARKER);
  const agent = await TestAgent.connect(machine.token, BENCH_AGENT(controlPlane.url));
  const sockets: RunSocket[] = [];
  try {
    const jobArrived = new Promise<Parameters<TestAgent["onJob"]>[0]>((resolve) => {
      agent.onJob = (job) => resolve(job);
    });
    const runId = await queueRun(controlPlane, account, deploymentId, 1);
    const job = await withTimeout(jobArrived, 10_000, `job for run ${runId}`);
    await agent.report(job, { kind: "started" });
    sockets.push(
      ...(await inBatches(opts.subscribers, () => RunSocket.open(controlPlane.url, account.apiKey, runId))),
    );
    const product: number[] = [];
    for (let step = 1; step <= opts.steps; step++) {
      const last = lastOf(sockets.length, `progress step ${step} at every subscriber`);
      for (const socket of sockets)
        socket.onEvent = (event) => {
          if (event.type === "progress" && event.data.percentage === step) last.count(event.receivedAt);
        };
      const sent = performance.now();
      await agent.report(job, progress(step));
      product.push((await last.done) - sent);
    }
    await agent.report(job, { kind: "succeeded", outputs: [] });
    return { product, floor: await fanOutFloor(floor, opts.subscribers, opts.steps) };
  } finally {
    for (const socket of sockets) socket.close();
    agent.close();
  }
}

async function fanOutFloor(floor: WranglerServer, subscribers: number, pushes: number): Promise<number[]> {
  const room = `fan-out-${Date.now()}`;
  let onMessage: (text: string, at: number) => void = () => {};
  const sockets = await inBatches(
    subscribers,
    () =>
      new Promise<WebSocket>((resolve, reject) => {
        const ws = new WebSocket(`${floor.url.replace(/^http/, "ws")}/ws/${room}`, {
          perMessageDeflate: false,
        });
        ws.on("message", (data) => onMessage(data.toString(), performance.now()));
        ws.once("open", () => resolve(ws));
        ws.once("error", reject);
      }),
  );
  const samples: number[] = [];
  try {
    for (let i = 0; i < pushes; i++) {
      const id = `fan-${i}`;
      const last = lastOf(sockets.length, `floor push ${id} at every client`);
      onMessage = (text, at) => {
        if (text === id) last.count(at);
      };
      const sent = performance.now();
      const res = await request("POST", `${floor.url}/push/${room}`, { body: id });
      if (res.status !== 200) throw new Error(`floor push → ${res.status}: ${res.body}`);
      samples.push((await last.done) - sent);
    }
  } finally {
    for (const ws of sockets) ws.close();
  }
  return samples;
}
