// Everything the App prints, at the most verbose level, through success, faults and
// bad input, contains no private key, webhook secret, installation token, JIT config
// or Modal token.
import { Status } from "nice-grpc";
import { attachSimulatedRunners } from "@modal-github-runner/simulator/simulated-runner";
import { eventually, MODAL_TOKEN_SECRET, settled, startWorld, type World } from "../support/app-harness.js";

let world: World;

afterEach(async () => {
  await world.close();
});

test("no secret appears in the log output", async () => {
  world = await startWorld();
  const installation = world.github.addInstallation({ account: "octo-org", accountType: "Organization" });
  world.github.addRepository({ installationId: installation.id, owner: "octo-org", name: "app" });
  const app = await world.startApp({ LOG_LEVEL: "trace" });
  const runners = attachSimulatedRunners(world.modal, world.github, { bootDelayMs: 5, jobDurationMs: 5 });
  const queueJob = () => world.github.queueJob({ owner: "octo-org", repo: "app", labels: ["modal"] });

  await world.github.deliverWorkflowJob("queued", queueJob());
  await world.github.deliverWorkflowJob("queued", queueJob(), { signature: "wrong" });
  world.modal.failNext("sandboxCreateV2", Status.UNAVAILABLE, 1);
  await world.github.deliverWorkflowJob("queued", queueJob());
  world.modal.failNext("sandboxCreateV2", Status.PERMISSION_DENIED, 1);
  await world.github.deliverWorkflowJob("queued", queueJob());
  world.github.failNext({ method: "GET", route: "/repos/{owner}/{repo}/actions/jobs/{job_id}" }, { status: 500 }, 5);
  // A late delivery (the job is not young): the App looks the job up first, and meets the 500s.
  const late = world.github.queueJob({ owner: "octo-org", repo: "app", labels: ["modal"], createdAt: new Date(Date.now() - 30_000) });
  await world.github.deliverWorkflowJob("queued", late);
  await eventually(
    () => world.github.jobs().filter((job) => job.status === "completed").length >= 2,
    "at least two jobs ran (which ones depends on where the injected faults land)",
    25_000,
  );
  await settled(world);
  runners.stop();

  const jitConfigs = world.modal.sandboxes().map((sandbox) => sandbox.env.ACTIONS_RUNNER_INPUT_JITCONFIG!);
  const tokens = world.github.issuedTokens();
  expect(jitConfigs.length).toBeGreaterThanOrEqual(2);
  expect(tokens.length).toBeGreaterThanOrEqual(1);
  const keyBody = world.github.privateKey.split("\n").filter((line) => line.length > 40);
  const secrets = [...jitConfigs, ...tokens, ...keyBody, world.github.webhookSecret, MODAL_TOKEN_SECRET];

  const output = app.logs.text;
  expect(output.length).toBeGreaterThan(5000); // trace level really printed a lot
  // Probot's own debug lines of each GitHub request were printed too.
  expect(app.logs.lines.filter((line) => line.component === "github" && line.level <= 20).length).toBeGreaterThan(5);
  for (const secret of secrets) expect(output).not.toContain(secret);
});
