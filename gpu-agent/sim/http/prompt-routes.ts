import { randomUUID } from "node:crypto";
import type { ComfyProcess } from "../comfy-process";
import type { PromptGraph } from "../queue";
import { validatePrompt } from "../validate/validate-prompt";
import { empty, isRecord, json, parseJson, type Reply, serverError } from "./reply";

/** Keys ComfyUI takes out of `extra_data` before queueing, so they never show in /queue or /history. */
const SENSITIVE_EXTRA_DATA_KEYS = ["auth_token_comfy_org", "api_key_comfy_org"];

/** POST /prompt: validate, then queue, or 400 with ComfyUI's error and node_errors. */
export function postPrompt(comfy: ComfyProcess, body: Buffer): Reply {
  const { counters, catalog, files } = comfy.durable;
  counters.prompts++;
  const request = parseJson(body);
  if (!isRecord(request)) return serverError();
  let number: number;
  if ("number" in request) {
    number = Number(request.number);
  } else {
    number = comfy.nextNumber++;
    if (request.front) number = -number;
  }
  if (!("prompt" in request)) {
    counters.promptsRejected++;
    const error = {
      type: "no_prompt",
      message: "No prompt provided",
      details: "No prompt provided",
      extra_info: {},
    };
    return json(400, { error, node_errors: {} });
  }
  if (!isRecord(request.prompt)) return serverError();
  const prompt = request.prompt;
  const promptId = "prompt_id" in request ? String(request.prompt_id) : randomUUID();
  const validation = validatePrompt(prompt, catalog, files);
  const extraData: Record<string, unknown> = isRecord(request.extra_data) ? { ...request.extra_data } : {};
  if ("client_id" in request) extraData.client_id = request.client_id;
  if (!validation.ok) {
    counters.promptsRejected++;
    return json(400, { error: validation.error, node_errors: validation.nodeErrors });
  }
  for (const key of SENSITIVE_EXTRA_DATA_KEYS) delete extraData[key];
  comfy.queue.put({
    number,
    promptId,
    prompt: prompt as PromptGraph,
    extraData,
    outputs: validation.outputs,
  });
  return json(200, { prompt_id: promptId, number, node_errors: validation.nodeErrors });
}

/** POST /interrupt: `{prompt_id}` stops that prompt only if it is the one running; no body stops whatever runs. */
export function postInterrupt(comfy: ComfyProcess, body: Buffer): Reply {
  comfy.durable.counters.interrupts++;
  const request = parseJson(body);
  const promptId = isRecord(request) ? request.prompt_id : undefined;
  if (!promptId || comfy.queue.running?.promptId === promptId) comfy.env.interrupt.requested = true;
  return empty(200);
}

/** POST /queue: `{clear: true}` empties the pending queue, `{delete: [ids]}` removes pending prompts. */
export function postQueue(comfy: ComfyProcess, body: Buffer): Reply {
  const request = parseJson(body);
  if (!isRecord(request)) return serverError();
  const { counters } = comfy.durable;
  if (request.clear) {
    counters.queueClears++;
    comfy.queue.clear();
  }
  if (Array.isArray(request.delete)) {
    for (const id of request.delete) {
      counters.queueDeletes++;
      comfy.queue.delete(String(id));
    }
  }
  return empty(200);
}

/** POST /history: `{clear: true}` or `{delete: [ids]}`. */
export function postHistory(comfy: ComfyProcess, body: Buffer): Reply {
  const request = parseJson(body);
  if (!isRecord(request)) return serverError();
  const { history } = comfy.queue;
  if (request.clear) history.clear();
  if (Array.isArray(request.delete)) for (const id of request.delete) history.delete(String(id));
  return empty(200);
}
