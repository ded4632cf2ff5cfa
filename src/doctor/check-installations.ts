// Per installation: what it granted (permissions, events) against what the App
// needs to register runners where RUNNER_SCOPE says, and the runner group org-level
// runners join. An owner who accepted an older permission set shows up here.
import { describeFailure } from "../lib/errors.js";
import type { AppOctokit } from "../github/create-octokit-class.js";
import type { Settings } from "../settings/load-settings.js";
import { POLICY_PATH } from "../policy/org-policy.js";
import { policyRepositoryAccess, POLICY_REPOSITORY } from "../policy/policy-repository-access.js";
import { fail, ok, warn, type CheckResult } from "./check-result.js";

type Permissions = Record<string, string | undefined>;
const at = (permissions: Permissions, name: string, level: "read" | "write") =>
  permissions[name] === "write" || (level === "read" && permissions[name] === "read");

export interface InstallationInfo {
  id: number;
  account: string;
  isOrg: boolean;
  permissions: Permissions;
  events: string[];
  settingsUrl: string;
}

export function checkGrants(installation: InstallationInfo, settings: Settings): CheckResult {
  const name = `installation ${installation.account}`;
  const fix = (what: string) =>
    `the App's settings → Permissions & events: ${what}; then ${installation.account} accepts the new permissions at ${installation.settingsUrl}`;
  const p = installation.permissions;
  const missing: string[] = [];
  if (!at(p, "actions", "read")) missing.push("Actions: read (workflow_job events, queued-job sweeps)");
  if (!at(p, "metadata", "read")) missing.push("Metadata: read");
  const orgRunners = installation.isOrg && at(p, "organization_self_hosted_runners", "write");
  const repoRunners = at(p, "administration", "write");
  const scope = settings.runner.scope;
  if (scope === "org" && !orgRunners) missing.push("Self-hosted runners (organization): write (RUNNER_SCOPE=org)");
  if (scope === "repo" && !repoRunners) missing.push("Administration: write (RUNNER_SCOPE=repo)");
  if (scope === "auto" && !orgRunners && !repoRunners)
    missing.push(installation.isOrg ? "Self-hosted runners (organization): write, or Administration: write" : "Administration: write");
  if (!installation.events.includes("workflow_job")) missing.push("the Workflow job event");
  if (missing.length > 0)
    return fail(name, `missing ${missing.join("; ")}`, fix(`grant ${missing.map((m) => m.split(" (")[0]).join(", ")}`));
  if (!at(p, "single_file", "read") && !at(p, "contents", "read")) {
    return warn(
      name,
      "no Single file (or Contents) read: the org's .github/modal-runner.yml policy file is not read",
      fix("Single file: read, path .github/modal-runner.yml"),
    );
  }
  const where = orgRunners && scope !== "repo" ? "org-level runners" : "repository-level runners";
  return ok(name, `permissions and events in place (${where})`);
}

interface RunnerGroup {
  id: number;
  name: string;
  visibility: string;
  allows_public_repositories?: boolean;
}

export async function checkRunnerGroup(octokit: AppOctokit, installation: InstallationInfo, settings: Settings): Promise<CheckResult> {
  const name = `runner group ${installation.account}`;
  const wanted = settings.runner.group;
  let groups: RunnerGroup[];
  try {
    groups = (await octokit.paginate("GET /orgs/{org}/actions/runner-groups", {
      org: installation.account,
      per_page: 100,
    })) as unknown as RunnerGroup[];
  } catch (error) {
    return fail(
      name,
      `cannot list runner groups: ${describeFailure(error).reason}`,
      "grant Self-hosted runners (organization): write, or set RUNNER_SCOPE=repo",
    );
  }
  const group = groups.find((g) => (typeof wanted === "number" ? g.id === wanted : g.name.toLowerCase() === wanted.toLowerCase()));
  if (!group)
    return fail(
      name,
      `no runner group ${JSON.stringify(wanted)} in ${installation.account} (has: ${groups.map((g) => g.name).join(", ")})`,
      `create it under ${installation.account}'s Settings → Actions → Runner groups, or set RUNNER_GROUP to one of these`,
    );
  if (group.visibility !== "all") {
    return warn(
      name,
      `"${group.name}" is open to selected repositories only: jobs of other repositories stay queued`,
      `${installation.account}'s Settings → Actions → Runner groups → ${group.name}: Repository access: All repositories (narrow with ALLOWED_REPOSITORIES or the org's policy file instead)`,
    );
  }
  if (settings.policy.allowPublicRepos && group.allows_public_repositories === false) {
    return warn(
      name,
      `ALLOW_PUBLIC_REPOS is on, but "${group.name}" does not allow public repositories`,
      `allow public repositories on the group, or turn ALLOW_PUBLIC_REPOS off`,
    );
  }
  return ok(name, `"${group.name}" (id ${group.id}) is open to all repositories`);
}

/**
 * An installation limited to selected repositories that leaves out its account's
 * .github repository: the org's policy file, if any, cannot be read, so the App
 * refuses the org's jobs (fail closed). A row only when that is so (or unknown).
 */
export async function checkPolicyRepository(octokit: AppOctokit, installation: InstallationInfo): Promise<CheckResult | undefined> {
  const p = installation.permissions;
  if (!at(p, "single_file", "read") && !at(p, "contents", "read")) return undefined; // policy files are not read there
  const name = `policy file ${installation.account}`;
  const where = `${installation.account}/${POLICY_REPOSITORY}`;
  try {
    if ((await policyRepositoryAccess(octokit, installation.account)) !== "hidden") return undefined;
  } catch (error) {
    return warn(name, `cannot tell whether ${where} is readable: ${describeFailure(error).reason}`, "run the doctor again");
  }
  return fail(
    name,
    `${where} is not among the repositories the installation may read: ${installation.account}'s jobs are refused, since its ${POLICY_PATH} (if any) cannot be read`,
    `add ${POLICY_REPOSITORY} to the App's repositories at ${installation.settingsUrl} (create it first if ${installation.account} has none)`,
  );
}
