import { AppError } from "./errors";

/** One part of a `multipart/form-data` body; its `body` must be read (or skipped) before the next part. */
export type FormPart = {
  name: string;
  filename: string | null;
  contentType: string | null;
  body: AsyncIterable<Uint8Array>;
};

const CRLF = new Uint8Array([0x0d, 0x0a]);
const HEADER_END = new Uint8Array([0x0d, 0x0a, 0x0d, 0x0a]);
const MAX_HEADER_BYTES = 16 * 1024;
const decoder = new TextDecoder();

const malformed = (why: string) => new AppError("bad_request", `Malformed multipart body: ${why}`);

export function boundaryOf(contentType: string | undefined): string | null {
  if (!contentType || !/^multipart\/form-data\b/i.test(contentType.trim())) return null;
  const match = /;\s*boundary=(?:"([^"]{1,70})"|([^\s;"]{1,70}))/i.exec(contentType);
  return match?.[1] ?? match?.[2] ?? null;
}

function indexOf(haystack: Uint8Array, needle: Uint8Array, from = 0): number {
  const first = needle[0]!;
  for (let i = haystack.indexOf(first, from); i !== -1; i = haystack.indexOf(first, i + 1)) {
    if (i + needle.length > haystack.length) return -1;
    let j = 1;
    while (j < needle.length && haystack[i + j] === needle[j]) j++;
    if (j === needle.length) return i;
  }
  return -1;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** `form-data; name="file"; filename="a.png"` (and RFC 5987 `filename*`) → its parameters. */
function dispositionParams(value: string): Record<string, string> {
  const params: Record<string, string> = {};
  const re = /;\s*([a-z0-9*_-]+)\s*=\s*(?:"((?:\\.|[^"\\])*)"|([^;]*))/gi;
  for (let m = re.exec(value); m; m = re.exec(value)) {
    const key = m[1]!.toLowerCase();
    params[key] = m[2] !== undefined ? m[2].replace(/\\(.)/g, "$1") : (m[3] ?? "").trim();
  }
  const extended = params["filename*"];
  if (extended) {
    const ext = /^utf-8'[^']*'(.*)$/i.exec(extended);
    try {
      if (ext?.[1]) params.filename = decodeURIComponent(ext[1]);
    } catch {
      // keep the plain filename
    }
  }
  return params;
}

function parseHeaders(block: Uint8Array) {
  const headers = new Map<string, string>();
  for (const line of decoder.decode(block).split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  const disposition = headers.get("content-disposition");
  if (!disposition || !/^form-data\b/i.test(disposition)) throw malformed("a part lacks Content-Disposition");
  const params = dispositionParams(disposition);
  if (params.name === undefined) throw malformed("a part has no name");
  return {
    name: params.name,
    filename: params.filename ?? null,
    contentType: headers.get("content-type") ?? null,
  };
}

/**
 * Streams the parts of a `multipart/form-data` body without holding more than one network chunk
 * and a boundary's worth of bytes: part bodies are yielded as they arrive.
 */
export async function* parseMultipart(
  stream: ReadableStream<Uint8Array>,
  boundary: string,
): AsyncGenerator<FormPart> {
  const reader = stream.getReader();
  const dashBoundary = new TextEncoder().encode(`--${boundary}`);
  const delimiter = concat(CRLF, dashBoundary);
  let buf: Uint8Array = new Uint8Array(0);
  let done = false;

  const pull = async (): Promise<boolean> => {
    if (done) return false;
    const next = await reader.read();
    if (next.done) {
      done = true;
      return false;
    }
    buf = concat(buf, next.value);
    return true;
  };
  const ensure = async (n: number) => {
    while (buf.length < n) if (!(await pull())) throw malformed("unexpected end of body");
  };

  try {
    // Preamble, then the first boundary.
    let start = indexOf(buf, dashBoundary);
    while (start === -1) {
      if (buf.length > MAX_HEADER_BYTES) throw malformed("no boundary found");
      if (!(await pull())) throw malformed("no boundary found");
      start = indexOf(buf, dashBoundary);
    }
    buf = buf.subarray(start + dashBoundary.length);

    while (true) {
      await ensure(2);
      if (buf[0] === 0x2d && buf[1] === 0x2d) return; // closing `--boundary--`
      let lineEnd = indexOf(buf, CRLF);
      while (lineEnd === -1) {
        if (buf.length > 256) throw malformed("bad boundary line");
        await ensure(buf.length + 1);
        lineEnd = indexOf(buf, CRLF);
      }
      buf = buf.subarray(lineEnd + 2);

      await ensure(2);
      if (buf[0] === 0x0d && buf[1] === 0x0a) throw malformed("a part lacks Content-Disposition");
      let headerEnd = indexOf(buf, HEADER_END);
      while (headerEnd === -1) {
        if (buf.length > MAX_HEADER_BYTES) throw malformed("part headers too large");
        await ensure(buf.length + 1);
        headerEnd = indexOf(buf, HEADER_END);
      }
      const meta = parseHeaders(buf.subarray(0, headerEnd));
      buf = buf.subarray(headerEnd + HEADER_END.length);

      let finished = false;
      async function* body(): AsyncGenerator<Uint8Array> {
        while (!finished) {
          const at = indexOf(buf, delimiter);
          if (at !== -1) {
            const chunk = buf.subarray(0, at);
            buf = buf.subarray(at + delimiter.length);
            finished = true;
            if (chunk.length) yield chunk;
            return;
          }
          const keep = delimiter.length - 1;
          if (buf.length > keep) {
            const chunk = buf.subarray(0, buf.length - keep);
            buf = buf.subarray(buf.length - keep);
            yield chunk;
          }
          if (!(await pull())) throw malformed("unexpected end of body");
        }
      }
      const part = body();
      yield { ...meta, body: part };
      // Skip whatever the consumer did not read.
      for await (const _ of part) {
        // drain
      }
      if (!finished) throw malformed("unexpected end of body");
    }
  } finally {
    reader.releaseLock();
  }
}

/** Reads a small text field, refusing more than `maxBytes`. */
export async function readField(part: FormPart, maxBytes = 4096): Promise<string> {
  let out: Uint8Array = new Uint8Array(0);
  for await (const chunk of part.body) {
    out = concat(out, chunk);
    if (out.length > maxBytes) throw new AppError("payload_too_large", `Field '${part.name}' is too long`);
  }
  return decoder.decode(out);
}
