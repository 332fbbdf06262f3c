import type { ComfyProcess } from "../comfy-process";
import { isModelFolder, MODEL_FOLDERS, modelFiles } from "../models";
import { empty, isRecord, json, parseJson, type Reply, serverError } from "./reply";

/** GET /models: the model folder names. */
export function modelFolders(): Reply {
  return json(200, MODEL_FOLDERS);
}

/** GET /models/{folder}: its files; an unknown folder is a bare 404, as models_and_free.json shows. */
export function modelFolder(comfy: ComfyProcess, folder: string): Reply {
  if (!isModelFolder(folder)) return empty(404);
  return json(200, modelFiles(comfy.durable.files, folder));
}

/**
 * POST /free `{unload_models?, free_memory?}`: ComfyUI only sets flags that its prompt worker acts on
 * between prompts, and answers a bare 200. A body that is not a JSON object makes its handler raise.
 */
export function freeMemory(comfy: ComfyProcess, body: Buffer): Reply {
  const request = parseJson(body);
  if (!isRecord(request)) return serverError();
  comfy.durable.counters.frees.push({
    unload_models: request.unload_models,
    free_memory: request.free_memory,
  });
  return empty(200);
}
