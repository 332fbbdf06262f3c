import { randomUUID } from "node:crypto";
import type { Progress } from "../../../src/protocol/v1";
import { type Logger, silentLogger } from "../log";
import { ProgressThrottle } from "../progress-throttle";
import { ComfyError, ComfyUnreachableError, ComfyValidationError } from "./errors";
import type { ComfyHttp, PromptGraph } from "./http";
import { type ComfyOutput, listOutputs } from "./outputs";
import type { PreviewImage } from "./preview-frames";
import { ProgressTracker } from "./progress";
import { type Ending, type ExecutionFailure, endingFromHistory } from "./prompt-ending";
import { PromptEvents } from "./prompt-events";
import { locatePrompt } from "./prompt-probe";
import type { HistoryEntry } from "./schemas";
import type { ComfySocket, SocketNotice } from "./socket";
import { Wakeup } from "./wakeup";

export interface RunPromptOptions {
  http: ComfyHttp;
  /** Started already; the prompt is queued under its client id so that its events come to it. */
  socket: ComfySocket;
  graph: PromptGraph;
  /** Default: a new UUID, chosen here so the prompt can be found (or stopped) even if the reply is lost. */
  promptId?: string;
  extraData?: Record<string, unknown>;
  /**
   * Follow `promptId`, queued earlier (before the agent restarted), instead of queueing the graph:
   * wherever ComfyUI has it (pending, running or in its history) the run picks up from there.
   */
  attach?: boolean;
  /** Aborting cancels: a pending prompt is deleted from the queue, a running one interrupted. */
  signal?: AbortSignal;
  onAccepted?: (promptId: string) => void;
  onStarted?: () => void;
  /** At most one call per `progressIntervalMs`, and the latest one is never dropped. */
  onProgress?: (progress: Progress) => void;
  onPreview?: (preview: PreviewImage) => void;
  /** Default 250 ms. */
  progressIntervalMs?: number;
  /** With no news of the prompt for this long, ask ComfyUI over HTTP where it is. Default 5 s. */
  quietProbeMs?: number;
  /** Give up once ComfyUI has not answered for this long. Default 30 s. */
  unreachableMs?: number;
  /** How long to wait for the socket before queueing anyway (the run is then followed by polling). Default 5 s. */
  socketWaitMs?: number;
  log?: Logger;
}

export type RunResult =
  | {
      kind: "success";
      promptId: string;
      outputs: ComfyOutput[];
      history: HistoryEntry;
      cachedNodes: string[];
    }
  | { kind: "validation_error"; error: ComfyValidationError }
  | { kind: "execution_error"; promptId: string; failure: ExecutionFailure }
  /** Stopped by an interrupt someone else sent. */
  | { kind: "interrupted"; promptId: string; nodeId: string | null; nodeType: string | null }
  /** Stopped because `signal` was aborted. */
  | { kind: "cancelled"; promptId: string | null }
  /** ComfyUI went down, went silent or lost the prompt. */
  | { kind: "unavailable"; promptId: string | null; message: string };

/**
 * Queues a graph on ComfyUI and follows it to its end: progress and previews from the WebSocket, the
 * outputs from /history. When events stop coming (socket down, ComfyUI hung, or no events at all) it
 * asks over HTTP, so the run always ends: with ComfyUI's result or with `unavailable`.
 */
export function runPrompt(options: RunPromptOptions): Promise<RunResult> {
  if (options.signal?.aborted) return Promise.resolve({ kind: "cancelled", promptId: null });
  return new PromptRun(options).run();
}

class PromptRun {
  private readonly events: PromptEvents;
  private readonly tracker: ProgressTracker;
  private readonly throttle: ProgressThrottle;
  private readonly log: Logger;
  private readonly wakeup = new Wakeup();
  private submitted = false;
  private probeNow = false;
  private cancelRequested = false;
  private cancelSent = false;
  private startReported = false;
  private unreachableSince: number | undefined;
  private lastProgress: Progress | undefined;
  /** When the prompt's last event came, or the last probe was made: the quiet probe counts from it. */
  private heardAt = Date.now();

  constructor(private readonly options: RunPromptOptions) {
    this.tracker = new ProgressTracker(options.graph);
    this.events = new PromptEvents(options.promptId ?? randomUUID(), this.tracker);
    this.throttle = new ProgressThrottle(options.progressIntervalMs ?? 250, (p) => options.onProgress?.(p));
    this.log = options.log ?? silentLogger;
  }

  private get promptId(): string {
    return this.events.promptId;
  }

