/**
 * Where a delivery may go. Outbound URLs are chosen by API callers, so by default the addresses a
 * service can reach but the internet cannot are refused: loopback, private (RFC 1918), link-local
 * (and the cloud metadata address in it), CGNAT, unique-local IPv6, multicast, "this network",
 * reserved ranges, and IPv4 addresses embedded in IPv6 forms of those. `EVENTS_ALLOW_PRIVATE`
 * opens them all (`true`) or only the CIDRs it lists. Checked on the address actually connected
 * to, after DNS resolution, and again on every redirect.
 */
import { BlockList, isIP } from 'node:net';

const REFUSED_V4: [string, number][] = [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // CGNAT (and Alibaba's metadata 100.100.100.200)
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, 169.254.169.254 metadata
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
];
const REFUSED_V6: [string, number][] = [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7], // unique-local (fd00:ec2::254 is AWS's metadata)
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
  ['2001:db8::', 32],
  ['100::', 64], // discard
];

const REFUSED = new BlockList();
for (const [net, prefix] of REFUSED_V4) REFUSED.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of REFUSED_V6) REFUSED.addSubnet(net, prefix, 'ipv6');

/** What EVENTS_ALLOW_PRIVATE opens: nothing, everything, or these CIDRs. */
export type PrivateAllowance = undefined | true | readonly string[];

export class AddressPolicy {
  readonly #all: boolean;
  readonly #open = new BlockList();

  constructor(allow: PrivateAllowance) {
    this.#all = allow === true;
    if (Array.isArray(allow)) for (const cidr of allow) addCidr(this.#open, cidr);
  }

  /** Why `address` (an IP literal) may not be connected to, or undefined when it may. */
  refusal(address: string): string | undefined {
    const family = isIP(address);
    if (family === 0) return `${address} is not an IP address`;
    const v4 = family === 6 ? embeddedV4(address) : address;
    const [ip, type] = v4 ? [v4, 'ipv4' as const] : [address, 'ipv6' as const];
    if (!REFUSED.check(ip, type)) return undefined;
    if (this.#all || this.#open.check(ip, type)) return undefined;
    return `${address} is a loopback, private, link-local or reserved address (EVENTS_ALLOW_PRIVATE opens it)`;
  }
}

/** Parses one `a.b.c.d/n`, `v6/n` or bare address; throws with the rule when it is not one. */
export function addCidr(list: BlockList, cidr: string): void {
  const [net = '', prefixText] = cidr.trim().split('/');
  const family = isIP(net);
  const max = family === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (family === 0 || !Number.isInteger(prefix) || prefix < 0 || prefix > max || prefixText === '')
    throw new Error(`"${cidr.trim()}" is not an address or CIDR (like 127.0.0.1/32 or fd00::/8)`);
  list.addSubnet(net, prefix, family === 4 ? 'ipv4' : 'ipv6');
}

/** The IPv4 address inside an IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible or NAT64 IPv6 address. */
function embeddedV4(address: string): string | undefined {
  const lower = address.toLowerCase();
  const dotted = /^(?:::ffff:|::|64:ff9b::)(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (dotted) return dotted[1];
  const hex = /^(?:::ffff:|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
  if (!hex) return undefined;
  const hi = Number.parseInt(hex[1]!, 16);
  const lo = Number.parseInt(hex[2]!, 16);
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}
