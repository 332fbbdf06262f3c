import type { Faults } from "../faults";
import { Crashed } from "../faults";
import type { FileStore } from "../files";
import { describeValue } from "../nodes/describe-value";
import type { NodeContext, NodeDefinition, NodeResult } from "../nodes/types";
import type { HistoryEntry, QueueItem } from "../queue";
import { queueTuple } from "../queue";
import type { SocketHub } from "../ws-hub";
import { cacheKeys, isLink } from "./cache-keys";
import { ExecutionList } from "./execution-list";
import { frame, Interrupted, NodeError, traceback } from "./node-error";
import type { OutputCache } from "./output-cache";
import { ProgressReporter } from "./progress-reporter";

/** What one simulated ComfyUI process holds while it executes prompts. */
export interface ExecutionEnv {
  catalog: ReadonlyMap<string, NodeDefinition>;
  files: FileStore;
  faults: Faults;
  hub: SocketHub;
  cache: OutputCache;
  /** Node objects by `id:class`, kept across prompts (ComfyUI's object cache). */
  objects: Map<string, unknown>;
  /** ComfyUI's global interrupt flag. */
  interrupt: { requested: boolean };
  /** Aborted when the process "crashes". */
  signal: AbortSignal;
}

/**
 * Runs one prompt the way ComfyUI's PromptExecutor does, sending the same messages in the same order,
 * and returns its history entry.
 */
export async function executePrompt(item: QueueItem, env: ExecutionEnv): Promise<HistoryEntry> {
  return new PromptRun(item, env).execute();
}

class PromptRun {
  private readonly clientId: string | null;
  private readonly messages: [string, unknown][] = [];
  private readonly keys: Map<string, string>;
  private readonly progress: ProgressReporter;
  private readonly executed: string[] = [];
  private readonly outputs: Record<string, Record<string, unknown[]>> = {};

  constructor(
    private readonly item: QueueItem,
    private readonly env: ExecutionEnv,
  ) {
    const client = item.extraData.client_id;
    this.clientId = typeof client === "string" ? client : null;
    this.keys = cacheKeys(item.prompt, env.catalog, env.files);
    this.progress = new ProgressReporter(env.hub, item.promptId, this.clientId);
  }

  async execute(): Promise<HistoryEntry> {
    const { env, item } = this;
    env.hub.executingClient = this.clientId;
    env.interrupt.requested = false;
    this.note("execution_start", { prompt_id: item.promptId, timestamp: Date.now() });
    env.cache.retainOnly(this.keys.values());
    const cached = Object.keys(item.prompt).filter((id) => this.cachedResult(id));
    this.note("execution_cached", { nodes: cached, prompt_id: item.promptId, timestamp: Date.now() });
    try {
      await this.runNodes();
      this.note("execution_success", { prompt_id: item.promptId, timestamp: Date.now() });
      return this.history(true);
    } catch (error) {
      if (error instanceof Crashed) throw error;
      this.reportFailure(error);
      return this.history(false);
    } finally {
      env.hub.lastNode = null;
    }
  }

  private async runNodes() {
    const list = new ExecutionList(
      this.item.prompt,
      (id) => this.cachedResult(id) !== undefined,
      (id) => this.definition(id).info(this.env.files).output_node,
    );
    for (const output of this.item.outputs) list.add(output);
    while (!list.empty) {
      const id = list.next();
      if (id === undefined) {
        const stuck = list.firstPending() as string;
        throw new FailedNode(stuck, new NodeError("Dependency cycle detected", "DependencyCycleError"), {});
      }
      await this.runNode(id);
      list.complete(id);
    }
  }

  private async runNode(id: string) {
    const { env, item } = this;
    const cached = this.cachedResult(id);
    if (cached) {
      // Cached output nodes still report what they showed; other cached nodes stay silent.
      if (cached.ui) this.showOutput(id, cached.ui);
      this.progress.finished(id);
      this.executed.push(id);
      return;
    }
    this.progress.running(id);
    this.toClient("executing", { node: id, display_node: id, prompt_id: item.promptId });
    env.hub.lastNode = id;
    this.checkInterrupt(id);
    const node = item.prompt[id] as QueueItem["prompt"][string];
    const inputs = this.resolveInputs(id);
    let result: NodeResult;
    try {
      const failure = env.faults.takeFailure(node.class_type);
      if (failure) {
        await env.faults.work(node.class_type, env.signal);
        throw new NodeError(failure.message, failure.exceptionType, [
          frame(
            "/srv/comfy/ComfyUI/comfy_edge_sim.py",
            1,
            "injected_failure",
            `raise ${failure.exceptionType}(message)`,
          ),
        ]);
      }
      result = await this.definition(id).run(inputs, this.context(id, node.class_type));
    } catch (error) {
      if (error instanceof Crashed || error instanceof Interrupted) throw error;
      const nodeError = error instanceof NodeError ? error : new NodeError(String(error), "Exception");
      throw new FailedNode(id, nodeError, inputs);
    }
    env.cache.set(this.keys.get(id) as string, result);
    if (result.ui) this.showOutput(id, result.ui);
    this.progress.finished(id);
    this.executed.push(id);
  }

