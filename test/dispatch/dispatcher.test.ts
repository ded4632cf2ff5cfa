// The dispatcher alone, with plain collaborators: a plan function (the job policy),
// a serve function (what serveJob answers), the real Capacity, a Modal availability
// switch and a manual clock. What is checked is what it reports (its outcome
// records) and what it holds (waiting, unserved, dispatching), never its log.
import { pino } from "pino";
import { Capacity } from "../../src/dispatch/capacity.js";
import { Dispatcher, type OutcomeRecord } from "../../src/dispatch/dispatcher.js";
import { MAX_REMEMBERED } from "../../src/dispatch/job-book.js";
import { ModalUnavailable, type MintedRunner, type ServeOutcome, type ServeRequest } from "../../src/dispatch/serve-job.js";
import type { JobRef } from "../../src/model/job.js";
import type { Caps, RunnerProfile } from "../../src/model/runner-profile.js";
import type { JobPlan } from "../../src/policy/job-policy.js";
import { ManualClock, flush } from "../support/manual-clock.js";
import { GITHUB_SECONDARY_LIMITS } from "../../src/github/installation-budget.js";
import { RequestBudgets } from "../../src/github/request-budgets.js";

const INSTALLATION = 7;
const profile = { name: "default", labels: ["modal"] } as RunnerProfile;
const noCaps: Caps = { total: undefined, perInstallation: undefined, perRepository: undefined, perProfile: {} };

let nextId = 1;
function job(o: { createdAt?: string; repo?: string; installationId?: number } = {}): JobRef {
  const id = nextId++;
  return {
    id,
    runId: id,
    name: "build",
    labels: ["modal"],
    createdAt: o.createdAt ?? new Date(1_700_000_000_000 + id * 1000).toISOString(),
    repository: { id: 1, owner: "octo-org", name: o.repo ?? "app", ownerType: "Organization", private: true, visibility: "private" },
    installationId: o.installationId ?? INSTALLATION,
  };
}

const started = (target: JobRef, request: ServeRequest): ServeOutcome => ({
  kind: "started",
  runnerName: `modal-${target.id}-${request.attempt}`,
  runnerId: target.id,
  sandboxId: `sb-${target.id}`,
});

interface Setup {
  caps?: Caps;
  concurrency?: number;
  /** Each installation's GitHub budget (its points per window). */
  budgetPoints?: number;
  plan?: (job: JobRef) => Promise<JobPlan>;
  serve?: (job: JobRef, request: ServeRequest) => Promise<ServeOutcome>;
  /** The caps' count (default: a Capacity on the test's clock). */
  capacity?: (now: () => number) => Capacity;
}

function setup(options: Setup = {}) {
  const clock = new ManualClock();
  const capacity = options.capacity?.(clock.now) ?? new Capacity(clock.now);
  const budgets = new RequestBudgets({ ...GITHUB_SECONDARY_LIMITS, capacity: options.budgetPoints ?? 900 }, clock);
  const records: OutcomeRecord[] = [];
  const served: Array<{ jobId: number; request: ServeRequest }> = [];
  const modal = {
    down: undefined as string | undefined,
    due: false,
    recover: () => undefined as void,
    unavailable: () => modal.down,
    probeDue: () => modal.due,
    whenAvailable: () => new Promise<void>((resolve) => (modal.recover = resolve)),
  };
  const dispatcher = new Dispatcher({
    concurrency: options.concurrency ?? 4,
    budgets,
    plan: options.plan ?? (async () => ({ ok: true, profile, caps: options.caps ?? noCaps })),
    serve: async (target, request) => {
      served.push({ jobId: target.id, request });
      return (options.serve ?? (async (j, r) => started(j, r)))(target, request);
    },
    capacity,
    modal,
    log: pino({ level: "silent" }),
    clock,
    onOutcome: (record) => records.push(record),
  });
  const kinds = (jobId?: number) => records.filter((record) => jobId === undefined || record.job.id === jobId).map((record) => record.kind);
  return { clock, capacity, budgets, dispatcher, records, served, modal, kinds };
}

