// Durations as operators write them: "90s", "15m", "6h", "1d", "500ms", or a bare
// number of seconds.
import { z } from "zod";

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration string, as milliseconds. */
export const duration = () =>
  z.union([z.number(), z.string()]).transform((raw, ctx) => {
    const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(String(raw));
    if (!match) {
      ctx.addIssue({ code: "custom", message: "expected a duration such as 90s, 15m or 6h" });
      return z.NEVER;
    }
    return Math.round(Number(match[1]) * UNITS[match[2] ?? "s"]!);
  });

/** A sandbox lifetime: Modal's bounds, at least a minute and at most a day. */
export const sandboxLifetime = () => duration().pipe(z.number().min(60_000, "at least 60s").max(24 * 3_600_000, "at most 24h"));