  private context(id: string, classType: string): NodeContext {
    const { env, item } = this;
    return {
      nodeId: id,
      prompt: item.prompt,
      extraData: item.extraData,
      files: env.files,
      work: () => env.faults.work(classType, env.signal),
      step: async (value, max, preview) => {
        await env.faults.work(classType, env.signal);
        this.checkInterrupt(id);
        this.progress.step(id, value, max, preview);
      },
      instance: <T>(create: () => T): T => {
        const key = `${id}:${classType}`;
        if (!env.objects.has(key)) env.objects.set(key, create());
        return env.objects.get(key) as T;
      },
    };
  }

  /** As ComfyUI's `get_input_data`: links resolved, plain values the class does not declare left out. */
  private resolveInputs(id: string): Record<string, unknown> {
    const { required, optional } = this.definition(id).info(this.env.files).input;
    const inputs: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(this.item.prompt[id]?.inputs ?? {})) {
      if (isLink(value)) inputs[name] = this.cachedResult(value[0])?.outputs[value[1]];
      else if ((required && name in required) || (optional && name in optional)) inputs[name] = value;
    }
    return inputs;
  }

  private checkInterrupt(id: string) {
    if (!this.env.interrupt.requested) return;
    this.env.interrupt.requested = false;
    throw new Interrupted(id);
  }

  private showOutput(id: string, ui: Record<string, unknown[]>) {
    this.outputs[id] = ui;
    this.toClient("executed", { node: id, display_node: id, output: ui, prompt_id: this.item.promptId });
  }

  private reportFailure(error: unknown) {
    const promptId = this.item.promptId;
    if (error instanceof Interrupted) {
      const id = error.nodeId;
      this.note("execution_interrupted", {
        prompt_id: promptId,
        node_id: id,
        node_type: this.item.prompt[id]?.class_type,
        executed: [...this.executed],
        timestamp: Date.now(),
      });
      return;
    }
    if (!(error instanceof FailedNode)) throw error;
    const { nodeId, error: cause, inputs } = error;
    this.note("execution_error", {
      prompt_id: promptId,
      node_id: nodeId,
      node_type: this.item.prompt[nodeId]?.class_type,
      executed: [...this.executed],
      exception_message: `${cause.message}\n`,
      exception_type: cause.exceptionType,
      traceback: traceback(cause),
      current_inputs: this.currentInputs(nodeId, inputs),
      current_outputs: [...new Set([...this.item.outputs, ...Object.keys(this.item.prompt)])],
      timestamp: Date.now(),
    });
  }

  /** The failing node's inputs, each as a one-item list of its `str()`, hidden inputs included. */
  private currentInputs(id: string, inputs: Record<string, unknown>): Record<string, string[]> {
    const shown: Record<string, string[]> = {};
    for (const [name, value] of Object.entries(inputs)) shown[name] = [describeValue(value)];
    const hidden = this.definition(id).info(this.env.files).input.hidden ?? {};
    if ("prompt" in hidden) shown.prompt = [describeValue(this.item.prompt)];
    if ("extra_pnginfo" in hidden)
      shown.extra_pnginfo = [describeValue(this.item.extraData.extra_pnginfo ?? null)];
    return shown;
  }

  private history(success: boolean): HistoryEntry {
    const meta: HistoryEntry["meta"] = {};
    for (const id of Object.keys(this.outputs)) {
      meta[id] = { node_id: id, display_node: id, parent_node: null, real_node_id: id };
    }
    return {
      prompt: queueTuple(this.item),
      outputs: success ? this.outputs : {},
      status: { status_str: success ? "success" : "error", completed: success, messages: this.messages },
      meta: success ? meta : {},
    };
  }

  /** A message ComfyUI also keeps in the history's status (`add_message`); only the client gets it. */
  private note(type: string, data: Record<string, unknown>) {
    this.messages.push([type, data]);
    this.toClient(type, data);
  }

  private toClient(type: string, data: unknown) {
    if (this.clientId !== null) this.env.hub.send(type, data, this.clientId);
  }

  private cachedResult(id: string): NodeResult | undefined {
    return this.env.cache.get(this.keys.get(id));
  }

  private definition(id: string): NodeDefinition {
    return this.env.catalog.get(this.item.prompt[id]?.class_type ?? "") as NodeDefinition;
  }
}

/** A node's error, with the inputs it was called with. */
class FailedNode extends Error {
  constructor(
    readonly nodeId: string,
    readonly error: NodeError,
    readonly inputs: Record<string, unknown>,
  ) {
    super(error.message);
  }
}
