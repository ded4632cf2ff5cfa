// The reconciler's decisions, table by table: pure functions of what a pass saw.
import type { JobRef } from "../../src/model/job.js";
import type { Observation, ObservedRunner, ObservedSandbox } from "../../src/reconcile/observation.js";
import { planRepairs, type PlanSettings } from "../../src/reconcile/plan-repairs.js";

const NOW = Date.parse("2026-11-27T12:00:00Z");
const MIN = 60_000;
const settings: PlanSettings = {
  namePrefix: "modal",
  idleRunnerTimeoutMs: 15 * MIN,
  finishedGraceMs: 2 * MIN,
  registrationGraceMs: 3 * MIN,
  unservedJobGraceMs: MIN,
  lifetimeCapMs: { byProfile: { default: 60 * MIN, gpu: 120 * MIN }, otherwise: 120 * MIN },
};

function job(id: number, options: { ageMs?: number; labels?: string[]; repo?: string } = {}): JobRef {
  const [owner, name] = (options.repo ?? "octo-org/app").split("/") as [string, string];
  return {
    id,
    runId: 1,
    name: "build",
    labels: options.labels ?? ["self-hosted", "modal"],
    createdAt: new Date(NOW - (options.ageMs ?? 5 * MIN)).toISOString(),
    installationId: 9,
    repository: { id: 1, owner, name, ownerType: "Organization", private: true, visibility: "private" },
  };
}

/** A runner made for `jobId` (attempt 0 unless given), with its sandbox unless `sandbox: false`. */
function runner(
  jobId: number,
  options: { attempt?: number; busy?: boolean; ageMs?: number; labels?: string[]; scope?: string; sandbox?: boolean; repo?: string } = {},
) {
  const name = `modal-${jobId}-${options.attempt ?? 0}`;
  const scopeKey = options.scope ?? "org:octo-org";
  const registration: ObservedRunner = {
    id: jobId * 10 + (options.attempt ?? 0),
    name,
    status: "online",
    busy: options.busy ?? false,
    labels: options.labels ?? ["self-hosted", "modal"],
    scopeKey,
    installationId: 9,
  };
  const sandbox: ObservedSandbox | undefined =
    options.sandbox === false
      ? undefined
      : {
          sandboxId: `sb-${name}`,
          name,
          createdAt: NOW - (options.ageMs ?? 5 * MIN),
          jobId,
          repository: options.repo ?? "octo-org/app",
          installationId: 9,
          scopeKey,
          profile: "default",
        };
  return { registration, sandbox };
}

function world(parts: {
  runners?: ReturnType<typeof runner>[];
  sandboxesOnly?: ObservedSandbox[];
  queued?: JobRef[];
  listed?: string[];
  scanned?: string[];
  since?: Partial<Pick<Observation, "runnerWithoutSandboxSince" | "sandboxWithoutRunnerSince">>;
  dispatching?: number[];
  installations?: Observation["installations"];
  assignments?: Observation["assignments"];
  busySince?: Record<string, number>;
}): Observation {
  const runners = parts.runners ?? [];
  return {
    now: NOW,
    sandboxes: [...runners.flatMap((r) => (r.sandbox ? [r.sandbox] : [])), ...(parts.sandboxesOnly ?? [])],
    runners: runners.map((r) => r.registration),
    listedScopes: parts.listed ?? ["org:octo-org"],
    queuedJobs: parts.queued ?? [],
    scannedRepositories: parts.scanned ?? ["octo-org/app"],
    runnerWithoutSandboxSince: parts.since?.runnerWithoutSandboxSince ?? {},
    sandboxWithoutRunnerSince: parts.since?.sandboxWithoutRunnerSince ?? {},
    dispatching: parts.dispatching ?? [],
    installations: parts.installations,
    assignments: parts.assignments ?? [],
    busySince: parts.busySince ?? {},
  };
}

