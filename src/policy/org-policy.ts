// An org's own policy, in `.github/modal-runner.yml` of its `.github` repository (a
// repository may add its own file to narrow further): which repositories may use
// the runners, which profiles, and lower caps. It can only narrow what the operator
// allows: lists intersect, caps take the lower value, anything wider is ignored.
import { z } from "zod";
import { fullName } from "../model/job.js";
import type { Caps, RunnerConfig } from "../model/runner-profile.js";
import { matchesAny, patternListProblem } from "../model/repository-patterns.js";

export const POLICY_PATH = ".github/modal-runner.yml";

const cap = z.number().int().min(0);

export const orgPolicySchema = z.strictObject({
  /** Repository names of the org ("app", "svc-*"). */
  repositories: z
    .array(z.string().min(1))
    .superRefine((patterns, ctx) => {
      // Bounded like the operator's lists: a file over the bounds is refused (its org or repository is not served).
      const problem = patternListProblem(patterns);
      if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
    })
    .optional(),
  profiles: z.array(z.string().min(1)).optional(),
  caps: z
    .strictObject({
      /** Sandboxes at once for the whole org (installation). */
      total: cap.optional(),
      perRepository: cap.optional(),
      perProfile: z.record(z.string(), cap).optional(),
    })
    .optional(),
});

export type OrgPolicyFile = z.infer<typeof orgPolicySchema>;

/** The policy in force for one repository: the operator's, narrowed by the org's and the repository's files. */
export interface EffectivePolicy {
  /** One list of repository patterns per file that has one; a repository must be in every list. */
  repositories: string[][];
  /** Profile names allowed. */
  profiles: string[];
  caps: Caps;
  /**
   * Set when a policy file that applies could not be read or is invalid: the
   * repository is not served until it reads (fail closed). The lists are then
   * empty too, so a caller that ignores this field still serves nothing.
   */
  refused?: string;
}

const lower = (a: number | undefined, b: number | undefined) => (a === undefined ? b : b === undefined ? a : Math.min(a, b));

export function operatorPolicy(config: RunnerConfig): EffectivePolicy {
  return { repositories: [], profiles: config.profiles.map((profile) => profile.name), caps: config.caps };
}

/** Applies one policy file; returns the narrowed policy and what the file tried to widen (ignored). */
export function narrowPolicy(policy: EffectivePolicy, file: OrgPolicyFile): { policy: EffectivePolicy; ignored: string[] } {
  const ignored: string[] = [];
  let profiles = policy.profiles;
  if (file.profiles) {
    for (const name of file.profiles) if (!policy.profiles.includes(name)) ignored.push(`profile "${name}" is not offered`);
    profiles = policy.profiles.filter((name) => file.profiles!.includes(name));
  }
  const caps: Caps = { ...policy.caps };
  const narrowCap = (key: string, current: number | undefined, wanted: number | undefined) => {
    if (wanted !== undefined && current !== undefined && wanted > current)
      ignored.push(`caps.${key} ${wanted} is above the operator's ${current}`);
    return lower(current, wanted);
  };
  if (file.caps) {
    caps.perInstallation = narrowCap("total", caps.perInstallation, file.caps.total);
    caps.perRepository = narrowCap("perRepository", caps.perRepository, file.caps.perRepository);
    // The org's per-profile cap counts the org's own sandboxes only (the operator's
    // `maxSandboxes` counts everyone's); above the operator's it could never bind.
    for (const [name, value] of Object.entries(file.caps.perProfile ?? {})) {
      const operatorCap = caps.perProfile[name];
      narrowCap(`perProfile.${name}`, operatorCap, value);
      if (operatorCap !== undefined && value >= operatorCap) continue;
      const limit = lower(caps.perInstallationProfile?.[name], value)!;
      caps.perInstallationProfile = { ...caps.perInstallationProfile, [name]: limit };
    }
  }
  const repositories = file.repositories ? [...policy.repositories, file.repositories] : policy.repositories;
  return { policy: { repositories, profiles, caps }, ignored };
}

/** The policy of an org or repository whose policy file cannot be trusted: nothing is allowed. */
export function refusedPolicy(operator: EffectivePolicy, reason: string): EffectivePolicy {
  return { repositories: [[]], profiles: [], caps: operator.caps, refused: reason };
}

/** Every list of repository patterns must admit the repository (each file narrows). */
export function repositoryAllowed(policy: EffectivePolicy, owner: string, name: string): boolean {
  // Names in an org's file are its own repositories: "app" means "<org>/app".
  return policy.repositories.every((patterns) =>
    matchesAny(
      fullName({ owner, name }),
      patterns.map((pattern) => (pattern.includes("/") ? pattern : `${owner}/${pattern}`)),
    ),
  );
}
