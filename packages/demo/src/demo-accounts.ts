// Who installed the demo's App: two orgs and one user, their repositories, and one
// org's policy file (.github/modal-runner.yml) that leaves a repository out, so the
// workload can show a job the policy refuses.
import type { FakeGitHub } from "@modal-github-runner/simulator/fake-github";

export interface DemoRepository {
  owner: string;
  repo: string;
}

/** The repositories the workload queues jobs in, by the part they play. */
export interface DemoAccounts {
  api: DemoRepository;
  web: DemoRepository;
  ml: DemoRepository;
  shop: DemoRepository;
  data: DemoRepository;
  dotfiles: DemoRepository;
  /** Not among the repositories acme's policy file allows. */
  legacy: DemoRepository;
}

export const ACME_POLICY = `# acme's policy: only these repositories may use the runners.
repositories: [api, web, ml-*]
`;

export function addDemoAccounts(github: FakeGitHub): DemoAccounts {
  const acme = github.addInstallation({ account: "acme", accountType: "Organization" });
  for (const name of [".github", "api", "web", "ml-train", "legacy"])
    github.addRepository({ installationId: acme.id, owner: "acme", name });
  github.addFile("acme", ".github", ".github/modal-runner.yml", ACME_POLICY);
  const globex = github.addInstallation({ account: "globex", accountType: "Organization" });
  for (const name of ["shop", "data"]) github.addRepository({ installationId: globex.id, owner: "globex", name });
  // A user's installation: its runners are registered per repository.
  const ada = github.addInstallation({ account: "ada", accountType: "User" });
  github.addRepository({ installationId: ada.id, owner: "ada", name: "dotfiles" });
  return {
    api: { owner: "acme", repo: "api" },
    web: { owner: "acme", repo: "web" },
    ml: { owner: "acme", repo: "ml-train" },
    legacy: { owner: "acme", repo: "legacy" },
    shop: { owner: "globex", repo: "shop" },
    data: { owner: "globex", repo: "data" },
    dotfiles: { owner: "ada", repo: "dotfiles" },
  };
}
