// An image that fails to build is reported clearly and holds up only its profile.
import { eventually, settled, startWorld, type World } from "../support/app-harness.js";
import { linesWith, outcomes } from "../support/outcomes.js";
import { runnerConfigFile } from "./config-file.js";

let world: World;

afterEach(async () => {
  await world.close();
});

test("a broken profile image fails its jobs with the build's error; other profiles are served", async () => {
  world = await startWorld();
  const installation = world.github.addInstallation({ account: "octo-org", accountType: "Organization" });
  world.github.addRepository({ installationId: installation.id, owner: "octo-org", name: "app" });
  world.modal.failImageBuild("example.com/broken-runner:1", "RUN apt-get install nonexistent-package: exit code 100");
  const config = runnerConfigFile(
    [
      "profiles:",
      "  default:",
      "    labels: [modal]",
      "  broken:",
      "    labels: [modal, broken]",
      "    image: { from: example.com/broken-runner:1 }",
      "",
    ].join("\n"),
  );
  const app = await world.startApp({ RUNNER_CONFIG: config });
  const buildFailures = () => linesWith(app, { component: "modal", level: 50, profile: "broken" });
  await eventually(() => buildFailures().length === 1, "the build failure is reported");
  expect(buildFailures()[0]).toMatchObject({ reason: expect.stringContaining("nonexistent-package") });

  const broken = world.github.queueJob({ owner: "octo-org", repo: "app", labels: ["modal", "broken"] });
  const fine = world.github.queueJob({ owner: "octo-org", repo: "app", labels: ["modal"] });
  await world.github.deliverWorkflowJob("queued", broken);
  await world.github.deliverWorkflowJob("queued", fine);
  await settled(world);

  expect(world.modal.running().map((sandbox) => sandbox.name)).toEqual([`modal-${fine.id}-0`]);
  expect(outcomes(app, { kind: "failed" })).toEqual([
    expect.objectContaining({ jobId: broken.id, reason: expect.stringContaining("nonexistent-package") }),
  ]);
  expect(outcomes(app, { jobId: fine.id }).map((outcome) => outcome.kind)).toEqual(["started"]);
  expect(world.github.runners().map((runner) => runner.name)).toEqual([`modal-${fine.id}-0`]); // the broken job's registration was removed
});
