import { NON_PUBLIC_IPV4, NON_PUBLIC_IPV6 } from "../protocol/non-public-ranges";
import { invalid } from "./errors";

/** Host names that always mean this machine, its network, or a cloud metadata service. */
const PRIVATE_NAMES = /(^|\.)(localhost|local|internal|localdomain|home\.arpa)$/i;
const METADATA_NAMES = new Set(["metadata", "metadata.google.internal", "instance-data"]);

function ipv4Bits(address: string): bigint | null {
  const parts = address.split(".");
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) return null;
  return parts.reduce((acc, p) => (acc << 8n) | BigInt(p), 0n);
}

function ipv6Bits(address: string): bigint | null {
  let text = address.toLowerCase();
  const v4Tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)?.[1];
  if (v4Tail) {
    const v4 = ipv4Bits(v4Tail);
    if (v4 === null) return null;
    text = `${text.slice(0, -v4Tail.length)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(":") : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(":") : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const groups = [...head, ...Array(halves.length === 2 ? missing : 0).fill("0"), ...tail];
  if (groups.some((g) => !/^[0-9a-f]{1,4}$/.test(g))) return null;
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(`0x${g}`), 0n);
}

function inRanges(bits: bigint, width: number, ranges: readonly [string, number][], parse: typeof ipv4Bits) {
  return ranges.some(([network, prefix]) => {
    const base = parse(network);
    const shift = BigInt(width - prefix);
    return base !== null && bits >> shift === base >> shift;
  });
}

/** True unless the host is an IP literal in a non-public range or a name that only resolves locally. */
export function isPublicHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, "").replace(/\.$/, "");
  const v4 = ipv4Bits(host);
  if (v4 !== null) return !inRanges(v4, 32, NON_PUBLIC_IPV4, ipv4Bits);
  if (host.includes(":")) {
    const v6 = ipv6Bits(host);
    if (v6 === null) return false;
    // IPv4-mapped addresses (::ffff:a.b.c.d) are judged as the IPv4 address they carry.
    if (v6 >> 32n === 0xffffn) return !inRanges(v6 & 0xffffffffn, 32, NON_PUBLIC_IPV4, ipv4Bits);
    return !inRanges(v6, 128, NON_PUBLIC_IPV6, ipv6Bits);
  }
  return !(PRIVATE_NAMES.test(host) || METADATA_NAMES.has(host.toLowerCase()) || !host.includes("."));
}

const isLoopback = (hostname: string) => ["127.0.0.1", "localhost", "[::1]"].includes(hostname.toLowerCase());

/**
 * Checks a URL the control plane will call (a webhook) at submit time: http(s) only, no credentials,
 * and a public host. `allowLoopback` (local development) also admits plain http to this machine.
 */
export function assertPublicUrl(field: string, value: string, opts: { allowLoopback: boolean }): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid(field, `${field} is not a valid URL`, "INVALID_URL");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:")
    throw invalid(field, `${field} must use http or https`, "UNSAFE_URL");
  if (url.username || url.password) throw invalid(field, `${field} must not carry credentials`, "UNSAFE_URL");
  if (opts.allowLoopback && isLoopback(url.hostname)) return url;
  if (!isPublicHost(url.hostname)) {
    throw invalid(
      field,
      `${field} points at a private, loopback, link-local or metadata address (${url.hostname})`,
      "UNSAFE_URL",
    );
  }
  return url;
}