describe("what one attempt's outcome leaves behind", () => {
  test.each<[string, (j: JobRef, r: ServeRequest) => Promise<ServeOutcome>, Partial<OutcomeRecord>, number]>([
    [
      "a started runner holds a slot",
      async (j, r) => started(j, r),
      { kind: "started", sandboxId: expect.stringMatching(/^sb-/), profile: "default" },
      1,
    ],
    [
      "a job that already has a runner frees its slot",
      async (j) => ({ kind: "already-served", runnerName: `modal-${j.id}-0`, reason: "its sandbox is running" }),
      { kind: "already-served", reason: "its sandbox is running" },
      0,
    ],
    [
      "a job no longer queued frees its slot",
      async () => ({ kind: "not-queued", status: "completed" }),
      { kind: "not-queued", reason: "the job is completed" },
      0,
    ],
    [
      "a failure is recorded as unserved and frees its slot",
      async () => Promise.reject(Object.assign(new Error("GitHub answered 500"), { status: 500 })),
      { kind: "failed", reason: expect.stringContaining("500") },
      0,
    ],
  ])("%s", async (_case, serve, expected, slots) => {
    const { dispatcher, records, capacity } = setup({ serve });
    const queued = job();
    expect(dispatcher.enqueue(queued)).toBe(true);
    await dispatcher.idle();
    expect(records).toEqual([expect.objectContaining({ ...expected, job: queued })]);
    expect(capacity.size).toBe(slots);
    expect(dispatcher.unserved().map((entry) => entry.job.id)).toEqual(expected.kind === "failed" ? [queued.id] : []);
    expect(dispatcher.jobs()).toEqual([]);
  });

  test("a plan that fails is recorded as unserved", async () => {
    const { dispatcher, kinds } = setup({ plan: async () => Promise.reject(new Error("policy file read failed")) });
    const queued = job();
    dispatcher.enqueue(queued);
    await dispatcher.idle();
    expect(kinds()).toEqual(["failed"]);
    expect(dispatcher.unserved()).toEqual([
      expect.objectContaining({ job: queued, reason: expect.stringContaining("policy file read failed") }),
    ]);
  });

  test("a later success clears the job from the unserved list", async () => {
    let fail = true;
    const { dispatcher } = setup({ serve: async (j, r) => (fail ? Promise.reject(new Error("boom")) : started(j, r)) });
    const queued = job();
    dispatcher.enqueue(queued);
    await dispatcher.idle();
    fail = false;
    dispatcher.enqueue(queued, 1);
    await dispatcher.idle();
    expect(dispatcher.unserved()).toEqual([]);
  });
});

describe("a job GitHub says is over while its attempt is in flight (completed, or its repository left the installation)", () => {
  test.each<[string, (j: JobRef, r: ServeRequest) => ServeOutcome, string, string[]]>([
    [
      "the attempt then fails: the job is forgotten, not left for the reconciler to serve again",
      () => {
        throw Object.assign(new Error("GitHub answered 500"), { status: 500 });
      },
      "forgotten",
      [],
    ],
    [
      "Modal then refuses the create: the job is forgotten, not left waiting for Modal",
      () => {
        throw new ModalUnavailable(undefined, "UNAVAILABLE");
      },
      "forgotten",
      [],
    ],
    ["the runner then starts: it stands (the reconciler removes an idle runner)", (j, r) => started(j, r), "running", ["started"]],
  ])("%s", async (_case, outcome, state, recorded) => {
    let answer: () => void = () => {};
    const { dispatcher, kinds, modal } = setup({
      serve: (j, r) =>
        new Promise<ServeOutcome>((resolve, reject) => {
          answer = () => {
            try {
              resolve(outcome(j, r));
            } catch (error) {
              modal.down = error instanceof ModalUnavailable ? "the circuit breaker is open" : undefined;
              reject(error);
            }
          };
        }),
    });
    const queued = job();
    dispatcher.enqueue(queued);
    await flush();
    expect(dispatcher.jobState(queued.id)?.state).toBe("registering"); // in flight: serve has not answered
    dispatcher.forget(queued.id);
    answer();
    await dispatcher.idle();
    expect(dispatcher.jobState(queued.id)).toMatchObject({ state: state === "forgotten" ? "finished" : state });
    if (state === "forgotten") expect(dispatcher.jobState(queued.id)).toMatchObject({ kind: "forgotten" });
    expect(kinds(queued.id)).toEqual(recorded);
    expect(dispatcher.unserved()).toEqual([]);
    expect(dispatcher.waiting()).toEqual([]);
  });
});

