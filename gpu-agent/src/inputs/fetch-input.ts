import type { IncomingMessage } from "node:http";
import { basename } from "node:path";
import { InputError } from "./bind-inputs";
import { redact, safeGet, type UrlPolicy } from "./safe-get";

export interface FetchedInput {
  bytes: Buffer;
  contentType: string;
  /** The name the source suggests (URL path, or `input` for a data URI); not yet sanitised. */
  filename: string;
}

export interface FetchInputOptions extends UrlPolicy {
  maxBytes: number;
  timeoutMs: number;
  signal?: AbortSignal;
}

/** Fetches an input file from an http(s) URL or a data URI, within a size limit and a time limit. */
export async function fetchInput(source: string, options: FetchInputOptions): Promise<FetchedInput> {
  if (source.startsWith("data:")) return decodeDataUri(source, options.maxBytes);
  if (!/^https?:\/\//i.test(source))
    throw new InputError("an input file must be an http(s) URL or a data URI");
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  try {
    return await fetchUrl(new URL(source), options, signal);
  } catch (error) {
    if (timeout.aborted)
      throw new InputError(`fetching ${redact(source)} took longer than ${options.timeoutMs} ms`);
    if (error instanceof InputError || signal.aborted) throw error;
    throw new InputError(`fetching ${redact(source)} failed: ${(error as Error).message}`);
  }
}

async function fetchUrl(source: URL, options: FetchInputOptions, signal: AbortSignal) {
  const { response, url } = await safeGet(source, options, { signal });
  const status = response.statusCode ?? 0;
  if (status !== 200) {
    response.resume();
    throw new InputError(`fetching ${redact(url.href)} returned HTTP ${status}`);
  }
  const declared = Number(response.headers["content-length"] ?? Number.NaN);
  if (declared > options.maxBytes) {
    response.destroy();
    throw tooLargeError(options.maxBytes);
  }
  const bytes = await readLimited(response, options.maxBytes);
  return {
    bytes,
    contentType: response.headers["content-type"]?.split(";")[0]?.trim() || "application/octet-stream",
    filename: decodeURIComponent(basename(url.pathname)) || "input",
  };
}

async function readLimited(response: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of response) {
    total += (chunk as Buffer).length;
    if (total > maxBytes) {
      response.destroy();
      throw tooLargeError(maxBytes);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function decodeDataUri(uri: string, maxBytes: number): FetchedInput {
  const match = /^data:([^;,]*)((?:;[^;,]*)*?)(;base64)?,(.*)$/s.exec(uri);
  if (!match) throw new InputError("malformed data URI");
  const [, mime, , base64, payload = ""] = match;
  // Base64 decodes to 3/4 of its length; refuse before allocating anything large.
  if ((base64 ? (payload.length * 3) / 4 : payload.length) > maxBytes + 3) throw tooLargeError(maxBytes);
  const bytes = base64 ? Buffer.from(payload, "base64") : Buffer.from(decodeURIComponent(payload), "utf8");
  if (bytes.length > maxBytes) throw tooLargeError(maxBytes);
  return { bytes, contentType: mime || "text/plain", filename: "input" };
}

const tooLargeError = (maxBytes: number) =>
  new InputError(`input file is larger than the ${Math.floor(maxBytes / 1024 / 1024)} MiB limit`);
