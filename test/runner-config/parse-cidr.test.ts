// CIDR allowlists that together allow every address are refused however they are
// split: coverage is computed from the ranges, not from the strings.
import { coveredFamily } from "../../src/runner-config/parse-cidr.js";

test.each([
  [["0.0.0.0/1", "128.0.0.0/1"], "IPv4"],
  [["128.0.0.0/1", "0.0.0.0/2", "64.0.0.0/2"], "IPv4"],
  [["0.0.0.0/1", "128.0.0.0/2", "192.0.0.0/3", "224.0.0.0/3"], "IPv4"],
  [["0.0.0.0/1", "128.0.0.0/2", "224.0.0.0/3"], undefined], // 192.0.0.0/3 is missing
  [["0.0.0.0/1", "0.0.0.0/1"], undefined],
  [["10.0.0.0/8", "192.168.0.0/16"], undefined],
  [["::/1", "8000::/1"], "IPv6"],
  [["::/2", "4000::/2", "8000::/1"], "IPv6"],
  [["::/1", "8000::/2"], undefined],
  [["::ffff:0.0.0.0/97", "::ffff:128.0.0.0/97"], undefined], // all of IPv4-mapped space, not all of IPv6
  [["2001:db8::/32", "0.0.0.0/1"], undefined],
])("%j covers every address of %s", (cidrs, family) => {
  expect(coveredFamily(cidrs)).toBe(family);
});
