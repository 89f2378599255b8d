/**
 * What a request's address says about who sent it, for rate limits. An IPv4 address is one client
 * and its /24 one network; for IPv6 a client is its /64 (one subscriber holds a whole /64, so
 * counting single addresses would give them 2⁶⁴ allowances) and a network its /48 (one site).
 * An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`) counts as the IPv4 address it carries.
 */

import { isIPv4, isIPv6 } from 'node:net';

export interface ClientAddress {
  /** The address one client controls: an IPv4 address, an IPv6 /64. */
  client: string;
  /** The network around it: an IPv4 /24, an IPv6 /48. */
  network: string;
}

export function clientAddress(ip: string): ClientAddress {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)?.[1];
  const v4 = mapped ?? ip;
  if (isIPv4(v4)) {
    return { client: v4, network: `${v4.split('.').slice(0, 3).join('.')}.0/24` };
  }
  const groups = isIPv6(ip) ? expandIPv6(ip) : undefined;
  // Not an address (a test's made-up name): it is its own client and network.
  if (!groups) return { client: ip, network: ip };
  return {
    client: `${groups.slice(0, 4).join(':')}::/64`,
    network: `${groups.slice(0, 3).join(':')}::/48`,
  };
}

/** The eight 16-bit groups of an IPv6 address, lower-case without leading zeros. */
function expandIPv6(ip: string): string[] | undefined {
  const address = ip.split('%')[0] ?? ip; // no zone index
  const [head = '', tail] = address.split('::');
  const parse = (part: string) => (part === '' ? [] : part.split(':'));
  let left = parse(head);
  let right = tail === undefined ? [] : parse(tail);
  // An embedded IPv4 tail (::1.2.3.4) is two groups.
  const last = (tail === undefined ? left : right).at(-1);
  if (last?.includes('.')) {
    const [a = 0, b = 0, c = 0, d = 0] = last.split('.').map(Number);
    const groups = [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
    if (tail === undefined) left = [...left.slice(0, -1), ...groups];
    else right = [...right.slice(0, -1), ...groups];
  }
  const missing = 8 - left.length - right.length;
  if (missing < 0 || (tail === undefined && missing !== 0)) return undefined;
  return [...left, ...Array.from({ length: missing }, () => '0'), ...right].map((g) =>
    Number.parseInt(g, 16).toString(16),
  );
}
