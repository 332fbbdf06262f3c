import type { Bindings } from "../env";
import { notFound } from "../lib/errors";
import { contentDisposition, isInlineSafe } from "../lib/file-types";
import type { FileRow } from "../stores/files";

type ByteRange = { offset: number; length: number };

/**
 * One `bytes=` range of a `size`-byte object. Multiple or malformed ranges are ignored (the whole
 * object is sent, as RFC 9110 allows); a range that starts past the end is unsatisfiable.
 */
export function parseRange(header: string | null, size: number): ByteRange | "unsatisfiable" | null {
  const match = header ? /^bytes=(\d*)-(\d*)$/.exec(header.trim()) : null;
  if (!match || (match[1] === "" && match[2] === "")) return null;
  if (match[1] === "") {
    const suffix = Number(match[2]);
    if (suffix === 0 || size === 0) return "unsatisfiable";
    const length = Math.min(suffix, size);
    return { offset: size - length, length };
  }
  const start = Number(match[1]);
  const end = match[2] === "" ? size - 1 : Math.min(Number(match[2]), size - 1);
  if (match[2] !== "" && Number(match[2]) < start) return null;
  if (start >= size) return "unsatisfiable";
  return { offset: start, length: end - start + 1 };
}

/**
 * Streams a ready file from R2 with Range, conditional requests, its own `Content-Type` and a
 * `Content-Disposition` that keeps anything a browser could run from rendering on our origin.
 */
export async function fileContentResponse(
  env: Bindings,
  row: FileRow,
  request: Request,
  options: { download?: boolean } = {},
): Promise<Response> {
  const size = row.size ?? 0;
  const range = parseRange(request.headers.get("Range"), size);
  const inline = !options.download && isInlineSafe(row.contentType);
  const headers = new Headers({
    "Content-Type": row.contentType,
    "Content-Disposition": contentDisposition(row.filename, inline),
    "Accept-Ranges": "bytes",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "private, max-age=0, must-revalidate",
  });
  if (!inline) headers.set("Content-Security-Policy", "default-src 'none'; sandbox");
  if (range === "unsatisfiable") {
    headers.set("Content-Range", `bytes */${size}`);
    return new Response(null, { status: 416, headers });
  }
  const object = await env.BUCKET.get(row.r2Key, {
    onlyIf: request.headers,
    ...(range ? { range } : {}),
  });
  if (!object) throw notFound("File content");
  headers.set("ETag", object.httpEtag);
  headers.set("Last-Modified", object.uploaded.toUTCString());
  if (!("body" in object)) return new Response(null, { status: 304, headers });
  if (range) {
    headers.set("Content-Range", `bytes ${range.offset}-${range.offset + range.length - 1}/${object.size}`);
    headers.set("Content-Length", String(range.length));
    return new Response(object.body, { status: 206, headers });
  }
  headers.set("Content-Length", String(object.size));
  return new Response(object.body, { status: 200, headers });
}
