// A job's life as pure transitions: each row starts from one state, applies one
// event, and says what the job is then (its state, what it waits for, whether the
// dispatcher still works on it, holds a slot, keeps idle() waiting).
import * as transition from "../../src/dispatch/job-state.js";
import { holdsSlot, isActive, isBusy, type Attempt, type JobState } from "../../src/dispatch/job-state.js";
import type { ServeOutcome } from "../../src/dispatch/serve-job.js";
import type { JobRef } from "../../src/model/job.js";
import type { RunnerProfile } from "../../src/model/runner-profile.js";

const job: JobRef = {
  id: 42,
  runId: 7,
  name: "build",
  labels: ["modal"],
  createdAt: "2026-11-30T00:00:00Z",
  repository: { id: 1, owner: "octo-org", name: "app", ownerType: "Organization", private: true, visibility: "private" },
  installationId: 3,
};
const attempt: Attempt = {
  number: 0,
  profile: { name: "default" } as RunnerProfile,
  caps: { total: undefined, perInstallation: undefined, perRepository: undefined, perProfile: {} },
  placement: { installationId: 3, repository: "octo-org/app", profile: "default" },
};
const minted = { jitConfig: "secret", runner: { id: 9, name: "modal-42-0" }, scope: { kind: "org", org: "octo-org" } } as never;

const planning = transition.enqueued(job, 0, 1000, undefined);
const queued = transition.planned(planning, attempt, 1001);
const registering = transition.registering(queued, attempt, 1002) as JobState & { attempt: Attempt };
const creating = transition.creating(registering, "modal-42-0", 1003) as JobState & { attempt: Attempt };
const outcome = (kind: ServeOutcome["kind"]): ServeOutcome =>
  ({
    started: { kind, runnerName: "modal-42-0", runnerId: 9, sandboxId: "sb-1" },
    "already-served": { kind, runnerName: "modal-42-0", reason: "its sandbox is running" },
    "not-queued": { kind, status: "completed" },
    "retry-later": { kind, runnerName: "modal-42-0", delayMs: 500, reason: "maybe another replica's" },
  })[kind] as ServeOutcome;

/** What a state says, in one line. */
function summary(state: JobState): string {
  const what = state.state === "waiting" ? `waiting for ${state.for}` : state.state === "finished" ? `finished ${state.kind}` : state.state;
  const flags = [isActive(state) && "active", holdsSlot(state) && "slot", isBusy(state) && "busy"].filter(Boolean).join(",");
  return `${what} [${flags}] since ${state.since}`;
}

test.each<[string, JobState, string]>([
  ["a job handed over is planned first", planning, "planning [active,busy] since 1000"],
  ["planned, it waits for a slot", queued, "waiting for slot [active,busy] since 1001"],
  [
    "its budget has no room",
    transition.waitingFor(queued as never, "budget", "spent", 1010),
    "waiting for budget [active,busy] since 1010",
  ],
  ["a cap is reached", transition.waitingFor(queued as never, "capacity", "total (1/1)", 1010), "waiting for capacity [active] since 1010"],
  ["given a slot, it registers", registering, "registering [active,slot,busy] since 1002"],
  ["registered, its sandbox is created", creating, "creating [active,slot,busy] since 1003"],
  ["Modal is down", transition.waitingForModal(creating, minted, "UNAVAILABLE", 1004), "waiting for modal [active] since 1004"],
  ["its sandbox started", transition.served(creating, outcome("started"), 1005), "running [] since 1005"],
  ["it already had a runner", transition.served(creating, outcome("already-served"), 1005), "finished already-served [] since 1005"],
  ["it is no longer queued", transition.served(registering, outcome("not-queued"), 1005), "finished not-queued [] since 1005"],
  ["look again later", transition.served(registering, outcome("retry-later"), 1005), "waiting for retry [active] since 1005"],
  ["it failed", transition.failed(registering, "GitHub answered 500", true, 1005), "finished failed [] since 1005"],
  ["policy refused it", transition.refused(planning, "denied", 1005), "finished refused [] since 1005"],
  ["it completed while waiting", transition.forgotten(queued, 1005), "finished forgotten [] since 1005"],
])("%s", (_case, state, expected) => {
  expect(summary(state)).toBe(expected);
  expect(state).toMatchObject({ job, enqueuedAt: 1000 });
});

test("an attempt travels as one object; Modal's wait keeps the registration minted for it", () => {
  const waiting = transition.waitingForModal(creating, minted, "UNAVAILABLE", 1004);
  expect(waiting).toMatchObject({ state: "waiting", for: "modal", attempt: { ...attempt, minted }, reason: "UNAVAILABLE" });
  const retry = transition.served(registering, outcome("retry-later"), 1005);
  expect(retry).toMatchObject({ attempt, until: 1505 });
  expect(transition.served(creating, outcome("started"), 1005)).toMatchObject({ attempt, runnerName: "modal-42-0", sandboxId: "sb-1" });
});

test("waiting for the same thing for the same reason is no change (nothing is reported twice)", () => {
  const once = transition.waitingFor(queued as never, "capacity", "total (1/1)", 1010);
  expect(transition.waitingFor(once as never, "capacity", "total (1/1)", 1020)).toBe(once);
  expect(transition.waitingFor(once as never, "capacity", "total (2/2)", 1020)).not.toBe(once);
});

test("a refusal is remembered when the job is handed over again", () => {
  const refusedOnce = transition.refused(planning, "denied", 1005);
  expect(transition.enqueued(job, 0, 2000, refusedOnce).refusedBefore).toBe(true);
  expect(transition.enqueued(job, 0, 2000, transition.failed(planning, "boom", true, 1005)).refusedBefore).toBe(false);
  expect(transition.enqueued(job, 0, 2000, undefined).refusedBefore).toBe(false);
});

test("only the first word of a job, from a queued webhook, marks it as brought by one (it may skip the still-queued look-up)", () => {
  expect(transition.enqueued(job, 0, 2000, undefined, true).fromQueuedWebhook).toBe(true);
  expect(transition.enqueued(job, 0, 2000, undefined).fromQueuedWebhook).toBe(false);
  // Seen before (a retry, a webhook again after a reconcile pass): looked up as always.
  expect(transition.enqueued(job, 0, 2000, transition.failed(planning, "boom", true, 1005), true).fromQueuedWebhook).toBe(false);
  // The mark stays with the job through its states.
  const brought = transition.enqueued(job, 0, 2000, undefined, true);
  expect(transition.registering(transition.planned(brought, attempt, 2001), attempt, 2002).fromQueuedWebhook).toBe(true);
});