  async run(): Promise<RunResult> {
    const { socket, signal } = this.options;
    const unsubscribe = socket.subscribe((notice) => this.onNotice(notice));
    const onAbort = () => {
      this.cancelRequested = true;
      this.wakeup.poke();
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      if (!(await socket.waitOpen(this.options.socketWaitMs ?? 5_000))) {
        this.log.warn("ComfyUI's WebSocket is not open; following the prompt by polling", {
          url: this.options.http.baseUrl,
        });
      }
      if (this.cancelRequested) return { kind: "cancelled", promptId: null };
      const refused = this.options.attach ? this.attach() : await this.submit();
      return refused ?? (await this.follow());
    } finally {
      unsubscribe();
      signal?.removeEventListener("abort", onAbort);
      this.throttle.dispose();
    }
  }

  /** Takes over a prompt already queued: `accepted` again for the caller, then ask ComfyUI where it is. */
  private attach(): undefined {
    this.submitted = true;
    this.probeNow = true;
    this.options.onAccepted?.(this.promptId);
    return undefined;
  }

  private async submit(): Promise<RunResult | undefined> {
    const { http, socket, graph, extraData } = this.options;
    try {
      const accepted = await http.submitPrompt(graph, {
        clientId: socket.clientId,
        promptId: this.promptId,
        extraData,
      });
      // A ComfyUI too old to take our prompt_id picks its own.
      this.events.promptId = accepted.prompt_id;
      this.submitted = true;
      this.options.onAccepted?.(accepted.prompt_id);
      return undefined;
    } catch (error) {
      if (error instanceof ComfyValidationError) return { kind: "validation_error", error };
      if (!(error instanceof ComfyError)) throw error;
      // The request may have reached ComfyUI before failing: make sure the prompt does not run unwatched.
      await this.stopInComfy();
      return { kind: "unavailable", promptId: null, message: `could not queue the prompt: ${error.message}` };
    }
  }

  private async follow(): Promise<RunResult> {
    const quietMs = this.options.quietProbeMs ?? 5_000;
    for (;;) {
      if (this.cancelRequested && !this.cancelSent) {
        this.cancelSent = true;
        await this.stopInComfy();
        this.probeNow = true;
      }
      if (this.events.finished) {
        const ended = await this.endFromEvents(this.events.ending);
        if (ended) return ended;
      }
      if (this.probeNow) {
        this.probeNow = false;
        const found = await this.probe();
        if (found) return found;
      }
      const troubled = !this.options.socket.isOpen || this.unreachableSince !== undefined;
      // The prompt's events push the quiet probe back without waking this loop (one timer per sleep,
      // not one per event): a sleep that ends while they still come sleeps on for the rest.
      const wait = troubled ? Math.min(1_000, quietMs) : this.heardAt + quietMs - Date.now();
      if (wait > 0 && (await this.wakeup.sleep(wait))) continue;
      if (!troubled && this.heardAt + quietMs > Date.now()) continue;
      const found = await this.probe();
      if (found) return found;
    }
  }

  /**
   * The socket said ComfyUI is done with the prompt; errors end here, a success needs the history.
   * ComfyUI writes the history before it says so, so one request usually ends the run; without an
   * entry, the probe asks the queue too.
   */
  private async endFromEvents(ending: Ending | undefined): Promise<RunResult | undefined> {
    if (ending && ending.kind !== "success") return this.result(ending, undefined);
    const entry = await this.historyEntry();
    if (entry) return this.result(endingFromHistory(entry), entry);
    const found = await this.probe();
    // Not in the history yet (it should be): look again when the quiet timer says so.
    if (!found) this.events.finished = false;
    return found;
  }

  /** The prompt's history entry; undefined when there is none or ComfyUI did not answer (the probe then sees why). */
  private async historyEntry(): Promise<HistoryEntry | undefined> {
    try {
      return await this.options.http.getHistory(this.promptId);
    } catch (error) {
      if (!(error instanceof ComfyError)) throw error;
      return undefined;
    }
  }

  /** Asks ComfyUI over HTTP where the prompt is; a result once it has ended (or cannot be followed). */
  private async probe(): Promise<RunResult | undefined> {
    let found: Awaited<ReturnType<typeof locatePrompt>>;
    try {
      found = await locatePrompt(this.options.http, this.promptId);
    } catch (error) {
      if (!(error instanceof ComfyError)) throw error;
      return this.unreachable(error);
    } finally {
      this.heardAt = Date.now();
    }
    if (this.unreachableSince !== undefined) {
      this.unreachableSince = undefined;
      this.log.info("ComfyUI answers again", { promptId: this.promptId });
    }
    switch (found.where) {
      case "pending":
        return undefined;
      case "running":
        this.events.markStarted();
        this.reportStarted();
        return undefined;
      case "done":
        return this.result(endingFromHistory(found.entry), found.entry);
      case "gone":
        if (this.cancelSent) return { kind: "cancelled", promptId: this.promptId };
        return {
          kind: "unavailable",
          promptId: this.promptId,
          message:
            "ComfyUI no longer knows the prompt: it was restarted, or the prompt was removed from its queue",
        };
    }
  }

