// The one answer to "do we serve this job, and with what?", used by the webhook
// router, the dispatcher, the reconciler and the check made when a runner takes a
// job. `screen` is the cheap part (labels, the operator's lists, public
// repositories, a profile that fits): pure, no remote call. `plan` adds the org's
// and the repository's policy files (a cached GitHub read) and says which profile
// and caps apply.
import type { Result } from "../lib/result.js";
import type { Caps, RunnerConfig, RunnerProfile } from "../model/runner-profile.js";
import type { AppOctokit } from "../github/create-octokit-class.js";
import { fullName, type JobRef } from "../model/job.js";
import { decideToServe, type ServeDecision, type ServePolicy } from "./decide-to-serve.js";
import { operatorPolicy, POLICY_PATH, repositoryAllowed, type EffectivePolicy } from "./org-policy.js";
import type { PolicyFiles } from "./policy-files.js";
import { selectProfile } from "../runner-config/select-profile.js";

/** What a job needs once every policy has been applied, or why it is refused. */
export type JobPlan = Result<{ profile: RunnerProfile; caps: Caps }>;

export class JobPolicy {
  readonly #operator: EffectivePolicy;

  constructor(
    private readonly serve: ServePolicy,
    private readonly config: RunnerConfig,
    private readonly files: PolicyFiles,
    private readonly octokitFor: (installationId: number) => Promise<AppOctokit>,
  ) {
    this.#operator = operatorPolicy(config);
  }

  /** The operator's rules only: no remote call. */
  screen(job: JobRef): ServeDecision {
    const decision = decideToServe(job, this.serve);
    if (!decision.ok) return decision;
    const choice = selectProfile(job.labels, this.config.profiles);
    return choice.ok ? decision : { ok: false, notOurs: false, reason: choice.reason };
  }

  /** Every rule, the org's files included, and the profile and caps that apply. */
  async plan(job: JobRef): Promise<JobPlan> {
    const screened = this.screen(job);
    if (!screened.ok) return { ok: false, reason: screened.reason };
    const { owner, name } = job.repository;
    // Throws when GitHub gives no installation token (isTokenFailure): the job failed, it was not refused.
    const effective = await this.files.effective(await this.octokitFor(job.installationId), this.#operator, job.repository);
    if (effective.refused) return { ok: false, reason: effective.refused };
    if (!repositoryAllowed(effective, owner, name))
      return { ok: false, reason: `${fullName(job.repository)} is not among the repositories ${owner}'s ${POLICY_PATH} allows` };
    const choice = selectProfile(
      job.labels,
      this.config.profiles.filter((profile) => effective.profiles.includes(profile.name)),
    );
    return choice.ok ? { ok: true, profile: choice.profile, caps: effective.caps } : choice;
  }
}
