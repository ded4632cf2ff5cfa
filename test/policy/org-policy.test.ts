// An org's policy file narrows the operator's policy and never widens it.
import { narrowPolicy, refusedPolicy, repositoryAllowed, type EffectivePolicy } from "../../src/policy/org-policy.js";

const operator: EffectivePolicy = {
  repositories: [],
  profiles: ["default", "large", "gpu"],
  caps: { total: 100, perInstallation: 20, perRepository: undefined, perProfile: { gpu: 4 } },
};

test("lists intersect and caps take the lower value", () => {
  const { policy, ignored } = narrowPolicy(operator, {
    repositories: ["app", "svc-*"],
    profiles: ["default", "gpu"],
    caps: { total: 5, perRepository: 2, perProfile: { gpu: 1 } },
  });
  expect(ignored).toEqual([]);
  expect(policy).toEqual({
    repositories: [["app", "svc-*"]],
    profiles: ["default", "gpu"],
    // The org's per-profile cap counts the org's own sandboxes; the operator's still counts everyone's.
    caps: { total: 100, perInstallation: 5, perRepository: 2, perProfile: { gpu: 4 }, perInstallationProfile: { gpu: 1 } },
  });
  expect(repositoryAllowed(policy, "octo-org", "svc-api")).toBe(true);
  expect(repositoryAllowed(policy, "octo-org", "web")).toBe(false);
});

test("attempts to widen are ignored and reported", () => {
  const { policy, ignored } = narrowPolicy(operator, { profiles: ["default", "xl"], caps: { total: 500, perProfile: { gpu: 10 } } });
  expect(policy.profiles).toEqual(["default"]);
  expect(policy.caps).toEqual(operator.caps);
  expect(ignored).toEqual([
    'profile "xl" is not offered',
    "caps.total 500 is above the operator's 20",
    "caps.perProfile.gpu 10 is above the operator's 4",
  ]);
});

test("a repository file narrows the org's further; another owner's names never match", () => {
  const org = narrowPolicy(operator, { repositories: ["app", "web"] }).policy;
  const repo = narrowPolicy(org, { repositories: ["app"], profiles: ["default"] }).policy;
  expect(repositoryAllowed(repo, "octo-org", "app")).toBe(true);
  expect(repositoryAllowed(repo, "octo-org", "web")).toBe(false);
  expect(repo.profiles).toEqual(["default"]);
  expect(repositoryAllowed(narrowPolicy(operator, { repositories: ["other-org/app"] }).policy, "octo-org", "app")).toBe(false);
});

test("a refused policy allows no repository and no profile, and says why", () => {
  const refused = refusedPolicy(operator, "policy file octo-org/.github/.github/modal-runner.yml is invalid");
  expect(repositoryAllowed(refused, "octo-org", "app")).toBe(false);
  expect(refused.profiles).toEqual([]);
  expect(refused.refused).toMatch(/is invalid/);
});
