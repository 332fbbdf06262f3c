import { BlockList, isIP } from "node:net";

import { NON_PUBLIC_IPV4, NON_PUBLIC_IPV6 } from "../../../src/protocol/non-public-ranges";

/** Addresses an input URL must not reach. */
const NON_PUBLIC = new BlockList();
for (const [network, prefix] of NON_PUBLIC_IPV4) NON_PUBLIC.addSubnet(network, prefix, "ipv4");
for (const [network, prefix] of NON_PUBLIC_IPV6) NON_PUBLIC.addSubnet(network, prefix, "ipv6");

/** True for a routable public IP address; false for anything else, including a non-address. */
export function isPublicAddress(address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, "");
  const mappedV4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare)?.[1];
  if (mappedV4) return isPublicAddress(mappedV4);
  const family = isIP(bare);
  if (family === 0) return false;
  return !NON_PUBLIC.check(bare, family === 4 ? "ipv4" : "ipv6");
}
