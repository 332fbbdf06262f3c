import { setTimeout as sleep } from "node:timers/promises";

/** Thrown out of every wait once the simulated process has crashed or been closed. */
export class Crashed extends Error {
  override name = "Crashed";
}

/** Resolves with `promise`, or rejects with Crashed as soon as `signal` aborts. */
export function untilCrash<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new Crashed());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new Crashed());
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

/**
 * The "silent" fault: a ComfyUI that still holds its sockets but does nothing, as a hung process does.
 * Everything the simulator does waits here while it is frozen.
 */
export class Freeze {
  private thawed: Promise<void> | undefined;
  private thaw: (() => void) | undefined;

  get frozen(): boolean {
    return this.thawed !== undefined;
  }

  freeze(): void {
    if (this.thawed) return;
    this.thawed = new Promise((resolve) => {
      this.thaw = resolve;
    });
  }

  resume(): void {
    this.thaw?.();
    this.thawed = undefined;
    this.thaw = undefined;
  }

  wait(signal: AbortSignal): Promise<void> {
    return this.thawed ? untilCrash(this.thawed, signal) : Promise.resolve();
  }
}

/**
 * Holds every node of one class at its work points (the node's body, each sampler step) until the test
 * lets it go, so tests can act "while node X runs" without racing timers.
 */
export class NodeHold {
  private credits = 0;
  private released = false;
  private readonly waiting: (() => void)[] = [];
  private readonly arrivals: (() => void)[] = [];

  /** Lets `count` more work points pass. */
  step(count = 1): void {
    this.credits += count;
    this.wake();
  }

  /** Lets everything pass from now on. */
  release(): void {
    this.released = true;
    this.wake();
  }

  /** Resolves once a node is waiting at this hold. */
  reached(): Promise<void> {
    if (this.waiting.length > 0) return Promise.resolve();
    return new Promise((resolve) => this.arrivals.push(resolve));
  }

  async pass(signal: AbortSignal): Promise<void> {
    while (!this.released && this.credits === 0) {
      const turn = new Promise<void>((resolve) => this.waiting.push(resolve));
      for (const arrived of this.arrivals.splice(0)) arrived();
      await untilCrash(turn, signal);
    }
    if (!this.released) this.credits--;
  }

  private wake() {
    for (const wake of this.waiting.splice(0)) wake();
  }
}

export interface InjectedFailure {
  message: string;
  exceptionType: string;
  /** How many more executions fail; Infinity for all. */
  remaining: number;
}

/** Simulated time and the faults tests inject; shared by every incarnation of one simulator. */
export class Faults {
  readonly freeze = new Freeze();
  readonly holds = new Map<string, NodeHold>();
  readonly failures = new Map<string, InjectedFailure>();

  constructor(
    public stepMs: number,
    public readonly nodeMs: Record<string, number>,
  ) {}

  /** Spends one unit of simulated work for a node of `classType`. */
  async work(classType: string, signal: AbortSignal): Promise<void> {
    await this.freeze.wait(signal);
    await this.holds.get(classType)?.pass(signal);
    const ms = this.nodeMs[classType] ?? this.stepMs;
    await untilCrash(ms > 0 ? sleep(ms) : new Promise((resolve) => setImmediate(resolve)), signal);
    await this.freeze.wait(signal);
  }

  /** The injected failure for a node about to run, counting it down. */
  takeFailure(classType: string): InjectedFailure | undefined {
    const failure = this.failures.get(classType);
    if (!failure) return undefined;
    if (--failure.remaining <= 0) this.failures.delete(classType);
    return failure;
  }
}
