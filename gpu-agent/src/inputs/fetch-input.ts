import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import type { LookupFunction } from "node:net";
import { isIP } from "node:net";
import { basename } from "node:path";
import { InputError } from "./bind-inputs";
import { isPublicAddress } from "./public-address";

export interface FetchedInput {
  bytes: Buffer;
  contentType: string;
  /** The name the source suggests (URL path, or `input` for a data URI); not yet sanitised. */
  filename: string;
}

export interface FetchInputOptions {
  maxBytes: number;
  timeoutMs: number;
  /** Allow private, loopback and link-local addresses for every URL. */
  allowPrivate: boolean;
  /** Origins trusted even on private addresses: the control plane's own. */
  trustedOrigins: string[];
  signal?: AbortSignal;
}

const MAX_REDIRECTS = 3;

/** Fetches an input file from an http(s) URL or a data URI, within a size limit and a time limit. */
export async function fetchInput(source: string, options: FetchInputOptions): Promise<FetchedInput> {
  if (source.startsWith("data:")) return decodeDataUri(source, options.maxBytes);
  if (!/^https?:\/\//i.test(source))
    throw new InputError("an input file must be an http(s) URL or a data URI");
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  try {
    return await fetchUrl(new URL(source), options, signal, 0);
  } catch (error) {
    if (timeout.aborted)
      throw new InputError(`fetching ${redact(source)} took longer than ${options.timeoutMs} ms`);
    if (error instanceof InputError || signal.aborted) throw error;
    throw new InputError(`fetching ${redact(source)} failed: ${(error as Error).message}`);
  }
}

async function fetchUrl(url: URL, options: FetchInputOptions, signal: AbortSignal, redirects: number) {
  const trusted = options.allowPrivate || options.trustedOrigins.includes(url.origin);
  const host = url.hostname.replace(/^\[|\]$/g, "");
  if (!trusted && isIP(host) !== 0 && !isPublicAddress(host)) throw privateAddressError(url);
  const response = await get(url, signal, trusted ? undefined : publicOnlyLookup(url));
  const status = response.statusCode ?? 0;
  if (status >= 300 && status < 400 && response.headers.location) {
    response.resume();
    if (redirects >= MAX_REDIRECTS) throw new InputError(`${redact(url.href)} redirects too many times`);
    return fetchUrl(new URL(response.headers.location, url), options, signal, redirects + 1);
  }
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

function get(url: URL, signal: AbortSignal, lookup: LookupFunction | undefined): Promise<IncomingMessage> {
  const request = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "GET", signal, lookup }, resolve);
    req.on("error", reject);
    req.end();
  });
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

/** Resolves the host and refuses it if any of its addresses is not public (no DNS rebinding window). */
function publicOnlyLookup(url: URL): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, "", 0);
      if (addresses.length === 0 || addresses.some((a) => !isPublicAddress(a.address))) {
        return callback(privateAddressError(url), "", 0);
      }
      if (options.all) return callback(null, addresses);
      const [first] = addresses as [LookupAddress];
      callback(null, first.address, first.family);
    });
  };
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

const privateAddressError = (url: URL) =>
  new InputError(`${url.hostname} resolves to a private or local address; input URLs must be public`);

const tooLargeError = (maxBytes: number) =>
  new InputError(`input file is larger than the ${Math.floor(maxBytes / 1024 / 1024)} MiB limit`);

/** Signed URLs carry credentials in the query; keep them out of messages and logs. */
function redact(href: string): string {
  if (!URL.canParse(href)) return "input URL";
  const url = new URL(href);
  return `${url.origin}${url.pathname}`;
}
