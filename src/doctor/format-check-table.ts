// The doctor's results as a plain-text table (check, status, then the detail with its
// fix on the lines below), readable in a terminal and in CI logs alike: every line
// fits `width` columns (100 by default), so nothing wraps in an 80-to-100-column
// terminal window or a CI log viewer. Long checks and details wrap at spaces; a
// word longer than its column (a URL) is cut into pieces.
import type { CheckResult } from "./check-result.js";

const GAP = "  ";
const STATUS_WIDTH = "STATUS".length;
/** The check column grows with the longest check name, up to this. */
const MAX_CHECK_WIDTH = 30;

/** `text` in lines of at most `width` characters, broken at spaces where it can be. */
export function wrapText(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (let word of text.split(/\s+/).filter(Boolean)) {
    while (word.length > width) {
      if (line) lines.push(line);
      lines.push(word.slice(0, width));
      word = word.slice(width);
      line = "";
    }
    if (!line) line = word;
    else if (line.length + 1 + word.length <= width) line += ` ${word}`;
    else {
      lines.push(line);
      line = word;
    }
  }
  if (line) lines.push(line);
  return lines.length > 0 ? lines : [""];
}

export function formatCheckTable(results: CheckResult[], width = 100): string {
  const checkWidth = Math.min(MAX_CHECK_WIDTH, Math.max("CHECK".length, ...results.map((r) => r.check.length)));
  const detailWidth = width - checkWidth - STATUS_WIDTH - 2 * GAP.length;
  const row = (check: string, status: string, detail: string) =>
    `${check.padEnd(checkWidth)}${GAP}${status.padEnd(STATUS_WIDTH)}${GAP}${detail}`.trimEnd();
  const lines = [row("CHECK", "STATUS", "DETAIL (and how to fix it)")];
  for (const result of results) {
    const checks = wrapText(result.check, checkWidth);
    const details = [...wrapText(result.detail, detailWidth), ...(result.fix ? wrapText(`fix: ${result.fix}`, detailWidth) : [])];
    for (let i = 0; i < Math.max(checks.length, details.length); i++)
      lines.push(row(checks[i] ?? "", i === 0 ? result.status.toUpperCase() : "", details[i] ?? ""));
  }
  return lines.join("\n");
}
