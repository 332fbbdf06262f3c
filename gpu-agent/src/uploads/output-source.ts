import { createReadStream } from "node:fs";
import type { Readable } from "node:stream";
import type { ComfyFolders } from "../comfy-folders";
import type { OutputFile } from "./output-files";

/** An output file's bytes, streaming (never whole in memory), with what its source says about them. */
export interface OutputSource {
  body: Readable;
  /** The content type the source gave; null when it gives none (a file read from disk). */
  contentType: string | null;
  /** null when the source did not say (a chunked /view reply). */
  size: number | null;
}

/** Opens an output's bytes; throws UploadError when the source will never serve it (a 404). */
export type OpenOutput = (file: OutputFile, signal: AbortSignal) => Promise<OutputSource>;

/** Reads this large cost the agent a fraction of the CPU per byte that 64 KiB ones (Node's default) do. */
const READ_CHUNK_BYTES = 256 * 1024;

/**
 * Outputs straight from ComfyUI's output and temp folders on this host when the agent knows them
 * (`--comfy-dir`): no trip through ComfyUI's HTTP server and back, so the agent spends its CPU on the
 * upload alone. A file that is not there (ComfyUI writing to another directory) comes from `view`.
 */
export function outputOpener(folders: ComfyFolders | undefined, view: OpenOutput): OpenOutput {
  if (!folders) return view;
  return async (file, signal) => {
    const type = file.type;
    const local =
      type === "output" || type === "temp" ? await folders.localFile({ ...file, type }) : undefined;
    if (!local) return view(file, signal);
    const body = createReadStream(local.path, { highWaterMark: READ_CHUNK_BYTES, signal });
    return { body, contentType: null, size: local.size };
  };
}
