import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocketServer } from "ws";
import { ComfyProcess, type Durable } from "./comfy-process";
import { type SimulatorCounters, zeroCounters } from "./counters";
import { Crashed, Faults, NodeHold } from "./faults";
import { FileStore } from "./files";
import { serverError, writeReply } from "./http/reply";
import { route } from "./http/router";
import { encodePng } from "./image/png";
import { seededGradient } from "./image/raster";
import { placeModels } from "./models";
import { NODE_CATALOG } from "./nodes/catalog";
import { resolveOptions, type SimulatorOptions } from "./options";

export interface ComfySimulator {
  /** `http://host:port`, no trailing slash. */
  readonly url: string;
  readonly port: number;
  /** Live counts of what clients asked for; they survive crashes and restarts. */
  readonly counters: Readonly<SimulatorCounters>;
  /** The ids of the running and pending prompts. */
  queue(): { running: string[]; pending: string[] };
  /** Sets the simulated time per node and per sampler step. */
  setStepMs(ms: number): void;
  /** Holds every node of this class at its work points until the returned hold lets it go. */
  holdNode(classType: string): NodeHold;
  /** The next `times` (default: all) executions of this class fail with an `execution_error`. */
  failNode(classType: string, failure?: { message?: string; exceptionType?: string; times?: number }): void;
  clearFailures(): void;
  /** Cuts every WebSocket connection (a network blip); ComfyUI itself carries on. */
  dropConnections(): void;
  /** Goes silent: connections stay open but nothing is answered or sent (a hung ComfyUI). */
  goSilent(): void;
  /** Ends the silence; held requests and messages then go through. */
  resume(): void;
  /** Dies: every socket is closed and the port stops listening. Queue, history and caches are lost. */
  crash(): Promise<void>;
  /** Starts a fresh ComfyUI on the same port (after a crash, or crashing it first). Files are kept. */
  restart(): Promise<void>;
  /** Puts a file in the input folder, as if uploaded. */
  addInputFile(name: string, bytes: Buffer, subfolder?: string): void;
  /** Puts weight-free model files in `models/<folder>/`, as a download would (see `models` in the options). */
  addModels(models: Readonly<Record<string, readonly string[]>>): void;
  close(): Promise<void>;
}

/** Starts a ComfyUI stand-in that speaks ComfyUI v0.3.64's HTTP and WebSocket API (see gpu-agent/sim/README.md). */
export async function startComfySimulator(options: SimulatorOptions = {}): Promise<ComfySimulator> {
  const resolved = resolveOptions(options);
  const durable: Durable = {
    options: resolved,
    files: new FileStore(resolved.dir || undefined),
    faults: new Faults(resolved.stepMs, resolved.nodeMs),
    counters: zeroCounters(),
    catalog: NODE_CATALOG,
  };
  // ComfyUI ships an example picture in its input folder.
  durable.files.write(`${durable.files.folder("input")}/example.png`, encodePng(seededGradient(64, 64, 3)));
  placeModels(durable.files, resolved.models);
  const sockets = new WebSocketServer({ noServer: true, autoPong: false, perMessageDeflate: false });
  let comfy = new ComfyProcess(durable);
  let server: Server | undefined;

  const makeServer = () => {
    const http = createServer((req, res) => {
      const current = comfy;
      durable.faults.freeze
        .wait(current.signal)
        .then(() => route(req, current))
        .catch((error: unknown) => {
          if (error instanceof Crashed) return undefined;
          console.error("comfyui simulator: request failed", error);
          return serverError();
        })
        .then((reply) => reply && writeReply(res, reply));
    });
    http.on("upgrade", (req, socket, head) => {
      const current = comfy;
      const url = new URL(req.url ?? "/", "http://simulator");
      if (url.pathname !== "/ws") return socket.destroy();
      durable.faults.freeze.wait(current.signal).then(
        () =>
          sockets.handleUpgrade(req, socket, head, (ws) => {
            durable.counters.wsConnections++;
            current.hub.accept(ws, url.searchParams.get("clientId"));
          }),
        () => socket.destroy(),
      );
    });
    return http;
  };

  const start = async () => {
    server = await listen(makeServer(), resolved.port, resolved.host);
    resolved.port = (server.address() as AddressInfo).port;
  };

  const stop = async () => {
    comfy.end();
    durable.faults.freeze.resume();
    for (const ws of sockets.clients) ws.terminate();
    const closing = server;
    server = undefined;
    if (closing) {
      const closed = new Promise((resolve) => closing.close(resolve));
      closing.closeAllConnections();
      await closed;
    }
  };

  await start();
  return {
    url: `http://${resolved.host}:${resolved.port}`,
    port: resolved.port,
    counters: durable.counters,
    queue: () => ({
      running: comfy.queue.running ? [comfy.queue.running.promptId] : [],
      pending: comfy.queue.waiting.map((item) => item.promptId),
    }),
    setStepMs: (ms) => {
      durable.faults.stepMs = ms;
    },
    holdNode: (classType) => {
      const hold = new NodeHold();
      durable.faults.holds.get(classType)?.release();
      durable.faults.holds.set(classType, hold);
      return hold;
    },
    failNode: (classType, failure = {}) => {
      durable.faults.failures.set(classType, {
        message: failure.message ?? `simulated failure in ${classType}`,
        exceptionType: failure.exceptionType ?? "RuntimeError",
        remaining: failure.times ?? Number.POSITIVE_INFINITY,
      });
    },
    clearFailures: () => durable.faults.failures.clear(),
    dropConnections: () => {
      for (const ws of sockets.clients) ws.terminate();
    },
    goSilent: () => durable.faults.freeze.freeze(),
    resume: () => {
      durable.faults.freeze.resume();
      comfy.hub.flushHeld();
    },
    crash: stop,
    restart: async () => {
      if (server) await stop();
      comfy = new ComfyProcess(durable);
      await start();
    },
    addInputFile: (name, bytes, subfolder = "") => {
      const path = durable.files.resolve("input", subfolder, name);
      if (!path) throw new Error(`${subfolder}/${name} is outside the input folder`);
      durable.files.write(path, bytes);
    },
    addModels: (models) => placeModels(durable.files, models),
    close: async () => {
      for (const hold of durable.faults.holds.values()) hold.release();
      await stop();
      sockets.close();
    },
  };
}

function listen(server: Server, port: number, host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve(server);
    });
  });
}
