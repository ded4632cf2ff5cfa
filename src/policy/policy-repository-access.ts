// Whether an installation can see its account's `.github` repository, where the org's
// policy file lives. GitHub answers 404 both for a repository that does not exist and
// for one the installation was not given, so a missing file there must not be read as
// "no policy" blindly (that fails open): on an installation that sees all of the
// account's repositories a 404 means there is none; on one limited to selected
// repositories it may exist unseen, and the org is refused until the App can read it.
import type { AppOctokit } from "../github/create-octokit-class.js";
import { httpStatus, isTokenFailure } from "../lib/errors.js";

export const POLICY_REPOSITORY = ".github";

export type PolicyRepositoryAccess = "visible" | "absent" | "hidden";

export async function policyRepositoryAccess(octokit: AppOctokit, owner: string): Promise<PolicyRepositoryAccess> {
  // Both asked at once, so an org's first job waits for one round trip, not two: the
  // repository, and which repositories the installation covers (one small page; the
  // answer carries the selection), needed when the repository answers 404.
  const repository = octokit.request("GET /repos/{owner}/{repo}", { owner, repo: POLICY_REPOSITORY });
  const selection = octokit.request("GET /installation/repositories", { per_page: 1 });
  selection.catch(() => {}); // not needed when the repository answers; awaited below when it is
  try {
    await repository;
    return "visible";
  } catch (error) {
    if (httpStatus(error) !== 404 || isTokenFailure(error)) throw error;
  }
  const { data } = await selection;
  return data.repository_selection === "all" ? "absent" : "hidden";
}

/** Why the org is refused when its policy repository is hidden, and the fix. */
export function hiddenPolicyRepository(owner: string): string {
  return `is in ${owner}/${POLICY_REPOSITORY}, which the App's installation may not read (it was given selected repositories only): add ${POLICY_REPOSITORY} to the installation's repositories (create it first if ${owner} has none)`;
}
