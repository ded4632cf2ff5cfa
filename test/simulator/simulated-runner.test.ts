import type { ModalClient, App, Image } from "modal";
import { FakeModal } from "@modal-github-runner/simulator/fake-modal";
import { attachSimulatedRunners, type RunnerSide, type SimulatedRunners } from "@modal-github-runner/simulator/simulated-runner";
import { ManualClock } from "../support/manual-clock.js";

/** A tiny stand-in for FakeGitHub's runner-facing side. */
class StubGitHub implements RunnerSide {
  readonly log: string[] = [];
  readonly configs = new Map<string, { id: number; name: string }>();
  readonly jobList: Array<{ id: number; status: string; conclusion?: string; runnerId?: number }> = [];

  register(config: string, id: number): void {
    this.configs.set(config, { id, name: `runner-${id}` });
  }
  queue(id: number): void {
    this.jobList.push({ id, status: "queued" });
  }
  connectRunner(encodedJitConfig: string) {
    const r = this.configs.get(encodedJitConfig);
    this.log.push(`connect ${r?.id ?? "unknown"}`);
    return r;
  }
  acquireJob(runnerId: number) {
    const job = this.jobList.find((j) => j.status === "queued");
    if (!job) return undefined;
    job.status = "in_progress";
    job.runnerId = runnerId;
    this.log.push(`acquire ${runnerId} ${job.id}`);
    return { id: job.id, status: job.status };
  }
  completeJob(jobId: number, conclusion?: "success" | "failure" | "cancelled") {
    const job = this.jobList.find((j) => j.id === jobId)!;
    job.status = "completed";
    job.conclusion = conclusion;
    this.log.push(`complete ${jobId} ${conclusion}`);
  }
  releaseRunner(runnerId: number) {
    this.log.push(`release ${runnerId}`);
  }
  disconnectRunner(runnerId: number) {
    this.log.push(`disconnect ${runnerId}`);
  }
  jobs() {
    return this.jobList.map((j) => ({ id: j.id, status: j.status }));
  }
}

let modal: FakeModal;
let client: ModalClient;
let github: StubGitHub;
let runners: SimulatedRunners;
let app: App;
let image: Image;

beforeEach(async () => {
  modal = new FakeModal();
  client = modal.client();
  github = new StubGitHub();
  runners = attachSimulatedRunners(modal, github, { bootDelayMs: 10, pollMs: 5, jobDurationMs: 60 });
  app = await client.apps.fromName("runners", { createIfMissing: true });
  image = await client.images.fromRegistry("runner:latest").build(app);
});

afterEach(() => {
  runners.stop();
  modal.close();
});

const eventsOf = (sandboxId: string) => runners.events.filter((e) => e.sandboxId === sandboxId).map((e) => e.event);

test("a runner connects, runs one job, deregisters and exits 0", async () => {
  github.register("cfg-1", 1);
  github.queue(100);
  const sb = await client.sandboxes.create(app, image, { env: { ACTIONS_RUNNER_INPUT_JITCONFIG: "cfg-1" } });
  expect(await sb.wait()).toBe(0);
  expect(github.log).toEqual(["connect 1", "acquire 1 100", "complete 100 success", "release 1"]);
  expect(eventsOf(sb.sandboxId)).toEqual(["boot", "connected", "job-acquired", "job-completed", "released", "exited"]);
  expect(modal.sandbox(sb.sandboxId)).toMatchObject({ state: "finished", endedBy: "exit", exitCode: 0 });
});

test("a missing or unknown JIT config exits 1", async () => {
  const none = await client.sandboxes.create(app, image);
  const bad = await client.sandboxes.create(app, image, { env: { ACTIONS_RUNNER_INPUT_JITCONFIG: "nope" } });
  expect(await none.wait()).toBe(1);
  expect(await bad.wait()).toBe(1);
  expect(eventsOf(none.sandboxId)).toEqual(["boot", "no-jit-config", "exited"]);
  expect(eventsOf(bad.sandboxId)).toEqual(["boot", "config-rejected", "exited"]);
});