test("a job refused by policy is recorded once however often it is seen, and never served", async () => {
  const { dispatcher, kinds, served } = setup({ plan: async () => ({ ok: false, reason: "octo-org/app is on DENIED_REPOSITORIES" }) });
  const refused = job();
  for (let i = 0; i < 3; i++) {
    expect(dispatcher.enqueue(refused)).toBe(true);
    await dispatcher.idle();
  }
  expect(kinds()).toEqual(["refused"]);
  expect(served).toEqual([]);
});

test("a redelivery while the job is being served starts no second attempt", async () => {
  let finish: () => void = () => undefined;
  const { dispatcher, served } = setup({ serve: (j, r) => new Promise((resolve) => (finish = () => resolve(started(j, r)))) });
  const queued = job();
  expect(dispatcher.enqueue(queued)).toBe(true);
  await flush();
  expect(served).toHaveLength(1);
  expect(dispatcher.jobState(queued.id)?.state).toBe("registering");
  expect(dispatcher.enqueue(queued)).toBe(false);
  finish();
  await dispatcher.idle();
  expect(served).toHaveLength(1);
});

test("over a cap, jobs wait and start oldest first, one per freed slot", async () => {
  const { dispatcher, capacity, served, records } = setup({ caps: { ...noCaps, total: 1 } });
  const first = job();
  const older = job({ createdAt: "2026-01-01T00:00:00Z" });
  const newer = job({ createdAt: "2026-01-02T00:00:00Z" });
  dispatcher.enqueue(first);
  await dispatcher.idle();
  // Arrival order is newest first; the age of the job decides.
  dispatcher.enqueue(newer);
  dispatcher.enqueue(older);
  await dispatcher.idle();
  expect(dispatcher.waiting().map((entry) => entry.id)).toEqual([older.id, newer.id]);
  expect(records.filter((record) => record.kind === "waiting")).toEqual([
    expect.objectContaining({ job: newer, reason: "cap reached: total (1/1)" }),
    expect.objectContaining({ job: older, reason: "cap reached: total (1/1)" }),
  ]);

  capacity.ended(`modal-${first.id}-0`, INSTALLATION);
  dispatcher.pump();
  await dispatcher.idle();
  expect(served.map((entry) => entry.jobId)).toEqual([first.id, older.id]);
  expect(dispatcher.waiting().map((entry) => entry.id)).toEqual([newer.id]);

  // A waiting job that completes leaves the wait.
  dispatcher.forget(newer.id);
  expect(dispatcher.waiting()).toEqual([]);
  expect(dispatcher.enqueue(newer)).toBe(true);
});

/** The real Capacity, counting how often a cap slot is asked for. */
class CountingCapacity extends Capacity {
  tries = 0;
  override reserve(...args: Parameters<Capacity["reserve"]>) {
    this.tries++;
    return super.reserve(...args);
  }
}

