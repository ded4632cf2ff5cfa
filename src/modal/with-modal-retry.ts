// Transient Modal failures (unreachable, deadline, overload) are retried with
// exponential backoff and jitter; anything else, or the last failure, is thrown to
// the caller, which leaves the job to the reconciler.
import { isTransientModalError } from "../lib/errors.js";

export interface RetryOptions {
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
}

export const DEFAULT_MODAL_RETRY: RetryOptions = { attempts: 5, baseDelayMs: 250, maxDelayMs: 8000 };

export async function withModalRetry<T>(call: () => Promise<T>, options: RetryOptions = DEFAULT_MODAL_RETRY): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (attempt >= options.attempts || !isTransientModalError(error)) throw error;
      const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** (attempt - 1));
      const delayMs = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
      options.onRetry?.(error, attempt, delayMs);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}
