// GitHub's search-style date filter on workflow runs (`created=`), as the reconciler
// uses it to list recent runs.

/** ">=2024-01-01", "<2024-01-02T10:00:00Z", "a..b", "2024-01-01": does `created` match? */
export function matchesCreated(filter: string, created: Date): boolean {
  const t = created.getTime();
  const parse = (s: string, endOfDay: boolean): number => {
    if (s === "*") return endOfDay ? Infinity : -Infinity;
    if (/^\d{4}-\d{2}-\d{2}$/.test(s)) return Date.parse(`${s}T00:00:00Z`) + (endOfDay ? 86_400_000 - 1 : 0);
    return Date.parse(s);
  };
  const m = /^(>=|<=|>|<)(.+)$/.exec(filter);
  if (m) {
    const [, op, v] = m as unknown as [string, string, string];
    if (op === ">=") return t >= parse(v, false);
    if (op === ">") return t > parse(v, true);
    if (op === "<=") return t <= parse(v, true);
    return t < parse(v, false);
  }
  const range = filter.split("..");
  if (range.length === 2) return t >= parse(range[0] as string, false) && t <= parse(range[1] as string, true);
  return t >= parse(filter, false) && t <= parse(filter, true);
}
