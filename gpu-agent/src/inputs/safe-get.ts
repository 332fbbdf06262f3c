import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import type { LookupFunction } from "node:net";
import { isIP } from "node:net";
import { InputError } from "./bind-inputs";
import { isPublicAddress } from "./public-address";

/** Where a URL fetched on a user's behalf (an input file, a model download) may point. */
export interface UrlPolicy {
  /** Allow private, loopback and link-local addresses for every URL. */
  allowPrivate: boolean;
  /** Origins trusted even on private addresses: the control plane's own. */
  trustedOrigins: string[];
}

const MAX_REDIRECTS = 3;

/**
 * GETs a URL under the policy, following up to three redirects (each checked again), and resolves with
 * the first reply that is not a redirect and the URL that gave it. Host names are resolved once and refused if any address is not
 * public, so there is no DNS rebinding window.
 */
export async function safeGet(
  url: URL,
  policy: UrlPolicy,
  init: { signal: AbortSignal; headers?: Record<string, string> },
  redirects = 0,
): Promise<{ response: IncomingMessage; url: URL }> {
  const trusted = policy.allowPrivate || policy.trustedOrigins.includes(url.origin);
  const host = url.hostname.replace(/^\[|\]$/g, "");
  if (!trusted && isIP(host) !== 0 && !isPublicAddress(host)) throw privateAddressError(url);
  const response = await get(url, init, trusted ? undefined : publicOnlyLookup(url));
  const status = response.statusCode ?? 0;
  if (status >= 300 && status < 400 && response.headers.location) {
    response.resume();
    if (redirects >= MAX_REDIRECTS) throw new InputError(`${redact(url.href)} redirects too many times`);
    return safeGet(new URL(response.headers.location, url), policy, init, redirects + 1);
  }
  return { response, url };
}

function get(
  url: URL,
  init: { signal: AbortSignal; headers?: Record<string, string> },
  lookup: LookupFunction | undefined,
): Promise<IncomingMessage> {
  const request = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "GET", signal: init.signal, headers: init.headers, lookup }, resolve);
    req.on("error", reject);
    req.end();
  });
}

/** Resolves the host and refuses it if any of its addresses is not public. */
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

const privateAddressError = (url: URL) =>
  new InputError(`${url.hostname} resolves to a private or local address; input URLs must be public`);

/** Signed URLs carry credentials in the query; keep them out of messages and logs. */
export function redact(href: string): string {
  if (!URL.canParse(href)) return "input URL";
  const url = new URL(href);
  return `${url.origin}${url.pathname}`;
}
