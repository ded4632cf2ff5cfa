// The attacker's side of the cross-installation scenarios: an admin of another org
// registers a self-hosted runner under a name of their choosing (our naming scheme,
// another org's job id) through GitHub's own API, and starts it. The App is not
// involved: this is what any org admin can do on github.com.
import { pino } from "pino";
import { Probot, ProbotOctokit } from "probot";
import type { FakeGitHub } from "@modal-github-runner/simulator/fake-github";

const Octokit = ProbotOctokit.defaults((options: Record<string, unknown>) => ({
  ...options,
  throttle: { ...(options.throttle as object), enabled: false },
  retry: { retryAfterBaseValue: 1 },
}));

/** Registers and connects a runner named `name` in `org` (as its installation); returns the fake's runner. */
export async function registerForeignRunner(
  github: FakeGitHub,
  o: { installationId: number; org: string; name: string; labels: string[] },
) {
  const probot = new Probot({
    appId: github.appId,
    privateKey: github.privateKey,
    baseUrl: github.baseUrl,
    Octokit,
    log: pino({ level: "silent" }),
  });
  const octokit = await probot.auth(o.installationId);
  const { data } = await octokit.request("POST /orgs/{org}/actions/runners/generate-jitconfig", {
    org: o.org,
    name: o.name,
    runner_group_id: 1,
    labels: o.labels,
  });
  const runner = github.connectRunner(data.encoded_jit_config);
  if (!runner) throw new Error(`the fake did not accept ${o.name}'s JIT config`);
  return runner;
}

/** A counter's value in the App's registry (0 when never counted). */
export async function counterValue(
  registry: {
    getSingleMetric(name: string): { get(): Promise<{ values: Array<{ value: number; labels: Record<string, unknown> }> }> } | undefined;
  },
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  const { values } = await metric.get();
  return values.filter((v) => Object.entries(labels).every(([key, value]) => v.labels[key] === value)).reduce((sum, v) => sum + v.value, 0);
}
