// What serving a job costs, measured against the fakes with injected remote latency
// (so the figures are ratios and counts that hold on a noisy machine):
// - remote calls per job (GitHub REST, Modal control plane);
// - webhook answer time, and time to a running sandbox over the sum of the remote
//   latencies it cannot avoid (the overhead of the App itself);
// - a matrix of jobs at once: time to the last sandbox over one job's time;
// - a reconcile pass: calls for N sandboxes, and how many of its reads were free (304).
import os from "node:os";
import { settled, startWorld, type World } from "../test/support/app-harness.js";
import { FAST_RECONCILE } from "../test/reconcile/reconcile-world.js";

const LATENCY_MS = 40;
const report: string[] = [];

let world: World;
afterEach(async () => {
  await world.close();
});
afterAll(() => {
  const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? "cpu"}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
  console.log([`modal-github-runner benchmarks (${machine}; injected latency ${LATENCY_MS} ms per remote call)`, ...report].join("\n"));
});

async function setUp(jobs: number, env: Record<string, string> = {}) {
  world = await startWorld({ githubLatencyMs: LATENCY_MS, modalLatencyMs: LATENCY_MS });
  const installation = world.github.addInstallation({ account: "octo-org", accountType: "Organization" });
  world.github.addRepository({ installationId: installation.id, owner: "octo-org", name: "app" });
  const app = await world.startApp({ LOG_LEVEL: "warn", ...env });
  await app.parts.fleet.prepare(app.settings.runner.config.profiles); // start-up work is not part of a job's cost
  await settled(world);
  const queued = Array.from({ length: jobs }, () =>
    world.github.queueJob({ owner: "octo-org", repo: "app", labels: ["self-hosted", "modal"] }),
  );
  return { app, queued };
}

test("one job: calls, answer time, time to a running sandbox", async () => {
  const { queued } = await setUp(2);
  // A first job warms the process up (and caches the installation token and policy files).
  await world.github.deliverWorkflowJob("queued", queued[1]!);
  await settled(world);
  const githubBefore = world.github.requests.length;
  const modalBefore = world.modal.calls.length;
  const started = performance.now();
  const delivery = await world.github.deliverWorkflowJob("queued", queued[0]!);
  while (world.modal.running().length < 2) await new Promise((resolve) => setTimeout(resolve, 2));
  const toSandbox = performance.now() - started;
  await settled(world);
  const github = world.github.requests.slice(githubBefore);
  const modal = world.modal.calls.slice(modalBefore);
  // Remote calls on the path, one after another.
  const sequential = github.length + modal.length;
  report.push(
    `one job (warm): ${github.length} GitHub calls (${github.map((request) => `${request.method} ${request.route}`).join(", ")}), ${modal.length} Modal calls (${modal.map((call) => call.method).join(", ")})`,
    `  webhook answered in ${delivery.ms.toFixed(1)} ms (${(delivery.ms / LATENCY_MS).toFixed(2)} × one remote call)`,
    `  running sandbox after ${toSandbox.toFixed(0)} ms = ${(toSandbox / (sequential * LATENCY_MS)).toFixed(2)} × the ${sequential} remote calls' latency`,
  );
  expect(delivery.ms).toBeLessThan(1000);
});

test.each([16, 64])("a matrix of %d jobs at once", async (jobs) => {
  const { queued } = await setUp(jobs);
  const githubBefore = world.github.requests.length;
  const modalBefore = world.modal.calls.length;
  const started = performance.now();
  const deliveries = await Promise.all(queued.map((job) => world.github.deliverWorkflowJob("queued", job)));
  while (world.modal.running().length < jobs) await new Promise((resolve) => setTimeout(resolve, 5));
  const elapsed = performance.now() - started;
  await settled(world);
  const slowestAnswer = Math.max(...deliveries.map((delivery) => delivery.ms));
  report.push(
    `${jobs} jobs at once: last sandbox after ${elapsed.toFixed(0)} ms; ${((world.github.requests.length - githubBefore) / jobs).toFixed(2)} GitHub and ${((world.modal.calls.length - modalBefore) / jobs).toFixed(2)} Modal calls per job; slowest webhook answer ${slowestAnswer.toFixed(0)} ms`,
  );
  expect(world.modal.running()).toHaveLength(jobs);
});

test("a reconcile pass over 50 sandboxes", async () => {
  const { app, queued } = await setUp(50, { ...FAST_RECONCILE, UNSERVED_JOB_GRACE: "1h" });
  await Promise.all(queued.map((job) => world.github.deliverWorkflowJob("queued", job)));
  await settled(world);
  await app.parts.reconciler.run({ full: true, reason: "bench" });
  const before = world.github.requests.length;
  const started = performance.now();
  const pass = await app.parts.reconciler.run({ reason: "bench" });
  const elapsed = performance.now() - started;
  const reads = world.github.requests.slice(before);
  report.push(
    `reconcile pass, 50 sandboxes: ${pass.apiCalls.github} GitHub calls (${reads.filter((request) => request.status === 304).length} answered 304), ${pass.apiCalls.modal} Modal calls, ${elapsed.toFixed(0)} ms`,
  );
  expect(pass.repaired).toEqual({});
});
