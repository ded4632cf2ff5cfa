// A GitHub Actions runner living inside a fake Modal sandbox.
//
// attachSimulatedRunners() installs itself as the FakeModal's `onSandboxStart` hook:
// every sandbox that starts boots a runner which reads its JIT config from the
// sandbox env, connects to the (fake) GitHub side, takes one job, runs it, and exits
// the sandbox -- like an ephemeral `run.sh --jitconfig` would.
import type { FakeModal, SandboxProcess } from "./fake-modal.js";

/** The part of FakeGitHub (fake-github.ts) a runner talks to. */
export interface RunnerSide {
  /** undefined if the config is unknown or its registration was deleted; marks the runner online. */
  connectRunner(encodedJitConfig: string): { id: number; name: string } | undefined;
  /** Takes the oldest queued job matching the runner's labels; marks it in_progress. */
  acquireJob(runnerId: number): { id: number; status: string } | undefined;
  completeJob(jobId: number, conclusion?: "success" | "failure" | "cancelled"): void;
  /** The runner exits after its job ended (deregisters the ephemeral registration). */
  releaseRunner(runnerId: number): void;
  /** The runner's machine died. */
  disconnectRunner(runnerId: number): void;
  jobs(): Array<{ id: number; status: string }>;
}

/**
 * The runners' time: boot delays, job polls and job durations. Default: the wall clock. A
 * test passes a clock it advances (the product's Clock, a FastForwardClock) to end a
 * long job at once instead of waiting for it.
 */
export interface RunnerClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const wallClock: RunnerClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const timer = setTimeout(fn, ms);
    timer.unref();
    return timer;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface SimulatedRunnerOptions {
  /** The clock of boot delays, polls and job durations. Default: the wall clock. */
  clock?: RunnerClock;
  /** Env var holding the encoded JIT config. Default "ACTIONS_RUNNER_INPUT_JITCONFIG". */
  jitEnvVar?: string;
  /** Time from sandbox start to the runner connecting, or a function of the sandbox name. Default 50. */
  bootDelayMs?: number | ((sandboxName: string) => number);
  /** After its job, the runner deregisters but its process never exits (a hung cleanup). */
  hangAfterJob?: boolean;
  /** Interval between job polls (and liveness checks while a job runs). Default 20. */
  pollMs?: number;
  /** How long a job runs. Default 100. */
  jobDurationMs?: number | ((jobId: number) => number);
  /** The conclusion reported for a job that ran to the end. Default "success". */
  conclusion?: "success" | "failure" | ((jobId: number) => "success" | "failure");
}

export interface RunnerEvent {
  at: number;
  sandboxId: string;
  /**
   * boot | gone-before-boot | no-jit-config | config-rejected | connected | job-acquired |
   * terminated-idle | terminated-mid-job | job-cancelled | job-completed | released | exited
   */
  event: string;
  jobId?: number;
  runnerId?: number;
}

export interface SimulatedRunners {
  /** Stop every runner loop, clear all timers, and restore the previous onSandboxStart hook. */
  stop(): void;
  readonly events: RunnerEvent[];
}