test("terminated while idle: the runner disconnects", async () => {
  github.register("cfg-2", 2);
  const sb = await client.sandboxes.create(app, image, { env: { ACTIONS_RUNNER_INPUT_JITCONFIG: "cfg-2" } });
  await until(() => github.log.includes("connect 2"));
  await sb.terminate();
  await until(() => github.log.includes("disconnect 2"));
  expect(eventsOf(sb.sandboxId)).toEqual(["boot", "connected", "terminated-idle"]);
});

test("terminated mid-job: the runner disconnects without completing", async () => {
  github.register("cfg-3", 3);
  github.queue(300);
  const sb = await client.sandboxes.create(app, image, { env: { ACTIONS_RUNNER_INPUT_JITCONFIG: "cfg-3" } });
  await until(() => github.log.includes("acquire 3 300"));
  await sb.terminate();
  await until(() => github.log.includes("disconnect 3"));
  expect(github.jobs()).toEqual([{ id: 300, status: "in_progress" }]);
  expect(eventsOf(sb.sandboxId)).toContain("terminated-mid-job");
});

test("a job cancelled meanwhile stops early: no completeJob, release, exit 0", async () => {
  github.register("cfg-4", 4);
  github.queue(400);
  const sb = await client.sandboxes.create(app, image, { env: { ACTIONS_RUNNER_INPUT_JITCONFIG: "cfg-4" } });
  await until(() => github.log.includes("acquire 4 400"));
  github.jobList[0]!.status = "completed";
  expect(await sb.wait()).toBe(0);
  expect(github.log).toEqual(["connect 4", "acquire 4 400", "release 4"]);
  expect(eventsOf(sb.sandboxId)).toEqual(["boot", "connected", "job-acquired", "job-cancelled", "released", "exited"]);
});

test("on an injected clock, boot and job last the clock's time: a long job ends when the clock is advanced past it, not before", async () => {
  runners.stop();
  const clock = new ManualClock();
  runners = attachSimulatedRunners(modal, github, { clock, bootDelayMs: 10_000, pollMs: 60_000, jobDurationMs: 3_600_000 });
  github.register("cfg-6", 6);
  github.queue(600);
  const sb = await client.sandboxes.create(app, image, { env: { ACTIONS_RUNNER_INPUT_JITCONFIG: "cfg-6" } });
  await clock.advance(9_999);
  expect(github.log).toEqual([]);
  await clock.advance(1);
  expect(github.log).toEqual(["connect 6", "acquire 6 600"]);
  await clock.advance(3_599_999);
  expect(github.jobs()).toEqual([{ id: 600, status: "in_progress" }]);
  expect(modal.sandbox(sb.sandboxId)?.state).toBe("running");
  await clock.advance(1);
  expect(await sb.wait()).toBe(0);
  expect(github.log).toEqual(["connect 6", "acquire 6 600", "complete 600 success", "release 6"]);
  expect(runners.events.filter((e) => e.sandboxId === sb.sandboxId).map((e) => e.at - runners.events[0]!.at)).toEqual([
    0, 10_000, 10_000, 3_610_000, 3_610_000, 3_610_000,
  ]);
});

test("a sandbox gone before boot does nothing; stop() halts every loop", async () => {
  const sb = await client.sandboxes.create(app, image, { env: { ACTIONS_RUNNER_INPUT_JITCONFIG: "cfg-x" } });
  await sb.terminate();
  await until(() => eventsOf(sb.sandboxId).includes("gone-before-boot"));
  github.register("cfg-5", 5);
  const idle = await client.sandboxes.create(app, image, { env: { ACTIONS_RUNNER_INPUT_JITCONFIG: "cfg-5" } });
  await until(() => github.log.includes("connect 5"));
  runners.stop();
  expect(modal.onSandboxStart).toBeUndefined();
  const before = runners.events.length;
  github.queue(500);
  await new Promise((r) => setTimeout(r, 30));
  expect(runners.events.length).toBe(before);
  expect(github.jobs()).toEqual([{ id: 500, status: "queued" }]);
  expect(modal.sandbox(idle.sandboxId)?.state).toBe("running");
});

async function until(cond: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}
