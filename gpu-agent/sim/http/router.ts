import type { IncomingMessage } from "node:http";
import type { ComfyProcess } from "../comfy-process";
import { uploadImage, view } from "./file-routes";
import { features, history, historyOf, objectInfo, promptInfo, queueInfo, systemStats } from "./info-routes";
import { freeMemory, modelFolder, modelFolders } from "./model-routes";
import { postHistory, postInterrupt, postPrompt, postQueue } from "./prompt-routes";
import { BodyTooLarge, type Reply, readBody, text } from "./reply";

/** Answers one HTTP request from the current ComfyUI comfy (the `/ws` upgrade is handled apart). */
export async function route(req: IncomingMessage, comfy: ComfyProcess): Promise<Reply> {
  const url = new URL(req.url ?? "/", "http://simulator");
  const path = url.pathname;
  if (req.method === "GET") {
    if (path === "/system_stats") return systemStats(comfy);
    if (path === "/features") return features();
    if (path === "/prompt") return promptInfo(comfy);
    if (path === "/queue") return queueInfo(comfy);
    if (path === "/history") return history(comfy, url);
    if (path.startsWith("/history/")) return historyOf(comfy, decodeURIComponent(path.slice(9)));
    if (path === "/object_info") return objectInfo(comfy);
    if (path.startsWith("/object_info/")) return objectInfo(comfy, decodeURIComponent(path.slice(13)));
    if (path === "/view") return view(comfy, url);
    if (path === "/models") return modelFolders();
    if (path.startsWith("/models/")) return modelFolder(comfy, decodeURIComponent(path.slice(8)));
  }
  if (req.method === "POST") {
    let body: Buffer;
    try {
      body = await readBody(req, comfy.durable.options.maxUploadBytes);
    } catch (error) {
      if (error instanceof BodyTooLarge) return text(413, "413: Request Entity Too Large");
      throw error;
    }
    if (path === "/prompt") return postPrompt(comfy, body);
    if (path === "/interrupt") return postInterrupt(comfy, body);
    if (path === "/queue") return postQueue(comfy, body);
    if (path === "/history") return postHistory(comfy, body);
    if (path === "/upload/image") return uploadImage(req, comfy, body);
    if (path === "/free") return freeMemory(comfy, body);
  }
  return text(404, "404: Not Found");
}
