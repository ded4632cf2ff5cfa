// The doctor's table fits a 100-column terminal, whatever the checks say: long
// details and fixes wrap under their column, URLs are cut, and nothing is lost.
import { fail, ok, warn } from "../../src/doctor/check-result.js";
import { formatCheckTable, wrapText } from "../../src/doctor/format-check-table.js";

const LONG_URL = `https://github.com/organizations/a-rather-long-organization-name/settings/installations/123456789/permissions/update`;
const results = [
  ok("GitHub App", 'authenticates as "modal-github-runner" (id 12345) on https://api.github.com'),
  warn(
    "installation acme-corporation-platform-team",
    "the App cannot create organization runners: Self-hosted runners (organization) is not granted, so it registers repository runners",
    `grant Self-hosted runners (organization): write and approve it at ${LONG_URL}`,
  ),
  fail(
    "Modal",
    "cannot reach Modal: 14 UNAVAILABLE: No connection established. Last error: connect ECONNREFUSED 127.0.0.1:9",
    "check MODAL_SERVER_URL",
  ),
];

test("every line of the table fits 100 columns", () => {
  const table = formatCheckTable(results);
  const widths = table.split("\n").map((line) => line.length);
  expect(Math.max(...widths)).toBeLessThanOrEqual(100);
});

test("nothing is lost: every word of every detail and fix is in the table", () => {
  const table = formatCheckTable(results);
  const lines = table.split("\n");
  const statusAt = lines[0]!.indexOf("STATUS");
  const detailAt = lines[0]!.indexOf("DETAIL");
  const squeeze = (text: string) => text.replace(/\s+/g, "");
  const column = (from: number, to?: number) =>
    squeeze(
      lines
        .slice(1)
        .map((line) => line.slice(from, to))
        .join(""),
    );
  for (const result of results) {
    expect(column(0, statusAt)).toContain(squeeze(result.check));
    expect(column(detailAt)).toContain(squeeze(result.detail));
    if (result.fix) expect(column(detailAt)).toContain(squeeze(`fix: ${result.fix}`));
  }
  expect(table).toMatch(/^CHECK\s+STATUS\s+DETAIL/m);
  expect(table).toMatch(/^Modal\s+FAIL\s+cannot reach Modal/m);
  expect(table).toMatch(/^\s+fix: check MODAL_SERVER_URL$/m);
});

test.each([
  { text: "one two three", width: 7, lines: ["one two", "three"] },
  { text: "abcdefghij", width: 4, lines: ["abcd", "efgh", "ij"] },
  { text: "", width: 5, lines: [""] },
])("wrapText($text, $width)", ({ text, width, lines }) => {
  expect(wrapText(text, width)).toEqual(lines);
});
