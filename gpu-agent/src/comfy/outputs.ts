import type { HistoryEntry } from "./schemas";

export type FileOutputKind = "images" | "gifs" | "videos" | "audio" | "files";

/** One output of a finished prompt: a file in ComfyUI's folders, or a text shown by a node. */
export type ComfyOutput =
  | { node_id: string; kind: FileOutputKind; filename: string; subfolder: string; type: string }
  | { node_id: string; kind: "text"; text: string };

/** Where ComfyUI's `ui` keys put each kind; other keys holding file entries are plain files. */
const KIND_BY_KEY: Record<string, FileOutputKind> = {
  images: "images",
  gifs: "gifs",
  videos: "videos",
  video: "videos",
  audio: "audio",
};

/** The outputs listed in a /history entry, node by node, in ComfyUI's order. */
export function listOutputs(entry: HistoryEntry): ComfyOutput[] {
  const outputs: ComfyOutput[] = [];
  for (const [nodeId, ui] of Object.entries(entry.outputs)) {
    for (const [key, items] of Object.entries(ui)) {
      if (!Array.isArray(items)) continue;
      for (const item of items) {
        if (key === "text" && typeof item === "string") {
          outputs.push({ node_id: nodeId, kind: "text", text: item });
        } else if (isFileEntry(item)) {
          outputs.push({
            node_id: nodeId,
            kind: KIND_BY_KEY[key] ?? "files",
            filename: item.filename,
            subfolder: typeof item.subfolder === "string" ? item.subfolder : "",
            type: typeof item.type === "string" ? item.type : "output",
          });
        }
      }
    }
  }
  return outputs;
}

function isFileEntry(item: unknown): item is { filename: string; subfolder?: unknown; type?: unknown } {
  return (
    typeof item === "object" && item !== null && typeof (item as { filename?: unknown }).filename === "string"
  );
}
