// The runner's currency through the whole App, against the fake GitHub's releases
// endpoint: the status page, /status.json and the metric say whether the image's
// runner is GitHub's latest, behind, or close to GitHub's deadline; runners skip
// their self-update only when the image is current; RUNNER_VERSION=latest builds the
// image for the newest release, checked against its published SHA-256.
import { runnerBuildArgs } from "../../src/runner-config/runner-build-args.js";
import type { StatusSnapshot } from "../../src/telemetry/status-snapshot.js";
import { eventually, fetchProtected, settled, startWorld, type RunningApp, type World } from "../support/app-harness.js";

const DAY = 86_400_000;
const PINNED = runnerBuildArgs().RUNNER_VERSION!;
const [major, minor, patch] = PINNED.split(".").map(Number) as [number, number, number];
const NEXT = `${major}.${minor + 1}.${patch}`;

let world: World;

beforeEach(async () => {
  world = await startWorld();
  const installation = world.github.addInstallation({ account: "octo-org", accountType: "Organization" });
  world.github.addRepository({ installationId: installation.id, owner: "octo-org", name: "app" });
});

afterEach(async () => {
  try {
    world.github.assertNoViolations();
  } finally {
    await world.close();
  }
});

const publish = (version: string, daysAgo: number, sha256?: string) =>
  world.github.addRelease({
    owner: "actions",
    repo: "runner",
    tagName: `v${version}`,
    publishedAt: new Date(Date.now() - daysAgo * DAY),
    sha256,
  });

/** /status.json once the App has read the latest release (the first look starts the read). */
async function runnerVersion(app: RunningApp): Promise<NonNullable<StatusSnapshot["runnerVersion"]>> {
  let snapshot: StatusSnapshot | undefined;
  await eventually(
    async () => {
      snapshot = JSON.parse(await fetchProtected(app, "/status.json")) as StatusSnapshot;
      return snapshot.runnerVersion?.state !== "unknown";
    },
    "the App knows the latest runner release",
    20_000,
  );
  return snapshot!.runnerVersion!;
}

const metric = async (app: RunningApp) => /^modal_runner_version_behind\{([^}]*)\} (\d+)$/m.exec(await fetchProtected(app))?.slice(1);

async function sandboxFor(labels: string[]) {
  const job = world.github.queueJob({ owner: "octo-org", repo: "app", labels });
  await world.github.deliverWorkflowJob("queued", job);
  await settled(world);
  return world.modal.sandboxes().find((sandbox) => sandbox.name === `modal-${job.id}-0`)!;
}

test("the image holds GitHub's latest runner: current everywhere, and runners start with updates disabled", async () => {
  publish(PINNED, 40);
  const app = await world.startApp();
  expect(await runnerVersion(app)).toMatchObject({ state: "current", image: PINNED, latest: PINNED });
  expect(await metric(app)).toEqual([`image="${PINNED}",latest="${PINNED}"`, "0"]);
  expect((await fetchProtected(app, "/status")).includes("data-runner-version")).toBe(false);
  expect((await sandboxFor(["self-hosted", "modal"])).env.MODAL_RUNNER_DISABLE_UPDATE).toBe("1");
});

test("a newer release: a warning on the page and in the metric, and runners keep updating themselves", async () => {
  publish(PINNED, 40);
  publish(NEXT, 3);
  const app = await world.startApp();
  expect(await runnerVersion(app)).toMatchObject({ state: "behind", image: PINNED, latest: NEXT });
  expect(await metric(app)).toEqual([`image="${PINNED}",latest="${NEXT}"`, "1"]);
  expect(await fetchProtected(app, "/status")).toContain('data-runner-version="behind"');
  expect((await sandboxFor(["self-hosted", "modal"])).env.MODAL_RUNNER_DISABLE_UPDATE).toBeUndefined();
});

test("close to GitHub's 30 days: an error", async () => {
  publish(NEXT, 25);
  const app = await world.startApp();
  expect(await runnerVersion(app)).toMatchObject({ state: "deadline", latest: NEXT });
  expect((await metric(app))?.[1]).toBe("2");
  expect(await fetchProtected(app, "/status")).toContain('data-runner-version="deadline"');
});

test("the release is read once, however often the page and the metrics are looked at", async () => {
  publish(PINNED, 40);
  const app = await world.startApp();
  await runnerVersion(app);
  for (let i = 0; i < 5; i++) {
    await fetchProtected(app, "/status.json");
    await fetchProtected(app);
  }
  expect(world.github.requests.filter((request) => request.route === "/repos/{owner}/{repo}/releases/latest")).toHaveLength(1);
});

test("RUNNER_VERSION=latest: the image gets the newest runner from its tarball, checked against its SHA-256; runners need no update", async () => {
  const sha256 = "c0ffee".padEnd(64, "0");
  publish(NEXT, 2, sha256);
  const app = await world.startApp({ RUNNER_VERSION: "latest" });
  const sandbox = await sandboxFor(["self-hosted", "modal"]);
  const image = world.modal.images().find((entry) => entry.imageId === sandbox.imageId)!;
  const install = image.dockerfileCommands.at(-1)!;
  expect(install).toContain(`https://github.com/actions/runner/releases/download/v${NEXT}/actions-runner-linux-x64-${NEXT}.tar.gz`);
  expect(install).toContain(`echo '${sha256}  /tmp/actions-runner.tar.gz' | sha256sum -c -`);
  expect(sandbox.env.MODAL_RUNNER_DISABLE_UPDATE).toBe("1");
  expect(await runnerVersion(app)).toMatchObject({ state: "current", image: NEXT, latest: NEXT });
});
