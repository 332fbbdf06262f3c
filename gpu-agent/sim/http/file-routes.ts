import type { IncomingMessage } from "node:http";
import { posix } from "node:path";
import type { ComfyProcess } from "../comfy-process";
import { annotatedPath, type FolderType, pyNormpath, sha256 } from "../files";
import { empty, json, type Reply, serverError } from "./reply";

const CONTENT_TYPES: Record<string, string> = {
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".webp": "image/webp",
  ".gif": "image/gif",
  ".bmp": "image/bmp",
  ".mp4": "video/mp4",
  ".webm": "video/webm",
  ".wav": "audio/x-wav",
  ".mp3": "audio/mpeg",
  ".flac": "audio/flac",
  ".json": "application/json",
  ".txt": "text/plain",
};

const FOLDER_TYPES: readonly string[] = ["input", "output", "temp"];

/** GET /view: a file from input, output or temp, with ComfyUI's 400/403/404 answers. */
export function view(comfy: ComfyProcess, url: URL): Reply {
  const { files, counters } = comfy.durable;
  counters.views++;
  const requested = url.searchParams.get("filename");
  if (requested === null) return empty(404);
  const annotated = annotatedPath(requested);
  if (!annotated.name) return empty(400);
  if (annotated.name.startsWith("/") || annotated.name.includes("..")) return empty(400);
  const type = annotated.type ?? url.searchParams.get("type") ?? "output";
  if (!FOLDER_TYPES.includes(type)) return empty(400);
  const base = files.folder(type as FolderType);
  const folder = posix.resolve(base, url.searchParams.get("subfolder") ?? "");
  if (folder !== base && !folder.startsWith(`${base}/`)) return empty(403);
  const name = posix.basename(annotated.name);
  const bytes = files.read(`${folder}/${name}`);
  if (!bytes) return empty(404);
  return {
    status: 200,
    headers: {
      "Content-Disposition": `filename="${name}"`,
      "Content-Type": CONTENT_TYPES[posix.extname(name).toLowerCase()] ?? "application/octet-stream",
    },
    body: bytes,
  };
}

/**
 * POST /upload/image (multipart `image`, `overwrite`, `subfolder`, `type`). Without overwrite, a name
 * already taken gets ` (1)`, ` (2)`… unless the file there has the same bytes, which is reused.
 */
export async function uploadImage(req: IncomingMessage, comfy: ComfyProcess, body: Buffer): Promise<Reply> {
  const { files, counters } = comfy.durable;
  counters.uploads++;
  let form: FormData;
  try {
    const headers = { "content-type": req.headers["content-type"] ?? "" };
    form = await new Request("http://simulator/", { method: "POST", headers, body }).formData();
  } catch {
    return empty(400);
  }
  const image = form.get("image");
  if (image === null || typeof image === "string" || !image.name) return empty(400);
  const type = formText(form, "type") ?? "input";
  if (!FOLDER_TYPES.includes(type)) return serverError();
  const subfolder = formText(form, "subfolder") ?? "";
  const bytes = Buffer.from(await image.arrayBuffer());
  const base = files.folder(type as FolderType);
  const folder = posix.resolve(base, pyNormpath(subfolder || "."));
  let name = image.name;
  const inside = (path: string) => path.startsWith(`${base}/`);
  if (!inside(posix.resolve(folder, name))) return empty(400);
  const overwrite = formText(form, "overwrite");
  if (overwrite !== "true" && overwrite !== "1") {
    const extension = posix.extname(name);
    const stem = name.slice(0, name.length - extension.length);
    for (let i = 1; ; i++) {
      const existing = files.read(posix.resolve(folder, name));
      if (!existing) break;
      if (sha256(existing) === sha256(bytes)) {
        return json(200, { name, subfolder, type });
      }
      name = `${stem} (${i})${extension}`;
    }
  }
  files.write(posix.resolve(folder, name), bytes);
  return json(200, { name, subfolder, type });
}

function formText(form: FormData, field: string): string | undefined {
  const value = form.get(field);
  return typeof value === "string" ? value : undefined;
}
