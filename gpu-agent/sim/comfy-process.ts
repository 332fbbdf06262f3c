import type { SimulatorCounters } from "./counters";
import { OutputCache } from "./exec/output-cache";
import type { ExecutionEnv } from "./exec/run-prompt";
import { runWorker } from "./exec/worker";
import type { Faults } from "./faults";
import type { FileStore } from "./files";
import type { NodeDefinition } from "./nodes/types";
import type { ResolvedOptions } from "./options";
import { PromptQueue } from "./queue";
import { SocketHub } from "./ws-hub";

/** What survives a simulated crash: settings, files on "disk", injected faults and the counters. */
export interface Durable {
  options: ResolvedOptions;
  files: FileStore;
  faults: Faults;
  counters: SimulatorCounters;
  catalog: ReadonlyMap<string, NodeDefinition>;
}

/**
 * One life of the simulated ComfyUI process: its queue, history, caches, sockets and prompt counter.
 * A crash ends it; a restart begins a fresh one, as restarting ComfyUI would.
 */
export class ComfyProcess {
  private readonly lifetime = new AbortController();
  readonly queue: PromptQueue;
  readonly hub: SocketHub;
  readonly env: ExecutionEnv;
  /** ComfyUI's `server.number`: the next prompt's number, counted for rejected prompts too. */
  nextNumber = 0;

  constructor(readonly durable: Durable) {
    this.queue = new PromptQueue(() => this.hub.broadcastStatus());
    this.hub = new SocketHub(durable.faults.freeze, () => this.queue.remaining);
    this.env = {
      catalog: durable.catalog,
      files: durable.files,
      faults: durable.faults,
      hub: this.hub,
      cache: new OutputCache(),
      objects: new Map(),
      interrupt: { requested: false },
      signal: this.lifetime.signal,
    };
    runWorker(this.queue, this.env, durable.counters).catch((error: unknown) => {
      console.error("comfyui simulator: the prompt worker stopped", error);
    });
  }

  get signal(): AbortSignal {
    return this.lifetime.signal;
  }

  /** Ends this life: every wait of its worker and request handlers throws Crashed. */
  end(): void {
    this.lifetime.abort();
  }
}
