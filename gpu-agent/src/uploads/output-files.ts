import type { RunOutput } from "../../../src/protocol/v1";
import type { ComfyOutput } from "../comfy/outputs";
import { sanitizeFilename } from "../filenames";

/** A file an output node wrote, as ComfyUI's /history lists it. */
export type OutputFile = Exclude<ComfyOutput, { kind: "text" }>;
type TextOutput = Extract<ComfyOutput, { kind: "text" }>;

/** An output file with what its /view response says about it, and the name it is uploaded under. */
export interface DescribedOutput extends OutputFile {
  upload_name: string;
  content_type: string;
  size: number;
}

/** Splits a prompt's outputs into files to upload and text outputs, which are reported inline. */
export function splitOutputs(outputs: ComfyOutput[]): { files: OutputFile[]; texts: RunOutput[] } {
  const files = outputs.filter((output): output is OutputFile => output.kind !== "text");
  const texts = outputs
    .filter((output): output is TextOutput => output.kind === "text")
    .map((output, index) => ({
      node_id: output.node_id,
      kind: "text" as const,
      filename: `${output.node_id}-${index}.txt`,
      subfolder: "",
      type: "output",
      content_type: "text/plain; charset=utf-8",
      size: Buffer.byteLength(output.text),
      text: output.text,
    }));
  return { files, texts };
}

/** A safe, unique object name per run: ComfyUI's counters make names unique only within a subfolder. */
export function uploadNames(files: OutputFile[]): string[] {
  const used = new Set<string>();
  return files.map((file) => {
    const base = sanitizeFilename(file.filename);
    let name = base;
    for (let n = 1; used.has(name); n++) name = `${file.node_id}-${n}-${base}`;
    used.add(name);
    return name;
  });
}
