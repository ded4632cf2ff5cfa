// Durations as operators write them: "90s", "15m", "1h30m", "1d", "500ms", or a bare
// number, which counts seconds (so RECONCILE_INTERVAL=90 is a minute and a half).
import { z } from "zod";

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** The accepted forms, as error messages and the README show them. */
export const DURATION_FORMS = "a duration such as 90s, 5m, 1h30m, 1d or 500ms (a bare number counts seconds)";

/** Milliseconds of a duration string, or undefined when it is not one. */
export function parseDuration(raw: string | number): number | undefined {
  const text = String(raw).trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  if (!/^(\d+(\.\d+)?(ms|s|m|h|d))+$/.test(text)) return undefined;
  let total = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) total += Number(amount) * UNITS[unit!]!;
  return Math.round(total);
}

/** A duration string, as milliseconds. */
export const duration = () =>
  z.union([z.number(), z.string()]).transform((raw, ctx) => {
    const value = parseDuration(raw);
    if (value === undefined) {
      ctx.addIssue({ code: "custom", message: `expected ${DURATION_FORMS}` });
      return z.NEVER;
    }
    return value;
  });

/** A sandbox lifetime: Modal's bounds, at least a minute and at most a day. */
export const sandboxLifetime = () =>
  duration().pipe(
    z
      .number()
      .min(60_000, "at least 60s")
      .max(24 * 3_600_000, "at most 24h"),
  );