const summary = (observation: Observation) =>
  planRepairs(observation, settings).map((repair) =>
    repair.kind === "serve-unserved-job"
      ? `serve ${repair.job.id} attempt ${repair.attempt}`
      : repair.kind === "check-assignment"
        ? `check ${repair.runnerName} running ${repair.job.id}`
        : `${repair.kind} ${(repair.sandbox ?? repair.runner)!.name}`,
  );

describe("planning repairs", () => {
  test("a job waiting for its own idle runner needs nothing", () => {
    expect(summary(world({ runners: [runner(1)], queued: [job(1)] }))).toEqual([]);
  });

  test("a cancelled job's idle runner is removed, registration first", () => {
    const cancelled = runner(1);
    const [repair] = planRepairs(world({ runners: [cancelled], queued: [] }), settings);
    expect(repair).toMatchObject({
      kind: "remove-surplus-runner",
      runner: cancelled.registration,
      sandbox: cancelled.sandbox,
      reason: expect.stringContaining("no longer queued"),
    });
  });

  test("exactly one surplus runner goes when a job finished elsewhere and another with the same labels still waits", () => {
    // Job 1 was done by another runner; job 2 still waits for its runner, which has not started yet.
    expect(
      summary(
        world({
          runners: [runner(1), runner(2, { sandbox: false })],
          queued: [job(2)],
          since: { runnerWithoutSandboxSince: { "org:octo-org modal-2-0": NOW } },
        }),
      ),
    ).toEqual([]);
    // Job 2's runner was taken by another job: job 1's idle runner serves job 2 instead of being removed.
    expect(summary(world({ runners: [runner(1), runner(2, { busy: true })], queued: [job(2)] }))).toEqual([]);
    // Both jobs done elsewhere: both runners go.
    expect(summary(world({ runners: [runner(1), runner(2)], queued: [] }))).toEqual([
      "remove-surplus-runner modal-1-0",
      "remove-surplus-runner modal-2-0",
    ]);
  });

  test("a busy runner is never touched", () => {
    expect(summary(world({ runners: [runner(1, { busy: true, ageMs: 60 * MIN })], queued: [] }))).toEqual([]);
    // Even when no list shows its registration any more because listing its scope failed.
    expect(
      summary(
        world({
          runners: [runner(1, { busy: true, ageMs: 60 * MIN })],
          listed: [],
          since: { sandboxWithoutRunnerSince: { "modal-1-0": NOW - 60 * MIN } },
        }),
      ),
    ).toEqual([]);
  });

  test("a young idle runner is not removed as surplus (its job may not be listed yet)", () => {
    expect(summary(world({ runners: [runner(1, { ageMs: 10_000 })], queued: [] }))).toEqual([]);
  });

  test("an idle runner is not removed when its repository could not be swept", () => {
    expect(summary(world({ runners: [runner(1)], queued: [], scanned: [] }))).toEqual([]);
  });

  test.each([
    [14 * MIN, []],
    // Its job still waits: it gets a new runner under the next name.
    [16 * MIN, ["reap-never-assigned modal-1-0", "serve 1 attempt 1"]],
  ])("a runner that took no job in %dms", (ageMs, expected) => {
    expect(summary(world({ runners: [runner(1, { ageMs })], queued: [job(1)] }))).toEqual(expected);
  });

  test("a sandbox whose registration has been gone past the grace period is terminated, if the scope was listed", () => {
    const { sandbox } = runner(1);
    const gone = { sandboxWithoutRunnerSince: { "modal-1-0": NOW - 3 * MIN } };
    expect(summary(world({ sandboxesOnly: [sandbox!], since: gone }))).toEqual(["terminate-finished modal-1-0"]);
    expect(summary(world({ sandboxesOnly: [sandbox!], since: gone, listed: [] }))).toEqual([]);
    expect(summary(world({ sandboxesOnly: [sandbox!], since: { sandboxWithoutRunnerSince: { "modal-1-0": NOW - 30_000 } } }))).toEqual([]);
  });

  test("a registration whose sandbox is gone past the registration grace is deleted, unless busy", () => {
    const key = "org:octo-org modal-1-0";
    expect(
      summary(
        world({
          runners: [runner(1, { sandbox: false })],
          since: { runnerWithoutSandboxSince: { [key]: NOW - 4 * MIN } },
          queued: [job(1)],
        }),
      ),
    ).toEqual(["delete-orphan-registration modal-1-0", "serve 1 attempt 1"]);
    // Younger than the grace: an attempt (here or on another replica) is still creating the sandbox.
    expect(
      summary(
        world({ runners: [runner(1, { sandbox: false })], since: { runnerWithoutSandboxSince: { [key]: NOW - MIN } }, queued: [job(1)] }),
      ),
    ).toEqual([]);
    expect(
      summary(
        world({ runners: [runner(1, { sandbox: false, busy: true })], since: { runnerWithoutSandboxSince: { [key]: NOW - 4 * MIN } } }),
      ),
    ).toEqual([]);
  });

  test("a queued job without a runner is served after the grace period, not before", () => {
    expect(summary(world({ queued: [job(1, { ageMs: 2 * MIN })] }))).toEqual(["serve 1 attempt 0"]);
    expect(summary(world({ queued: [job(1, { ageMs: 20_000 })] }))).toEqual([]);
  });

  test("a job whose runner was taken by another job is served under the next name", () => {
    expect(summary(world({ runners: [runner(1, { busy: true })], queued: [job(1)] }))).toEqual(["serve 1 attempt 1"]);
    expect(summary(world({ runners: [runner(1, { busy: true }), runner(1, { attempt: 1, busy: true })], queued: [job(1)] }))).toEqual([
      "serve 1 attempt 2",
    ]);
  });

  test.each([
    ["its own runner busy with another job: at once", [runner(1, { busy: true })], ["serve 1 attempt 1"]],
    ["another job's runner busy: after the grace", [runner(2, { busy: true })], []],
    ["no runner at all: after the grace", [], []],
  ])("a job queued 20 s ago (grace 1 min), %s", (_case, runners, expected) => {
    expect(summary(world({ runners, queued: [job(1, { ageMs: 20_000 })] }))).toEqual(expected);
  });

  test("idle runners serve the oldest jobs first; labels and scope must fit", () => {
    const other = runner(3); // made for job 3, which is done
    const queued = [job(2, { ageMs: 3 * MIN }), job(1, { ageMs: 4 * MIN })];
    expect(summary(world({ runners: [other], queued }))).toEqual(["serve 2 attempt 0"]);
    expect(
      summary(
        world({
          runners: [runner(3, { labels: ["self-hosted", "modal"] })],
          queued: [job(1, { labels: ["self-hosted", "modal", "gpu"] })],
        }),
      ),
    ).toEqual(["serve 1 attempt 0", "remove-surplus-runner modal-3-0"]);
    expect(
      summary(
        world({ runners: [runner(3, { scope: "org:other-org", repo: "other-org/tool" })], queued: [job(1)], listed: ["org:other-org"] }),
      ),
    ).toEqual(["serve 1 attempt 0"]);
    expect(
      summary(world({ runners: [runner(3, { scope: "repo:octo-org/app" })], queued: [job(1)], listed: ["repo:octo-org/app"] })),
    ).toEqual([]);
  });

  test("a job whose dispatch is in flight, or ended after the observation began, is being served", () => {
    // The observation saw no runner for job 1, but its dispatch has since made one.
    expect(summary(world({ queued: [job(1, { ageMs: 2 * MIN })], dispatching: [1] }))).toEqual([]);
    // Its runner took another job: served again only once no dispatch of it is in flight.
    expect(summary(world({ runners: [runner(1, { busy: true })], queued: [job(1)], dispatching: [1] }))).toEqual([]);
  });

  test("a job queued longer than GitHub keeps jobs is not served", () => {
    expect(summary(world({ queued: [job(1, { ageMs: 25 * 60 * MIN })] }))).toEqual([]);
  });

  test("the plan is deterministic, so replicas planning at once choose the same repairs", () => {
    const observation = world({
      runners: [runner(5), runner(4), runner(6, { busy: true })],
      queued: [job(7, { ageMs: 2 * MIN }), job(8, { ageMs: 2 * MIN })],
    });
    const first = summary(observation);
    const shuffled = {
      ...observation,
      sandboxes: [...observation.sandboxes].reverse(),
      runners: [...observation.runners].reverse(),
      queuedJobs: [...observation.queuedJobs].reverse(),
    };
    expect(summary(shuffled)).toEqual(first);
    expect(first).toEqual([]);
  });

  describe("installations that are gone or suspended (rule 0)", () => {
    // Installation 9 holds every sandbox built by runner(); 7 is another installation.
    const idle = () => runner(1); // created 5 minutes ago
    const busy = () => runner(2, { busy: true });
    test.each([
      ["the installation list was not read: nothing is decided", undefined, {}, []],
      ["installation 9 is there: nothing to do", { 9: { suspended: false } }, {}, []],
      [
        "removed: an idle runner's sandbox goes at once; a busy one finishes its job",
        { 7: { suspended: false } },
        { "modal-2-0": NOW - 2 * MIN },
        ["reap-removed-installation modal-1-0"],
      ],
      ["suspended: the same", { 9: { suspended: true } }, { "modal-2-0": NOW - 2 * MIN }, ["reap-removed-installation modal-1-0"]],
      [
        "removed, nothing known busy (e.g. after a restart): both go at once",
        {},
        {},
        ["reap-removed-installation modal-1-0", "reap-removed-installation modal-2-0"],
      ],
    ] as const)("%s", (_, installations, busySince, expected) => {
      expect(
        summary(
          world({
            runners: [idle(), busy()],
            installations: installations as Observation["installations"],
            busySince: busySince as Record<string, number>,
            queued: [job(1)],
          }),
        ),
      ).toEqual(expected);
    });

    test.each([
      ["default", 59 * MIN, []],
      ["default", 60 * MIN, ["reap-removed-installation modal-2-0"]],
      ["gpu", 60 * MIN, []],
      ["gpu", 120 * MIN, ["reap-removed-installation modal-2-0"]],
      ["unknown-profile", 120 * MIN, ["reap-removed-installation modal-2-0"]],
    ])(
      "a busy runner of a removed installation, profile %s, sandbox %dms old: terminated only at the job's lifetime cap",
      (profile, ageMs, expected) => {
        const r = runner(2, { busy: true, ageMs });
        r.sandbox!.profile = profile;
        expect(summary(world({ runners: [r], installations: {}, busySince: { "modal-2-0": NOW - ageMs + 30_000 } }))).toEqual(expected);
      },
    );

    test("the registration is never deleted (no token is left) and no other rule touches the sandbox", () => {
      const [repair] = planRepairs(world({ runners: [runner(1, { ageMs: 60 * MIN })], installations: {} }), settings);
      expect(repair).toMatchObject({ kind: "reap-removed-installation", runner: undefined, sandbox: { name: "modal-1-0" } });
      expect(planRepairs(world({ runners: [runner(1, { ageMs: 60 * MIN })], installations: {} }), settings)).toHaveLength(1);
    });
  });

  describe("what busy runners run (rule 6)", () => {
    test.each([
      ["an assignment no event checked is checked", false, ["check modal-1-0 running 5"]],
      ["one the in_progress handler (or an earlier pass) checked is not checked again", true, []],
    ])("%s", (_, checked, expected) => {
      expect(
        summary(
          world({
            runners: [runner(1, { busy: true })],
            assignments: [{ runnerName: "modal-1-0", job: job(5, { repo: "octo-org/denied" }), checked }],
          }),
        ),
      ).toEqual(expected);
    });
  });
});
