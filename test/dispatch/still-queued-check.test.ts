// When a job's runner is registered without asking GitHub first whether the job is
// still queued: only for the first runner of a young job that a queued webhook brought.
import { QUEUED_WEBHOOK_TRUSTED_MS, stillQueuedCheckNeeded, type StillQueuedFacts } from "../../src/dispatch/still-queued-check.js";

const now = Date.parse("2026-11-30T12:00:10Z");
const fresh: StillQueuedFacts = {
  fromQueuedWebhook: true,
  attempt: 0,
  reusesRegistration: false,
  trustedForMs: QUEUED_WEBHOOK_TRUSTED_MS,
  now,
};
const createdSecondsAgo = (seconds: number) => new Date(now - seconds * 1000).toISOString();

test.each<[string, string | undefined, Partial<StillQueuedFacts>, boolean]>([
  ["a queued webhook for a job created 1 s ago", createdSecondsAgo(1), {}, false],
  ["a job created just now by a clock ahead of ours", createdSecondsAgo(-3), {}, false],
  ["a job created 7.9 s ago", createdSecondsAgo(7.9), {}, false],
  ["a job created 8 s ago (a redelivery comes after GitHub's 10 s timeout)", createdSecondsAgo(8), {}, true],
  ["a job created an hour ago", createdSecondsAgo(3600), {}, true],
  ["a job whose creation time is unknown", undefined, {}, true],
  ["a job whose creation time does not parse", "yesterday", {}, true],
  ["a job a reconcile pass hands over", createdSecondsAgo(1), { fromQueuedWebhook: false }, true],
  ["a second runner for the job (attempt 1)", createdSecondsAgo(1), { attempt: 1 }, true],
  ["a registration kept from a try before Modal failed", createdSecondsAgo(1), { reusesRegistration: true }, true],
  ["trust turned off", createdSecondsAgo(1), { trustedForMs: 0 }, true],
  ["a shorter trust (UNSERVED_JOB_GRACE of 2 s), job 2.5 s old", createdSecondsAgo(2.5), { trustedForMs: 2000 }, true],
])("%s: look-up needed %s", (_name, createdAt, facts, needed) => {
  expect(stillQueuedCheckNeeded({ createdAt }, { ...fresh, ...facts })).toBe(needed);
});
