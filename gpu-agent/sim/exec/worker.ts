import type { SimulatorCounters } from "../counters";
import { Crashed } from "../faults";
import type { PromptQueue } from "../queue";
import { type ExecutionEnv, executePrompt } from "./run-prompt";

/**
 * ComfyUI's prompt worker: one prompt at a time, first in line first. After each: the history entry and
 * the `status` broadcast (task_done), then `executing {node: null}` to the prompt's client.
 */
export async function runWorker(
  queue: PromptQueue,
  env: ExecutionEnv,
  counters: SimulatorCounters,
): Promise<void> {
  try {
    for (;;) {
      const item = await queue.take(env.signal);
      const execution = { promptId: item.promptId, prompt: item.prompt, finished: false };
      counters.executions.push(execution);
      const entry = await executePrompt(item, env);
      await env.faults.freeze.wait(env.signal);
      queue.finish(item, entry);
      execution.finished = true;
      const client = item.extraData.client_id;
      if (typeof client === "string")
        env.hub.send("executing", { node: null, prompt_id: item.promptId }, client);
    }
  } catch (error) {
    if (!(error instanceof Crashed)) throw error;
  }
}
