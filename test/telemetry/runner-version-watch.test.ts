// The App's view of GitHub's latest runner release, read from the fake GitHub's
// releases endpoint through an installation's client: read at most once a day, a
// failed read retried after a pause with the last answer kept, and the release's
// tarball checksum taken from its asset (or its release notes).
import pino from "pino";
import { Probot, ProbotOctokit } from "probot";
import { parseRunnerRelease, readRunnerReleaseAsApp } from "../../src/github/runner-releases.js";
import type { AppOctokit } from "../../src/github/create-octokit-class.js";
import { RunnerVersionWatch } from "../../src/telemetry/runner-version-watch.js";
import { FakeGitHub } from "@modal-github-runner/simulator/fake-github";
import { releaseObject } from "@modal-github-runner/simulator/github/routes-releases";
import { ManualClock } from "../support/manual-clock.js";

const DAY = 86_400_000;
const TestOctokit = ProbotOctokit.defaults((options: Record<string, unknown>) => ({
  ...options,
  throttle: { ...(options.throttle as object), enabled: false },
  retry: { retryAfterBaseValue: 1 },
}));

let gh: FakeGitHub;
let clock: ManualClock;
let watch: RunnerVersionWatch;

beforeEach(async () => {
  gh = await FakeGitHub.start();
  gh.addInstallation({ account: "octo-org", accountType: "Organization" });
  clock = new ManualClock(Date.parse("2026-11-30T00:00:00Z"));
  const probot = new Probot({
    appId: gh.appId,
    privateKey: gh.privateKey,
    baseUrl: gh.baseUrl,
    Octokit: TestOctokit,
    log: pino({ level: "silent" }),
  });
  const github = {
    app: async () => (await probot.auth()) as AppOctokit,
    installation: async (id: number) => (await probot.auth(id)) as AppOctokit,
  };
  watch = new RunnerVersionWatch({
    pinned: "2.334.0",
    read: () => readRunnerReleaseAsApp(github),
    now: clock.now,
    log: pino({ level: "silent" }),
  });
});

afterEach(async () => {
  try {
    gh.assertNoViolations();
  } finally {
    await gh.close();
  }
});

const releaseReads = () => gh.requests.filter((request) => request.route === "/repos/{owner}/{repo}/releases/latest").length;

test("the latest release is read once a day, however often the App asks", async () => {
  gh.addRelease({ owner: "actions", repo: "runner", tagName: "v2.335.0", publishedAt: new Date(clock.now() - 2 * DAY) });
  expect((await watch.refresh())?.version).toBe("2.335.0");
  for (let i = 0; i < 5; i++) await watch.refresh();
  expect(watch.currency().state).toBe("behind");
  expect(releaseReads()).toBe(1);

  gh.addRelease({ owner: "actions", repo: "runner", tagName: "v2.336.0", publishedAt: new Date(clock.now()) });
  await clock.advance(DAY - 1000);
  await watch.refresh();
  expect(releaseReads()).toBe(1);
  await clock.advance(1000);
  expect((await watch.refresh())?.version).toBe("2.336.0");
  expect(releaseReads()).toBe(2);
});

test("a failed read keeps the last answer and is retried after a pause, not at every ask", async () => {
  gh.addRelease({ owner: "actions", repo: "runner", tagName: "v2.334.0", publishedAt: new Date(clock.now() - DAY) });
  await watch.refresh();
  await clock.advance(DAY);
  gh.releases.clear(); // GitHub answers 404 now
  expect((await watch.refresh())?.version).toBe("2.334.0");
  await watch.refresh();
  expect(releaseReads()).toBe(2);
  expect(watch.currency({ refresh: false }).state).toBe("current");
  await clock.advance(600_000);
  await watch.refresh();
  expect(releaseReads()).toBe(3);
});

test("the tarball's SHA-256 comes from the asset's digest, else from the release notes' markers", () => {
  const published = gh.addRelease({ owner: "actions", repo: "runner", tagName: "v2.335.0", sha256: "a".repeat(64) });
  const raw = releaseObject(gh.urls, published);
  expect(parseRunnerRelease(raw).linuxX64).toEqual({
    url: "https://github.com/actions/runner/releases/download/v2.335.0/actions-runner-linux-x64-2.335.0.tar.gz",
    sha256: "a".repeat(64),
  });
  expect(parseRunnerRelease({ ...raw, assets: [] }).linuxX64?.sha256).toBe("a".repeat(64));
  expect(parseRunnerRelease({ ...raw, assets: [], body: "no hashes" }).linuxX64).toBeUndefined();
  expect(() => parseRunnerRelease({ ...raw, tag_name: "nightly; rm -rf /" })).toThrow(/not a version/);
});
