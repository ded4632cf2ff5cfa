// Counting sandboxes against the caps.
import { Capacity, placementOf } from "../../src/dispatch/capacity.js";
import type { Caps } from "../../src/model/runner-profile.js";

const none: Caps = { total: undefined, perInstallation: undefined, perRepository: undefined, perProfile: {} };
const at = (repository: string, profile = "default", installationId = 1) => ({ installationId, repository, profile });

test.each([
  ["total", { ...none, total: 2 }, [at("o/a"), at("o/b")], at("o/c")],
  ["per installation", { ...none, perInstallation: 1 }, [at("o/a")], at("o/b")],
  ["per repository", { ...none, perRepository: 1 }, [at("o/a")], at("o/a")],
  ["per profile", { ...none, perProfile: { gpu: 1 } }, [at("o/a", "gpu")], at("o/b", "gpu")],
])("the %s cap holds, counting reservations too", (cap, caps, before, next) => {
  const capacity = new Capacity();
  before.forEach((placement, index) => expect(capacity.reserve(index, placement, caps).ok).toBe(true));
  expect(capacity.reserve(99, next, caps)).toEqual({ ok: false, reason: expect.stringContaining(cap), cap: expect.stringContaining(cap) });
  capacity.release(0);
  expect(capacity.reserve(99, next, caps).ok).toBe(true);
});

test("other installations, repositories and profiles are not held back", () => {
  const capacity = new Capacity();
  const caps = { ...none, perInstallation: 1, perRepository: 1, perProfile: { gpu: 1 } };
  expect(capacity.reserve(1, at("o/a", "gpu", 1), caps).ok).toBe(true);
  expect(capacity.reserve(2, at("p/a", "default", 2), caps).ok).toBe(true);
});

test("a fresh list from Modal replaces the count, keeping what this replica started after it was taken", () => {
  let now = 1000;
  const capacity = new Capacity(() => now);
  const caps = { ...none, total: 2 };
  capacity.reserve(1, at("o/a"), caps);
  capacity.started(1, "modal-1-0"); // at 1000
  // A list taken at 1500 without modal-1-0: it has ended since.
  capacity.observe([{ name: "modal-7-0", ...at("o/x") }], 1500);
  expect(capacity.reserve(2, at("o/b"), caps).ok).toBe(true);
  capacity.started(2, "modal-2-0"); // at 1000 too; now two run
  now = 3000;
  capacity.reserve(3, at("o/c"), { ...none });
  capacity.started(3, "modal-3-0"); // at 3000
  // A list taken at 2500 cannot know modal-3-0 yet: it is kept.
  capacity.observe([{ name: "modal-7-0", ...at("o/x") }], 2500);
  expect(capacity.reserve(4, at("o/d"), caps)).toEqual({ ok: false, reason: "total (2/2)", cap: "total" });
  capacity.ended("modal-3-0", at("o/c").installationId);
  expect(capacity.reserve(4, at("o/d"), caps).ok).toBe(true);
});

test("only the sandbox's own installation, about a repository of its account, frees its slot", () => {
  const capacity = new Capacity();
  const caps = { ...none, total: 1 };
  capacity.reserve(1, at("octo-org/app", "default", 1), caps);
  capacity.started(1, "modal-1-0");
  // Runner names are unique per org only: another org's runner may carry the same name.
  capacity.ended("modal-1-0", 2);
  capacity.ended("modal-1-0", 1, "evil-org/tools");
  expect(capacity.reserve(2, at("octo-org/web"), caps)).toEqual({ ok: false, reason: "total (1/1)", cap: "total" });
  // An org-level runner may finish a job of another repository of its org.
  capacity.ended("modal-1-0", 1, "octo-org/web");
  expect(capacity.reserve(2, at("octo-org/web"), caps).ok).toBe(true);
});

test("an org's per-profile cap counts only that installation's sandboxes; the operator's counts everyone's", () => {
  const capacity = new Capacity();
  const orgCaps = { ...none, perInstallationProfile: { gpu: 1 } };
  // Another org's gpu sandboxes, listed by a pass and started here.
  capacity.observe([{ name: "modal-1-0", installationId: 2, repository: "other-org/api", profile: "gpu" }], 0);
  expect(capacity.reserve(2, at("other-org/api", "gpu", 2), none).ok).toBe(true);
  expect(capacity.reserve(3, at("octo-org/app", "gpu", 1), orgCaps).ok).toBe(true);
  expect(capacity.reserve(4, at("octo-org/web", "gpu", 1), orgCaps)).toEqual({
    ok: false,
    reason: "per profile gpu in this installation (1/1)",
    cap: "per profile gpu in this installation",
  });
  expect(capacity.reserve(4, at("octo-org/web", "default", 1), orgCaps).ok).toBe(true);
  // The operator's maxSandboxes still counts every installation's.
  expect(capacity.reserve(5, at("octo-org/web", "gpu", 1), { ...none, perProfile: { gpu: 3 } })).toEqual({
    ok: false,
    reason: "per profile gpu (3/3)",
    cap: "per profile gpu",
  });
});

test.each([
  ["a tagged sandbox", { name: "s", installationId: 4, repository: "Octo-Org/App", profile: "gpu" }, at("octo-org/app", "gpu", 4)],
  [
    "a sandbox without tags counts toward the total only",
    { name: "s", installationId: undefined, repository: undefined, profile: undefined },
    at("", "", 0),
  ],
])("placementOf: %s", (_case, listed, expected) => {
  expect(placementOf(listed)).toEqual(expected);
});
