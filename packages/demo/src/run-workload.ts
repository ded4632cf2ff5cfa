// The demo's script: what a few busy orgs throw at the App in about a minute and a
// half, again and again until stopped. Each step says in one line what it does, so
// the console reads as a commentary of what the status page shows: jobs across orgs
// and profiles, a cancellation, a burst (a 30-job matrix), a runner taken by
// another job, a Modal hiccup, a job the org's policy refuses.
import type { FakeJob } from "@modal-github-runner/simulator/fake-github";
import type { DemoRepository } from "./demo-accounts.js";
import type { Demo } from "./start-demo.js";

export interface WorkloadOptions {
  /** One line per scripted event. */
  say(line: string): void;
  /** What the narration says about each job, as data (tests check the status page tells the same story). */
  tell?(fact: NarratedJob): void;
  /** Aborting it ends the script at its next step. */
  signal: AbortSignal;
  /** Stop after this many rounds (default: until aborted). */
  rounds?: number;
}

/** One job the narration speaks of, and the story it tells about it. */
export interface NarratedJob {
  jobId: number;
  /** owner/name */
  repo: string;
  /** How its story ends on the status page: finished (success or failure), cancelled, refused. */
  ends: "finished" | "cancelled" | "refused";
  /** The narration says it ran on a runner made for another job (a JIT runner takes any job its labels fit). */
  ranOnAnotherJobsRunner?: boolean;
  /** The narration says it waited (for capacity or for Modal) before it started. */
  waited?: boolean;
}

const LABELS = {
  default: ["self-hosted", "modal"],
  large: ["self-hosted", "linux", "modal", "large"],
  gpu: ["self-hosted", "modal", "gpu"],
};

/** Resolves after ms of the demo's clock, or at once when the signal aborts; false when aborted. */
function pause(clock: Demo["clock"], ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const done = () => {
      clock.clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve(!signal.aborted);
    };
    const timer = clock.setTimeout(done, ms);
    signal.addEventListener("abort", done);
  });
}

export async function runWorkload(demo: Demo, { say, tell = () => undefined, signal, rounds = Infinity }: WorkloadOptions): Promise<void> {
  const { github, modal, accounts: a } = demo;
  /** A pause of the script, in the demo's time (see DemoOptions.timeScale). */
  const wait = (ms: number) => pause(demo.clock, ms * demo.timeScale, signal);
  const queue = (where: DemoRepository, labels: string[], name: string, extra: { runId?: number; createdAt?: Date } = {}): FakeJob =>
    github.queueJob({ owner: where.owner, repo: where.repo, labels, name, ...extra });
  // Webhooks are sent in the background: the script does not wait for the App's answer.
  const deliver = (...jobs: FakeJob[]) => {
    for (const job of jobs) void github.deliverWorkflowJob("queued", job).catch(() => undefined);
  };
  const repo = (job: FakeJob) => `${job.owner}/${job.repo}`;
  const told = (job: FakeJob, story: Omit<NarratedJob, "jobId" | "repo"> = { ends: "finished" }) =>
    tell({ jobId: job.id, repo: repo(job), ...story });

  const steps: Array<[pauseBeforeMs: number, step: () => void]> = [
    [
      0,
      () => {
        const jobs = [
          queue(a.api, LABELS.default, "test"),
          queue(a.shop, LABELS.default, "lint"),
          queue(a.dotfiles, LABELS.default, "check"),
        ];
        deliver(...jobs);
        for (const job of jobs) told(job);
        say(`3 jobs queued on the default profile: ${jobs.map(repo).join(", ")} (org, org and user installations)`);
      },
    ],
    [
      2_000,
      () => {
        const large = queue(a.data, LABELS.large, "build-image");
        const gpu = queue(a.ml, LABELS.gpu, "train");
        deliver(large, gpu);
        told(large);
        told(gpu);
        say(`globex/data asks for the large profile (16 CPUs), acme/ml-train for a T4 GPU`);
      },
    ],
    [
      4_000,
      () => {
        const job = queue(a.shop, LABELS.default, "deploy-preview");
        deliver(job);
        say(`globex/shop job ${job.id} queued ...`);
        void wait(700).then((going) => {
          if (!going) return;
          github.cancelJob(job.id);
          told(job, { ends: "cancelled" });
          say(`... and cancelled before its runner booted: the App removes the idle runner and its sandbox`);
        });
      },
    ],
    [
      6_000,
      () => {
        const job = queue(a.legacy, LABELS.default, "build");
        deliver(job);
        told(job, { ends: "refused" });
        say(`acme/legacy job ${job.id} queued: acme's .github/modal-runner.yml does not list legacy, so the App refuses it`);
      },
    ],
    [
      4_000,
      () => {
        const first = queue(a.web, LABELS.default, "matrix (1/30)");
        const rest = Array.from({ length: 29 }, (_, i) => queue(a.web, LABELS.default, `matrix (${i + 2}/30)`, { runId: first.runId }));
        deliver(first, ...rest);
        for (const job of [first, ...rest]) told(job);
        say(`burst: a 30-job matrix in acme/web; caps (24 at once, 16 per org, 12 per repository) make some wait their turn`);
      },
    ],
    [
      30_000,
      () => {
        // The older job B gets no webhook; A's runner, when it boots, takes the oldest
        // queued job its labels fit: B. A is then left without a runner until the
        // reconciler serves it under the next runner name (…-1).
        const stolen = queue(a.api, LABELS.default, "nightly", { createdAt: new Date(demo.clock.now() - 60_000) });
        const job = queue(a.api, LABELS.default, "test");
        deliver(job);
        told(stolen, { ends: "finished", ranOnAnotherJobsRunner: true });
        told(job);
        say(
          `acme/api: job ${stolen.id}'s webhook was lost; the runner made for job ${job.id} (or another idle acme runner) takes it, oldest first, and the reconciler serves the job left without a runner within ~25 s`,
        );
      },
    ],
    [
      25_000,
      () => {
        modal.setOutage(true);
        const jobs = [queue(a.api, LABELS.default, "test"), queue(a.data, LABELS.default, "etl")];
        deliver(...jobs);
        for (const job of jobs) told(job, { ends: "finished", waited: true });
        say(`Modal hiccup: its API is down for 10 s while 2 jobs arrive; the breaker opens and the jobs wait`);
        void wait(10_000).then(() => {
          modal.setOutage(false);
          if (!signal.aborted) say(`Modal is back: the breaker's probe closes it and the waiting jobs start`);
        });
      },
    ],
    [20_000, () => say(`round done; the next starts in 5 s`)],
    [5_000, () => undefined],
  ];

  for (let round = 1; !signal.aborted && round <= rounds; round++) {
    say(`--- round ${round}`);
    for (const [before, step] of steps) {
      if (!(await wait(before))) return;
      step();
    }
  }
}