test("behind a reached total cap, a pump does not try again the jobs already waiting for it; each keeps its waiting state", async () => {
  let counting!: CountingCapacity;
  const { dispatcher, served } = setup({
    caps: { ...noCaps, total: 1 },
    capacity: (now) => (counting = new CountingCapacity(now)),
  });
  const first = job();
  dispatcher.enqueue(first);
  await dispatcher.idle();
  const backlog = Array.from({ length: 50 }, () => job());
  for (const waiting of backlog) dispatcher.enqueue(waiting);
  await dispatcher.idle();
  expect(dispatcher.waiting()).toHaveLength(50);
  const states = backlog.map((waiting) => dispatcher.jobState(waiting.id));

  counting.tries = 0;
  // The count moves (a list says two run now), the cap stays reached; ten pumps.
  counting.observe(
    [0, 1].map((i) => ({ name: `other-${i}`, installationId: INSTALLATION, repository: "octo-org/app", profile: "default" })),
    0,
  );
  for (let i = 0; i < 10; i++) dispatcher.pump();
  expect(counting.tries).toBeLessThanOrEqual(10); // one per pump, not one per waiting job
  expect(backlog.map((waiting) => dispatcher.jobState(waiting.id))).toEqual(states);
  backlog.forEach((waiting, i) => expect(dispatcher.jobState(waiting.id)).toBe(states[i]));
  expect(served).toHaveLength(1);

  // Room again: the oldest waiting job starts.
  counting.observe([], 0);
  counting.ended(`modal-${first.id}-0`, INSTALLATION);
  dispatcher.pump();
  await dispatcher.idle();
  expect(served.map((entry) => entry.jobId)).toContain(backlog[0]!.id);
});

test("an installation at its cap holds only its own jobs: another installation's job starts in the same pump", async () => {
  const { dispatcher, served } = setup({ caps: { ...noCaps, perInstallation: 1 } });
  dispatcher.enqueue(job());
  const held = Array.from({ length: 5 }, () => job());
  for (const waiting of held) dispatcher.enqueue(waiting);
  await dispatcher.idle();
  const other = job({ installationId: INSTALLATION + 1 });
  dispatcher.enqueue(other);
  await dispatcher.idle();
  expect(served.map((entry) => entry.jobId)).toContain(other.id);
  expect(dispatcher.waiting().map((entry) => entry.id)).toEqual(held.map((waiting) => waiting.id));
});

test("retry-later: the job stays active (no second attempt meanwhile) and is looked at again", async () => {
  let first = true;
  const { dispatcher, served, kinds, clock } = setup({
    serve: async (j, r) => {
      if (!first) return started(j, r);
      first = false;
      return {
        kind: "retry-later",
        runnerName: `modal-${j.id}-0`,
        delayMs: 1,
        reason: "a registration without a sandbox, maybe another replica's",
      };
    },
  });
  const queued = job();
  dispatcher.enqueue(queued);
  await dispatcher.idle();
  expect(dispatcher.jobState(queued.id)).toMatchObject({ state: "waiting", for: "retry" });
  expect(dispatcher.enqueue(queued)).toBe(false);
  expect(served).toHaveLength(1);
  await clock.advance(1);
  await dispatcher.idle();
  expect(served).toHaveLength(2);
  expect(kinds()).toEqual(["retry-later", "started"]);
  expect(dispatcher.enqueue(queued)).toBe(true);
});

test("Modal unavailable with a probe due: only the oldest waiting job is served, as the probe; the others follow once it creates", async () => {
  let outage = true;
  const { dispatcher, served, modal } = setup({
    serve: async (j, r) => {
      modal.due = false;
      if (!outage) {
        modal.down = undefined;
        return started(j, r);
      }
      modal.down = "the circuit breaker is open";
      throw new ModalUnavailable(undefined, "UNAVAILABLE");
    },
  });
  const jobs = [job(), job(), job()];
  for (const queued of jobs) dispatcher.enqueue(queued);
  await dispatcher.idle();
  expect(served).toHaveLength(1); // the first failed and opened the breaker; the others never reached serve
  for (let probe = 1; probe <= 3; probe++) {
    modal.due = true; // the breaker's backoff elapsed: one create may be tried
    modal.recover();
    await flush();
    await dispatcher.idle();
    expect(served.map((entry) => entry.jobId)).toEqual([jobs[0]!.id, ...Array.from({ length: probe }, () => jobs[0]!.id)]);
  }
  outage = false;
  modal.due = true;
  modal.recover();
  await flush();
  await dispatcher.idle();
  expect(served.slice(4).map((entry) => entry.jobId)).toEqual(jobs.map((queued) => queued.id));
  expect(dispatcher.waiting()).toEqual([]);
});

