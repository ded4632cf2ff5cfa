import { decideToServe, runnerLabelsFor, type ServePolicy } from "../../src/policy/decide-to-serve.js";
import type { JobRef } from "../../src/model/job.js";

function job(labels: string[], repo = "octo-org/app", visibility = "private"): JobRef {
  const [owner, name] = repo.split("/") as [string, string];
  return {
    id: 1,
    runId: 2,
    name: "build",
    labels,
    createdAt: undefined,
    installationId: 3,
    repository: { id: 4, owner, name, ownerType: "Organization", private: visibility !== "public", visibility },
  };
}

const base: ServePolicy = { runnerLabel: "modal", allowPublicRepos: false, allowedRepositories: [], deniedRepositories: [] };

describe("which jobs the App serves", () => {
  test.each([
    ["a job with the runner label", job(["self-hosted", "modal"]), base, true],
    ["the label in another case", job(["self-hosted", "Modal"]), base, true],
    ["a job for GitHub-hosted runners", job(["ubuntu-latest"]), base, false],
    ["a job for other self-hosted runners", job(["self-hosted", "k8s"]), base, false],
    ["a public repository by default", job(["modal"], "octo-org/site", "public"), base, false],
    ["a public repository when allowed", job(["modal"], "octo-org/site", "public"), { ...base, allowPublicRepos: true }, true],
    ["an internal repository", job(["modal"], "octo-org/tool", "internal"), base, true],
    ["a denied repository", job(["modal"]), { ...base, deniedRepositories: ["octo-org/app"] }, false],
    ["a repository of a denied owner", job(["modal"]), { ...base, deniedRepositories: ["octo-org"] }, false],
    ["an allowed owner", job(["modal"]), { ...base, allowedRepositories: ["OCTO-ORG"] }, true],
    ["an allowed wildcard", job(["modal"], "octo-org/svc-api"), { ...base, allowedRepositories: ["octo-org/svc-*"] }, true],
    ["outside the allow list", job(["modal"], "octo-org/web"), { ...base, allowedRepositories: ["octo-org/svc-*"] }, false],
    ["deny wins over allow", job(["modal"]), { ...base, allowedRepositories: ["octo-org"], deniedRepositories: ["octo-org/app"] }, false],
    [
      "another owner's repository is not matched by a prefix",
      job(["modal"], "octo-organisation/app"),
      { ...base, allowedRepositories: ["octo-org"] },
      false,
    ],
  ])("%s", (_name, candidate, policy, serve) => {
    expect(decideToServe(candidate, policy).ok).toBe(serve);
  });

  test("a refusal by policy says why; a job for other runners is marked as not ours", () => {
    const refused = decideToServe(job(["modal"], "octo-org/site", "public"), base);
    expect(refused).toMatchObject({ ok: false, notOurs: false, reason: expect.stringContaining("ALLOW_PUBLIC_REPOS") });
    expect(decideToServe(job(["ubuntu-latest"]), base)).toMatchObject({ ok: false, notOurs: true });
  });

  test("the runner gets every label the job asked for, once", () => {
    expect(runnerLabelsFor(job(["self-hosted", "linux", "MODAL", "gpu"]), "modal")).toEqual(["self-hosted", "linux", "MODAL", "gpu"]);
    expect(runnerLabelsFor(job(["self-hosted"]), "modal")).toEqual(["self-hosted", "modal"]);
  });
});
