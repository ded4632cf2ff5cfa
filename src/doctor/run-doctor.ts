// `npm run doctor`'s checks, in the order a newcomer would fix things: the GitHub
// App, its webhook, each installation, the delivery log, then Modal and each runner
// profile. The server can run the same checks at start-up (summarizeChecks).
import type { ModalClient } from "modal";
import type { AppOctokit } from "../github/create-octokit-class.js";
import type { Settings } from "../settings/load-settings.js";
import { fail, type CheckResult } from "./check-result.js";
import { checkAppIdentity, checkRecentDeliveries, checkWebhookConfig } from "./check-github-app.js";
import { checkGrants, checkPolicyRepository, checkRunnerGroup, type InstallationInfo } from "./check-installations.js";
import { checkModalApp, checkProfile } from "./check-modal.js";
import { checkRunnerVersion } from "./check-runner-version.js";
import { readRunnerReleaseAsApp } from "../github/runner-releases.js";
import { describeFailure } from "../lib/errors.js";

export interface DoctorIo {
  /** Octokit authenticated as the App (JWT). */
  appOctokit(): Promise<AppOctokit>;
  installationOctokit(installationId: number): Promise<AppOctokit>;
  modal: ModalClient;
  now?: () => number;
}

interface RawInstallation {
  id: number;
  account: { login?: string; type?: string } | null;
  permissions: Record<string, string | undefined>;
  events: string[];
  html_url: string;
}

async function githubChecks(settings: Settings, io: DoctorIo): Promise<CheckResult[]> {
  const app = await io.appOctokit();
  const identity = await checkAppIdentity(app, settings);
  if (identity.result.status === "fail") return [identity.result];
  const results = [identity.result, ...(await checkWebhookConfig(app, settings))];

  let installations: InstallationInfo[];
  try {
    const raw = (await app.paginate("GET /app/installations", { per_page: 100 })) as unknown as RawInstallation[];
    installations = raw.map((i) => ({
      id: i.id,
      account: i.account?.login ?? String(i.id),
      isOrg: i.account?.type === "Organization",
      permissions: i.permissions,
      events: i.events,
      settingsUrl: i.html_url,
    }));
  } catch (error) {
    return [...results, fail("installations", `cannot list them: ${describeFailure(error).reason}`, "fix the GitHub App check first")];
  }
  if (installations.length === 0) {
    results.push(
      fail(
        "installations",
        "the App is installed nowhere: no job can reach it",
        `install it on an org: ${identity.htmlUrl ?? "the App's page"}/installations/new`,
      ),
    );
  }
  for (const installation of installations) {
    const grants = checkGrants(installation, settings);
    results.push(grants);
    const orgRunners =
      installation.isOrg && installation.permissions.organization_self_hosted_runners === "write" && settings.runner.scope !== "repo";
    if (grants.status !== "fail" && orgRunners)
      results.push(await checkRunnerGroup(await io.installationOctokit(installation.id), installation, settings));
    if (grants.status !== "fail") {
      const policy = await checkPolicyRepository(await io.installationOctokit(installation.id), installation);
      if (policy) results.push(policy);
    }
  }
  results.push(await checkRecentDeliveries(app, (io.now ?? Date.now)()));
  results.push(
    await checkRunnerVersion(
      () => readRunnerReleaseAsApp({ app: io.appOctokit, installation: io.installationOctokit }),
      settings,
      (io.now ?? Date.now)(),
    ),
  );
  return results;
}

async function modalChecks(settings: Settings, io: DoctorIo): Promise<CheckResult[]> {
  const { result, app } = await checkModalApp(io.modal, settings);
  if (result.status === "fail") return [result];
  const results = [result];
  for (const profile of settings.runner.config.profiles) results.push(...(await checkProfile(io.modal, app, profile, settings)));
  return results;
}

export async function runDoctor(settings: Settings, io: DoctorIo): Promise<CheckResult[]> {
  const [github, modal] = await Promise.all([githubChecks(settings, io), modalChecks(settings, io)]);
  return [...github, ...modal];
}
