// An egress CIDR as Modal takes it, checked: IPv4 or IPv6, a prefix length in range,
// and no host bits set (10.0.0.1/8 is almost always a typo for 10.0.0.0/8 or a /32).
// A /0 allows every address: that is `egress: open`, not an allowlist entry.
import { isIPv4, isIPv6 } from "node:net";
import type { Result } from "../lib/result.js";

export type CidrCheck = Result<{ cidr: string }>;

export function looksLikeCidr(entry: string): boolean {
  return /^[0-9a-f.:]+\/\d+$/i.test(entry) && /[.:]/.test(entry);
}

function ipv4Number(address: string): number {
  return address.split(".").reduce((value, octet) => value * 256 + Number(octet), 0);
}

export function parseCidr(entry: string): CidrCheck {
  const [address = "", prefixText = "", ...extra] = entry.split("/");
  const prefix = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
  if (extra.length > 0 || Number.isNaN(prefix)) return { ok: false, reason: `"${entry}" is not a CIDR (10.0.0.0/8, 2001:db8::/32)` };
  if (isIPv4(address)) {
    if (prefix > 32) return { ok: false, reason: `"${entry}": an IPv4 prefix length is 0 to 32` };
    if (prefix === 0) return { ok: false, reason: `"${entry}" allows every address; use egress: open if that is meant` };
    const mask = prefix === 32 ? 0xffffffff : (0xffffffff << (32 - prefix)) >>> 0;
    const value = ipv4Number(address);
    if ((value & ~mask) >>> 0 !== 0) {
      const network = (value & mask) >>> 0;
      const base = [24, 16, 8, 0].map((shift) => (network >>> shift) & 255).join(".");
      return { ok: false, reason: `"${entry}" has host bits set; did you mean ${base}/${prefix} (or ${address}/32)?` };
    }
    return { ok: true, cidr: `${address}/${prefix}` };
  }
  if (isIPv6(address)) {
    if (prefix > 128) return { ok: false, reason: `"${entry}": an IPv6 prefix length is 0 to 128` };
    if (prefix === 0) return { ok: false, reason: `"${entry}" allows every address; use egress: open if that is meant` };
    return { ok: true, cidr: `${address.toLowerCase()}/${prefix}` };
  }
  return { ok: false, reason: `"${entry}": "${address}" is not an IPv4 or IPv6 address` };
}

/** The address as a number (IPv4: 32 bits, IPv6: 128 bits), or undefined when it is neither. */
function addressBits(address: string): { family: "IPv4" | "IPv6"; value: bigint } | undefined {
  if (isIPv4(address)) return { family: "IPv4", value: BigInt(ipv4Number(address)) };
  if (!isIPv6(address)) return undefined;
  let text = address.toLowerCase();
  // An embedded IPv4 tail (::ffff:10.0.0.1) is two groups.
  const lastColon = text.lastIndexOf(":");
  const tail = text.slice(lastColon + 1);
  if (isIPv4(tail)) {
    const value = ipv4Number(tail);
    text = `${text.slice(0, lastColon + 1)}${(value >>> 16).toString(16)}:${(value & 0xffff).toString(16)}`;
  }
  const [head = "", rest] = text.split("::");
  const left = head === "" ? [] : head.split(":");
  const right = rest === undefined || rest === "" ? [] : rest.split(":");
  const groups = rest === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill("0"), ...right];
  return { family: "IPv6", value: groups.reduce((value, group) => (value << 16n) | BigInt(parseInt(group, 16)), 0n) };
}

/**
 * Whether the CIDRs together allow every address of a family, however they are split
 * (0.0.0.0/1 with 128.0.0.0/1 is /0 in two pieces): the ranges are merged and their
 * coverage measured, not the strings compared. Entries that do not parse are skipped
 * (parseCidr reports them).
 */
export function coveredFamily(entries: readonly string[]): "IPv4" | "IPv6" | undefined {
  for (const [family, bits] of [
    ["IPv4", 32n],
    ["IPv6", 128n],
  ] as const) {
    const ranges: Array<[bigint, bigint]> = [];
    for (const entry of entries) {
      const [address = "", prefixText = ""] = entry.split("/");
      const parsed = addressBits(address);
      const prefix = /^\d{1,3}$/.test(prefixText) ? BigInt(prefixText) : -1n;
      if (!parsed || parsed.family !== family || prefix < 0n || prefix > bits) continue;
      const size = 1n << (bits - prefix);
      const start = (parsed.value / size) * size; // host bits cleared
      ranges.push([start, start + size]);
    }
    ranges.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    let coveredTo = 0n;
    for (const [start, end] of ranges) {
      if (start > coveredTo) break;
      if (end > coveredTo) coveredTo = end;
    }
    if (coveredTo >= 1n << bits) return family;
  }
  return undefined;
}