export function attachSimulatedRunners(modal: FakeModal, github: RunnerSide, options: SimulatedRunnerOptions = {}): SimulatedRunners {
  const jitEnvVar = options.jitEnvVar ?? "ACTIONS_RUNNER_INPUT_JITCONFIG";
  const bootDelayOf = (name: string | undefined): number => {
    const d = options.bootDelayMs ?? 50;
    return typeof d === "function" ? d(name ?? "") : d;
  };
  const pollMs = options.pollMs ?? 20;
  const durationOf = (jobId: number): number => {
    const d = options.jobDurationMs ?? 100;
    return typeof d === "function" ? d(jobId) : d;
  };
  const conclusionOf = (jobId: number): "success" | "failure" => {
    const c = options.conclusion ?? "success";
    return typeof c === "function" ? c(jobId) : c;
  };

  const clock = options.clock ?? wallClock;
  const events: RunnerEvent[] = [];
  const timers = new Map<unknown, () => void>();
  let stopped = false;

  const record = (sandboxId: string, event: string, extra: { jobId?: number; runnerId?: number } = {}) => {
    events.push({ at: clock.now(), sandboxId, event, ...extra });
  };

  /** Resolves true after ms, or false at once when stopped. */
  const sleep = (ms: number): Promise<boolean> =>
    new Promise<boolean>((resolve) => {
      if (stopped) return resolve(false);
      const timer = clock.setTimeout(
        () => {
          timers.delete(timer);
          resolve(!stopped);
        },
        Math.max(0, ms),
      );
      timers.set(timer, () => resolve(false));
    });

  const jobStatus = (jobId: number): string | undefined => github.jobs().find((j) => j.id === jobId)?.status;

  async function run(p: SandboxProcess): Promise<void> {
    const sandboxId = p.sandbox.sandboxId;
    record(sandboxId, "boot");
    if (!(await sleep(bootDelayOf(p.sandbox.name)))) return;
    if (!p.isRunning()) {
      record(sandboxId, "gone-before-boot");
      return;
    }

    const config = p.sandbox.env[jitEnvVar];
    if (!config) {
      record(sandboxId, "no-jit-config");
      p.exit(1);
      record(sandboxId, "exited");
      return;
    }
    const runner = github.connectRunner(config);
    if (!runner) {
      record(sandboxId, "config-rejected");
      p.exit(1);
      record(sandboxId, "exited");
      return;
    }
    const runnerId = runner.id;
    record(sandboxId, "connected", { runnerId });

    // Idle: wait for a job.
    let job: { id: number; status: string } | undefined;
    for (;;) {
      if (!p.isRunning()) {
        github.disconnectRunner(runnerId);
        record(sandboxId, "terminated-idle", { runnerId });
        return;
      }
      job = github.acquireJob(runnerId);
      if (job) break;
      if (!(await sleep(pollMs))) return;
    }
    const jobId = job.id;
    record(sandboxId, "job-acquired", { jobId, runnerId });

    // Busy: run the job, watching for termination and cancellation.
    const deadline = clock.now() + durationOf(jobId);
    let cancelled = false;
    for (;;) {
      const left = deadline - clock.now();
      if (left <= 0) break;
      if (!(await sleep(Math.min(pollMs, left)))) return;
      if (!p.isRunning()) {
        github.disconnectRunner(runnerId);
        record(sandboxId, "terminated-mid-job", { jobId, runnerId });
        return;
      }
      if (jobStatus(jobId) === "completed") {
        cancelled = true;
        break;
      }
    }
    if (!p.isRunning()) {
      github.disconnectRunner(runnerId);
      record(sandboxId, "terminated-mid-job", { jobId, runnerId });
      return;
    }
    if (cancelled || jobStatus(jobId) === "completed") {
      record(sandboxId, "job-cancelled", { jobId, runnerId });
    } else {
      github.completeJob(jobId, conclusionOf(jobId));
      record(sandboxId, "job-completed", { jobId, runnerId });
    }
    github.releaseRunner(runnerId);
    record(sandboxId, "released", { jobId, runnerId });
    if (options.hangAfterJob) {
      record(sandboxId, "hung", { jobId, runnerId });
      return;
    }
    p.exit(0);
    record(sandboxId, "exited", { jobId, runnerId });
  }

  const previous = modal.onSandboxStart;
  const hook = (p: SandboxProcess) => {
    if (stopped) return;
    run(p).catch((err: unknown) => {
      record(p.sandbox.sandboxId, `error: ${err instanceof Error ? err.message : String(err)}`);
    });
  };
  modal.onSandboxStart = hook;

  return {
    events,
    stop() {
      stopped = true;
      for (const [timer, wake] of timers) {
        clock.clearTimeout(timer);
        wake();
      }
      timers.clear();
      if (modal.onSandboxStart === hook) modal.onSandboxStart = previous;
    },
  };
}