  /**
   * ComfyUI did not answer a probe. Its socket closed and nothing listening at its address means its
   * process is gone (crashed or restarting), and the prompt with it: that ends the run at once. A
   * ComfyUI that is merely slow or hung gets `unreachableMs`. Logged once, not on every probe.
   */
  private unreachable(error: ComfyError): RunResult | undefined {
    const now = Date.now();
    if (this.unreachableSince === undefined) {
      this.unreachableSince = now;
      this.log.warn("ComfyUI did not answer while following a prompt", {
        promptId: this.promptId,
        error: error.message,
      });
    }
    if (error instanceof ComfyUnreachableError && error.refused && !this.options.socket.isOpen) {
      return {
        kind: "unavailable",
        promptId: this.promptId,
        message: `ComfyUI went down (its WebSocket closed and ${error.message})`,
      };
    }
    const limit = this.options.unreachableMs ?? 30_000;
    if (now - this.unreachableSince < limit) return undefined;
    return {
      kind: "unavailable",
      promptId: this.promptId,
      message: `ComfyUI stopped answering (${Math.round((now - this.unreachableSince) / 1000)} s): ${error.message}`,
    };
  }

  private result(ending: Ending, entry: HistoryEntry | undefined): RunResult {
    const promptId = this.promptId;
    switch (ending.kind) {
      case "success": {
        this.pushProgress(this.tracker.complete());
        this.throttle.flush();
        const history = entry as HistoryEntry;
        return {
          kind: "success",
          promptId,
          outputs: listOutputs(history),
          history,
          cachedNodes: this.events.cachedNodes,
        };
      }
      case "execution_error":
        return { kind: "execution_error", promptId, failure: ending.failure };
      case "interrupted":
        if (this.cancelSent) return { kind: "cancelled", promptId };
        return { kind: "interrupted", promptId, nodeId: ending.nodeId, nodeType: ending.nodeType };
    }
  }

  /** Deletes the prompt if it is pending, then interrupts it if it runs (never another prompt). */
  private async stopInComfy() {
    const { http } = this.options;
    try {
      await http.deleteFromQueue([this.promptId]);
      await http.interrupt(this.promptId);
    } catch (error) {
      this.log.warn("could not stop the prompt in ComfyUI", {
        promptId: this.promptId,
        error: String(error),
      });
    }
  }

  private onNotice(notice: SocketNotice) {
    if (notice.kind === "event") {
      if (this.options.attach && notice.event.type === "status") {
        // A prompt queued by an earlier process sends its events to that process's socket; the queue
        // status broadcast to every socket is the news it changed, so look.
        this.probeNow = true;
        this.wakeup.poke();
      }
      if (!this.events.apply(notice.event)) return;
      this.heardAt = Date.now();
      if (this.events.started) this.reportStarted();
      if (this.events.running && this.tracker.changed) this.pushProgress(this.tracker.snapshot());
      if (this.events.finished) this.wakeup.poke();
    } else if (notice.kind === "preview") {
      const { preview } = notice;
      const ours = preview.promptId === undefined ? this.events.running : preview.promptId === this.promptId;
      if (ours) this.options.onPreview?.(preview);
    } else if (this.submitted) {
      // Connected again, or disconnected: events may have been missed, so ask over HTTP.
      this.probeNow = true;
      this.wakeup.poke();
    }
  }

  /** Passes on progress that changed (several events often describe the same step). */
  private pushProgress(progress: Progress) {
    if (this.lastProgress && sameStep(progress, this.lastProgress)) return;
    this.lastProgress = progress;
    this.throttle.push(progress);
  }

  private reportStarted() {
    if (this.startReported) return;
    this.startReported = true;
    this.options.onStarted?.();
  }
}

/** The same node and step with the same nodes done: a repeat, whatever its ETA says. */
function sameStep(a: Progress, b: Progress): boolean {
  return (
    a.nodes_done === b.nodes_done &&
    a.current_node === b.current_node &&
    a.step === b.step &&
    a.total_steps === b.total_steps
  );
}
