import { bytes } from "../lib/format";
import type { OutputFile, OutputGroup } from "../lib/types";
import { EmptyState } from "./ui";

type Item = { kind: string; nodeId: string; file: OutputFile | string };

function flatten(groups: OutputGroup[]): Item[] {
  return groups.flatMap((g) =>
    Object.entries(g.data).flatMap(([kind, files]) =>
      files.map((file) => ({ kind, nodeId: g.node_id, file })),
    ),
  );
}

function mediaKind(file: OutputFile, kind: string): "image" | "video" | "audio" | "other" {
  const type = file.content_type ?? "";
  if (type.startsWith("video/") || kind === "videos") return "video";
  if (type.startsWith("audio/") || kind === "audio") return "audio";
  if (type.startsWith("image/") || kind === "images" || kind === "gifs") return "image";
  return "other";
}

function Media({ file, kind }: { file: OutputFile; kind: string }) {
  const media = mediaKind(file, kind);
  if (media === "image") return <img src={file.url} alt={file.filename ?? "output"} loading="lazy" />;
  // Generated media comes without captions; the empty track keeps players' caption menus honest.
  if (media === "video")
    return (
      <video src={file.url} controls playsInline preload="metadata">
        <track kind="captions" />
      </video>
    );
  if (media === "audio")
    return (
      <audio src={file.url} controls preload="metadata">
        <track kind="captions" />
      </audio>
    );
  return <div class="file-icon">{file.filename?.split(".").pop()?.toUpperCase() ?? "FILE"}</div>;
}

/** Every output of a run: images shown, video and audio playable, each one downloadable. */
export function OutputsGallery({ groups, done }: { groups: OutputGroup[]; done: boolean }) {
  const items = flatten(groups);
  if (items.length === 0)
    return done ? (
      <EmptyState title="No outputs">This run produced no outputs.</EmptyState>
    ) : (
      <EmptyState title="No outputs yet">Outputs appear here when the run finishes.</EmptyState>
    );
  return (
    <div class="gallery" data-testid="outputs">
      {items.map((item, i) =>
        typeof item.file === "string" ? (
          <figure key={i} class="tile tile-text">
            <pre>{item.file}</pre>
            <figcaption class="small muted">Text · node {item.nodeId}</figcaption>
          </figure>
        ) : (
          <figure key={i} class="tile" data-testid="output-tile">
            <a href={item.file.url} target="_blank" rel="noreferrer" class="tile-media">
              <Media file={item.file} kind={item.kind} />
            </a>
            <figcaption>
              <div class="tile-name" title={item.file.filename}>
                {item.file.filename}
              </div>
              <div class="tile-meta small muted">
                {bytes(item.file.size)} · node {item.nodeId}
              </div>
              <a
                class="btn btn-ghost btn-sm"
                href={item.file.url}
                download={item.file.filename}
                data-testid="download"
              >
                Download
              </a>
            </figcaption>
          </figure>
        ),
      )}
    </div>
  );
}
