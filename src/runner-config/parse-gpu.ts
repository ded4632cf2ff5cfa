// A profile's `gpu`, checked against the GPU types Modal offers, with an optional
// count (`H100:2`, 1 to 8). Case does not matter; the canonical spelling is upper case.
import type { Result } from "../lib/result.js";

export const MODAL_GPU_TYPES = ["T4", "L4", "A10", "A10G", "L40S", "A100", "A100-40GB", "A100-80GB", "H100", "H200", "B200"] as const;

export type GpuCheck = Result<{ gpu: string }>;

export function parseGpu(raw: string): GpuCheck {
  const match = /^([A-Za-z0-9-]+)(?::(\d+))?$/.exec(raw.trim());
  const type = match?.[1]?.toUpperCase();
  if (!match || !type || !(MODAL_GPU_TYPES as readonly string[]).includes(type)) {
    return {
      ok: false,
      reason: `"${raw}" is not a Modal GPU type; one of ${MODAL_GPU_TYPES.join(", ")}, optionally with a count (H100:2)`,
    };
  }
  if (match[2] === undefined) return { ok: true, gpu: type };
  const count = Number(match[2]);
  if (count < 1 || count > 8) return { ok: false, reason: `"${raw}": a GPU count is 1 to 8` };
  return { ok: true, gpu: `${type}:${count}` };
}
