// The doctor's results as a plain-text table (check, status, detail, fix), readable
// in a terminal and in CI logs alike.
import type { CheckResult } from "./check-result.js";

export function formatCheckTable(results: CheckResult[]): string {
  const rows = [["CHECK", "STATUS", "DETAIL", "FIX"], ...results.map((r) => [r.check, r.status.toUpperCase(), r.detail, r.fix ?? ""])];
  const widths = [0, 1, 2].map((column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows
    .map((row) =>
      row
        .map((cell, column) => (column < 3 ? cell.padEnd(widths[column]!) : cell))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}