test("Modal unavailable: jobs wait without being served, a minted registration is kept and reused on recovery, oldest first", async () => {
  const minted = {
    jitConfig: "secret",
    runner: { id: 99, name: "modal-x-0", status: "offline", busy: false, labels: ["modal"] },
    scope: { kind: "org", org: "octo-org", runnerGroupId: 1 },
  } as MintedRunner;
  let outage = true;
  const { dispatcher, served, modal, capacity, records } = setup({
    serve: async (j, r) => {
      if (!outage) return started(j, r);
      modal.down = "the circuit breaker is open";
      throw new ModalUnavailable(minted, "UNAVAILABLE");
    },
  });
  const hit = job();
  dispatcher.enqueue(hit);
  await dispatcher.idle();
  const later = job();
  dispatcher.enqueue(later);
  await dispatcher.idle();
  expect(served.map((entry) => entry.jobId)).toEqual([hit.id]); // the second never reached serve
  expect(dispatcher.waiting().map((entry) => entry.id)).toEqual([hit.id, later.id]);
  expect(records.filter((record) => record.kind === "waiting").map((record) => record.job.id)).toEqual([hit.id, later.id]);
  expect(capacity.size).toBe(0); // waiting for Modal holds no slot

  dispatcher.pump(); // a slot freeing changes nothing while Modal is down
  await dispatcher.idle();
  expect(served).toHaveLength(1);

  outage = false;
  modal.down = undefined;
  modal.recover();
  await flush();
  await dispatcher.idle();
  expect(served.map((entry) => [entry.jobId, entry.request.minted])).toEqual([
    [hit.id, undefined],
    [hit.id, minted],
    [later.id, undefined],
  ]);
  expect(dispatcher.waiting()).toEqual([]);
  expect(records.filter((record) => record.kind === "started").map((record) => record.job.id)).toEqual([hit.id, later.id]);
});

test("dispatching(since): jobs in flight, and those whose dispatch ended at or after `since`", async () => {
  let finish: () => void = () => undefined;
  const { dispatcher, clock, served } = setup({ serve: (j, r) => new Promise((resolve) => (finish = () => resolve(started(j, r)))) });
  const queued = job();
  dispatcher.enqueue(queued);
  await flush();
  expect(served).toHaveLength(1);
  expect(dispatcher.dispatching(clock.now() + 1_000_000)).toEqual([queued.id]);
  await clock.advance(5_000);
  const endedAt = clock.now();
  finish();
  await dispatcher.idle();
  await clock.advance(5_000);
  expect(dispatcher.dispatching(endedAt)).toEqual([queued.id]);
  expect(dispatcher.dispatching(endedAt + 1)).toEqual([]);
});

describe("bounded memories (weeks of jobs must not grow memory)", () => {
  // The bound and a fifth more (as in test/security/hostile-input.test.ts): enough to
  // overflow it, without paying for two and a half times the bound.
  const MANY = MAX_REMEMBERED + MAX_REMEMBERED / 5;

  test("unserved jobs and ended dispatches keep a bounded number", async () => {
    const { dispatcher } = setup({ serve: async () => Promise.reject(new Error("boom")) });
    for (let i = 0; i < MANY; i++) dispatcher.enqueue(job());
    await dispatcher.idle();
    expect(dispatcher.unserved().length).toBe(MAX_REMEMBERED);
    expect(dispatcher.dispatching(0).length).toBe(MAX_REMEMBERED);
  });

  test("refused jobs are remembered up to the bound: the oldest is recorded again once forgotten", async () => {
    const { dispatcher, kinds } = setup({ plan: async () => ({ ok: false, reason: "denied" }) });
    const first = job();
    dispatcher.enqueue(first);
    await dispatcher.idle();
    for (let i = 0; i < MANY; i++) dispatcher.enqueue(job());
    await dispatcher.idle();
    dispatcher.enqueue(first);
    await dispatcher.idle();
    expect(kinds(first.id)).toEqual(["refused", "refused"]);
    expect(kinds()).toHaveLength(MANY + 2);
  });
});

