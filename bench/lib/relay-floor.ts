import path from "node:path";
import { type WebSocket, WebSocketServer } from "ws";
import { NODE_FLAGS } from "../../gpu-agent/src/node-flags";
import { withTimeout } from "./dispatch";
import { progressGraph } from "./footprint";
import { progressMessagesSent, startSimulators } from "./gpu-fleet";
import { type Managed, processUsage, sleep, startProcess, stopProcess } from "./procs";
import { median } from "./stats";
import { root } from "./wrangler";

const relayScript = path.join(root, "bench", "floor", "relay.mjs");

type RelayMessage =
  | { type: "ready" }
  | { type: "done"; relayed: number }
  | { type: "report"; event_id: string };

/**
 * The sink the bare relay reports to: acks each report as the control plane does, and hands the
 * relay's own messages (`ready`, `done`) to whoever waits for them.
 */
async function startSink() {
  const server = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    server.once("listening", resolve);
    server.once("error", reject);
  });
  const waiting = new Map<string, (message: RelayMessage, ws: WebSocket) => void>();
  server.on("connection", (ws) =>
    ws.on("message", (data) => {
      const message = JSON.parse(data.toString()) as RelayMessage;
      if (message.type === "report") {
        ws.send(JSON.stringify({ type: "ack", event_id: message.event_id, status: "ok" }));
        return;
      }
      waiting.get(message.type)?.(message, ws);
    }),
  );
  const next = <T extends RelayMessage["type"]>(type: T) =>
    new Promise<{ message: Extract<RelayMessage, { type: T }>; ws: WebSocket }>((resolve) =>
      waiting.set(type, (message, ws) =>
        resolve({ message: message as Extract<RelayMessage, { type: T }>, ws }),
      ),
    );
  const { port } = server.address() as { port: number };
  return { url: `ws://127.0.0.1:${port}`, next, close: () => new Promise((r) => server.close(r)) };
}

/** `message`, unless the relay exits first or it takes longer than two minutes. */
function fromRelay<T>(message: Promise<T>, relay: Managed, what: string): Promise<T> {
  const exited = relay.exited.then((code): never => {
    throw new Error(`the bare relay exited (${code}) before "${what}":\n${relay.tail()}`);
  });
  return withTimeout(Promise.race([message, exited]), 120_000, `the bare relay's "${what}"`);
}

/**
 * Row 5's floor: the CPU a bare relay (bench/floor/relay.mjs: plain Node with the agent's V8 flags and
 * `ws`, no agent code) spends per 1,000 progress events, relaying one prompt from each of `jobs`
 * simulators (as row 5 runs them) to a sink that acks every report. Warm, as row 5 measures the agent:
 * each process first relays one unmeasured round of those prompts, then the measured round, from /proc
 * between its `go` and `done` (every prompt finished, every ack read); `runs` times, each a fresh process.
 */
export async function relayFloor(
  workDir: string,
  opts: { jobs: number; steps: number; stepMs: number; runs: number },
) {
  const simulators = await startSimulators(opts.jobs, opts.stepMs);
  const sink = await startSink();
  const perThousand: number[] = [];
  try {
    for (let run = 0; run < opts.runs; run++) {
      const args = [relayScript, sink.url, ...simulators.map((s) => s.url)];
      // Row 5's graph, each prompt of each round with its own marker so that ComfyUI's cache runs every one.
      const prompts = (round: number) =>
        simulators.map((_, i) => progressGraph(opts.steps, 5_100_000 + (run * 2 + round) * opts.jobs + i));
      const relay = startProcess(`bare relay ${run}`, process.execPath, [...NODE_FLAGS, ...args], {
        logFile: path.join(workDir, `bare-relay-${run}.log`),
      });
      try {
        const { ws } = await fromRelay(sink.next("ready"), relay, "ready");
        const warmed = sink.next("done");
        ws.send(JSON.stringify({ type: "go", prompts: prompts(0) }));
        await fromRelay(warmed, relay, "done");
        // The warm round's last garbage is collected before the count starts, as for the agent's idle.
        await sleep(500);
        const done = sink.next("done");
        const cpuBefore = processUsage(relay.pid).cpuMs;
        const progressBefore = await progressMessagesSent();
        ws.send(JSON.stringify({ type: "go", prompts: prompts(1) }));
        const { message } = await fromRelay(done, relay, "done");
        const cpuMs = processUsage(relay.pid).cpuMs - cpuBefore;
        const progress = (await progressMessagesSent()) - progressBefore;
        if (message.relayed !== progress)
          throw new Error(`the bare relay relayed ${message.relayed} of ${progress} progress events`);
        perThousand.push((cpuMs / Math.max(1, progress)) * 1000);
      } finally {
        await stopProcess(relay);
      }
    }
  } finally {
    await sink.close();
    await Promise.all(simulators.map((s) => s.close()));
  }
  return { cpuPer1000ProgressMs: median(perThousand), runs: perThousand };
}
