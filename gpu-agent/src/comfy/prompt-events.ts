import type { ComfyEvent } from "./events";
import type { ProgressTracker } from "./progress";
import { type Ending, failureOf } from "./prompt-ending";

/** What the WebSocket has told about one prompt so far. */
export class PromptEvents {
  started = false;
  /** `executing {node: null}` came for it: ComfyUI is done with the prompt. */
  finished = false;
  ending: Ending | undefined;
  cachedNodes: string[] = [];

  constructor(
    public promptId: string,
    private readonly progress: ProgressTracker,
  ) {}

  /** Started and not finished: ComfyUI is running it now. */
  get running(): boolean {
    return this.started && !this.finished;
  }

  /** Applies one event; true if it was about this prompt. */
  apply(event: ComfyEvent): boolean {
    switch (event.type) {
      case "execution_start":
        if (event.data.prompt_id !== this.promptId) return false;
        this.markStarted();
        return true;
      case "execution_cached":
        if (event.data.prompt_id !== this.promptId) return false;
        this.cachedNodes = event.data.nodes;
        this.progress.cached(event.data.nodes);
        return true;
      case "executing":
        if (!this.concerns(event.data.prompt_id)) return false;
        if (event.data.node === null) {
          this.finished = true;
        } else {
          this.markStarted();
          this.progress.executing(event.data.node);
        }
        return true;
      case "progress":
        if (!this.concerns(event.data.prompt_id)) return false;
        this.progress.progress(event.data.node, event.data.value, event.data.max);
        return true;
      case "progress_state":
        if (event.data.prompt_id !== this.promptId) return false;
        this.progress.nodeStates(event.data.nodes);
        return true;
      case "executed":
        return event.data.prompt_id === this.promptId;
      case "execution_success":
        if (event.data.prompt_id !== this.promptId) return false;
        this.ending = { kind: "success" };
        return true;
      case "execution_error":
        if (event.data.prompt_id !== this.promptId) return false;
        this.ending = { kind: "execution_error", failure: failureOf(event.data) };
        return true;
      case "execution_interrupted":
        if (event.data.prompt_id !== this.promptId) return false;
        this.ending = {
          kind: "interrupted",
          nodeId: event.data.node_id ?? null,
          nodeType: event.data.node_type ?? null,
        };
        return true;
      default:
        return false;
    }
  }

  markStarted(): void {
    this.started = true;
    this.progress.start();
  }

  /** An event without prompt_id (the replay after a reconnect) is about whatever runs now. */
  private concerns(promptId: string | undefined): boolean {
    return promptId === undefined ? this.running : promptId === this.promptId;
  }
}
