// An egress CIDR as Modal takes it, checked: IPv4 or IPv6, a prefix length in range,
// and no host bits set (10.0.0.1/8 is almost always a typo for 10.0.0.0/8 or a /32).
// A /0 allows every address: that is `egress: open`, not an allowlist entry.
import { isIPv4, isIPv6 } from "node:net";

export type CidrCheck = { cidr: string } | { problem: string };

export function looksLikeCidr(entry: string): boolean {
  return /^[0-9a-f.:]+\/\d+$/i.test(entry) && /[.:]/.test(entry);
}

function ipv4Number(address: string): number {
  return address.split(".").reduce((value, octet) => value * 256 + Number(octet), 0);
}

export function parseCidr(entry: string): CidrCheck {
  const [address = "", prefixText = "", ...extra] = entry.split("/");
  const prefix = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
  if (extra.length > 0 || Number.isNaN(prefix)) return { problem: `"${entry}" is not a CIDR (10.0.0.0/8, 2001:db8::/32)` };
  if (isIPv4(address)) {
    if (prefix > 32) return { problem: `"${entry}": an IPv4 prefix length is 0 to 32` };
    if (prefix === 0) return { problem: `"${entry}" allows every address; use egress: open if that is meant` };
    const mask = prefix === 32 ? 0xffffffff : (0xffffffff << (32 - prefix)) >>> 0;
    const value = ipv4Number(address);
    if ((value & ~mask) >>> 0 !== 0) {
      const network = (value & mask) >>> 0;
      const base = [24, 16, 8, 0].map((shift) => (network >>> shift) & 255).join(".");
      return { problem: `"${entry}" has host bits set; did you mean ${base}/${prefix} (or ${address}/32)?` };
    }
    return { cidr: `${address}/${prefix}` };
  }
  if (isIPv6(address)) {
    if (prefix > 128) return { problem: `"${entry}": an IPv6 prefix length is 0 to 128` };
    if (prefix === 0) return { problem: `"${entry}" allows every address; use egress: open if that is meant` };
    return { cidr: `${address.toLowerCase()}/${prefix}` };
  }
  return { problem: `"${entry}": "${address}" is not an IPv4 or IPv6 address` };
}