describe("fair share across installations", () => {
  const JOB_POINTS = 6;

  /** A serve that pays for the job look-up and the JIT config from the job's installation budget, as serveJob does. */
  function serveThroughBudget(budgets: () => RequestBudgets) {
    return async (target: JobRef, request: ServeRequest): Promise<ServeOutcome> => {
      const release = await budgets().of(target.installationId).acquire(JOB_POINTS);
      release();
      request.onRegistered?.(`modal-${target.id}-${request.attempt}`);
      return started(target, request);
    };
  }

  test("jobs waiting on their installation's budget hold no slot: another installation's job starts at once", async () => {
    let budgets!: RequestBudgets;
    const world = setup({ concurrency: 2, budgetPoints: 2 * JOB_POINTS, serve: serveThroughBudget(() => budgets) });
    budgets = world.budgets;
    const { dispatcher, clock, served } = world;
    const burst = Array.from({ length: 10 }, () => job({ installationId: 1 }));
    for (const queued of burst) dispatcher.enqueue(queued);
    await flush();
    // The budget pays for two registrations a window: two start, the others wait for it.
    expect(served.map((entry) => entry.jobId)).toEqual(burst.slice(0, 2).map((queued) => queued.id));
    expect(burst.slice(2).map((queued) => dispatcher.jobState(queued.id))).toEqual(
      burst.slice(2).map(() => expect.objectContaining({ state: "waiting", for: "budget" })),
    );

    const other = job({ installationId: 2 });
    dispatcher.enqueue(other);
    await flush();
    expect(served.map((entry) => entry.jobId)).toContain(other.id);
    expect(dispatcher.jobState(other.id)).toMatchObject({ state: "running", sandboxId: `sb-${other.id}` });
    expect(clock.now() - dispatcher.jobState(other.id)!.enqueuedAt).toBe(0);

    // One window later the burst goes on, oldest first, at the budget's pace.
    await clock.advance(GITHUB_SECONDARY_LIMITS.windowMs);
    expect(served.map((entry) => entry.jobId)).toEqual([...burst.slice(0, 2), other, ...burst.slice(2, 4)].map((queued) => queued.id));
    await clock.advance(4 * GITHUB_SECONDARY_LIMITS.windowMs);
    await dispatcher.idle();
    expect(served).toHaveLength(11);
  });

  test("free slots go round-robin: each installation gets one before any gets a second", async () => {
    let finish: Array<() => void> = [];
    const world = setup({
      concurrency: 1,
      serve: (target, request) => new Promise((resolve) => finish.push(() => resolve(started(target, request)))),
    });
    const { dispatcher, served } = world;
    const first = [job({ installationId: 1 }), job({ installationId: 1 }), job({ installationId: 1 })];
    const second = [job({ installationId: 2 }), job({ installationId: 2 })];
    const third = [job({ installationId: 3 })];
    for (const queued of [...first, ...second, ...third]) dispatcher.enqueue(queued);
    for (let i = 0; i < 6; i++) {
      await flush();
      const next = finish;
      finish = [];
      next.forEach((done) => done());
    }
    await dispatcher.idle();
    expect(served.map((entry) => entry.jobId)).toEqual([first[0], second[0], third[0], first[1], second[1], first[2]].map((j) => j!.id));
  });
});

test("a job a cap holds back does not hold back the jobs of its installation that fit", async () => {
  const gpu = { name: "gpu", labels: ["modal", "gpu"] } as RunnerProfile;
  const { dispatcher, served, records } = setup({
    plan: async (target) => ({
      ok: true,
      profile: target.labels.includes("gpu") ? gpu : profile,
      caps: { ...noCaps, perProfile: { gpu: 1 } },
    }),
  });
  const first = { ...job(), labels: ["modal", "gpu"] };
  const second = { ...job(), labels: ["modal", "gpu"] };
  const plain = job();
  for (const queued of [first, second, plain]) dispatcher.enqueue(queued);
  await dispatcher.idle();
  expect(served.map((entry) => entry.jobId)).toEqual([first.id, plain.id]);
  expect(dispatcher.jobState(second.id)).toMatchObject({ state: "waiting", for: "capacity", reason: "cap reached: per profile gpu (1/1)" });
  expect(records.filter((record) => record.kind === "waiting")).toEqual([
    expect.objectContaining({ job: second, waitingFor: "capacity", profile: "gpu", attempt: 0 }),
  ]);
});
