// The App's own routes (App JWT): the App, its webhook delivery log and redeliveries,
// where it is installed, and installation tokens with the permissions and
// repositories GitHub lets a token narrow to.
import type { FakeGitHub } from "../fake-github.js";
import { iso, installationObject, randomAlnum, repositoryObject, appObject } from "./shapes.js";
import { can, HttpError, lc, type Permissions, type Reply, type Route } from "./route-kit.js";
import type { FakeInstallation, InstallationToken } from "./types.js";

export function registerAppRoutes(gh: FakeGitHub, route: Route): void {
  // --- App (JWT)
  route("GET", "/app", {
    auth: "app",
    fn: () => ({ status: 200, body: appObject(gh.urls, gh.appId, gh.appSlug, gh.appOwner, gh.createdAt) }),
  });

  route("GET", "/app/hook/deliveries", { auth: "app", fn: (ctx) => gh.hookDeliveries.list(ctx.query, ctx.rawPath) });
  route("GET", "/app/hook/deliveries/{delivery_id}", { auth: "app", fn: (ctx) => gh.hookDeliveries.get(Number(ctx.params.delivery_id)) });
  route("POST", "/app/hook/deliveries/{delivery_id}/attempts", {
    auth: "app",
    fn: (ctx) =>
      gh.hookDeliveries.attempt(
        Number(ctx.params.delivery_id),
        (d) => void gh.deliver(d.event, d.action ?? undefined, d.body, { deliveryId: d.guid, redelivery: true }),
      ),
  });
  route("GET", "/app/installations", {
    auth: "app",
    fn: (ctx) => {
      const all = [...gh.installationsById.values()].sort((a, b) => a.id - b.id);
      const { page, headers } = gh.paginate(ctx, all);
      return { status: 200, body: page.map((i) => installationObject(gh.urls, i, gh.appId, gh.appSlug, gh.createdAt)), headers };
    },
  });

  const installationOf = (pred: (i: FakeInstallation) => boolean): Reply => {
    const inst = [...gh.installationsById.values()].find(pred);
    if (!inst) throw new HttpError(404, "Not Found");
    return { status: 200, body: installationObject(gh.urls, inst, gh.appId, gh.appSlug, gh.createdAt) };
  };
  route("GET", "/orgs/{org}/installation", {
    auth: "app",
    fn: (ctx) => installationOf((i) => i.account.type === "Organization" && lc(i.account.login) === lc(ctx.params.org as string)),
  });
  route("GET", "/users/{username}/installation", {
    auth: "app",
    fn: (ctx) => installationOf((i) => lc(i.account.login) === lc(ctx.params.username as string)),
  });
  route("GET", "/repos/{owner}/{repo}/installation", {
    auth: "app",
    fn: (ctx) => {
      const repo = gh.reposByName.get(lc(`${ctx.params.owner}/${ctx.params.repo}`));
      return installationOf((i) => i.id === repo?.installationId);
    },
  });

  route("GET", "/app/installations/{installation_id}", {
    auth: "app",
    fn: (ctx) => {
      const inst = gh.installationsById.get(Number(ctx.params.installation_id));
      if (!inst) throw new HttpError(404, "Not Found");
      return { status: 200, body: installationObject(gh.urls, inst, gh.appId, gh.appSlug, gh.createdAt) };
    },
  });

  route("POST", "/app/installations/{installation_id}/access_tokens", {
    auth: "app",
    fn: (ctx) => {
      const inst = gh.installationsById.get(Number(ctx.params.installation_id));
      if (!inst) throw new HttpError(404, "Not Found");
      if (inst.suspendedAt) throw new HttpError(403, "This installation has been suspended");
      const body = (ctx.body ?? {}) as { permissions?: Record<string, string>; repositories?: string[]; repository_ids?: number[] };
      let permissions: Permissions = { ...inst.permissions };
      if (body.permissions) {
        permissions = {};
        for (const [name, level] of Object.entries(body.permissions)) {
          if ((level !== "read" && level !== "write") || !can(inst.permissions, name, level)) {
            throw new HttpError(422, "The permissions requested are not granted to this installation.");
          }
          permissions[name] = level;
        }
      }
      const own = [...gh.reposByName.values()].filter((r) => r.installationId === inst.id && r.selected);
      let repositoryIds: Set<number> | undefined;
      if (body.repositories || body.repository_ids) {
        repositoryIds = new Set();
        for (const name of body.repositories ?? []) {
          const r = own.find((x) => lc(x.name) === lc(name) || lc(x.fullName) === lc(name));
          if (!r)
            throw new HttpError(
              422,
              "There is at least one repository that does not exist or is not accessible to the parent installation.",
            );
          repositoryIds.add(r.id);
        }
        for (const id of body.repository_ids ?? []) {
          if (!own.some((x) => x.id === id)) {
            throw new HttpError(
              422,
              "There is at least one repository that does not exist or is not accessible to the parent installation.",
            );
          }
          repositoryIds.add(id);
        }
      }
      const token: InstallationToken = {
        token: `ghs_${randomAlnum(36)}`,
        installationId: inst.id,
        expiresAt: new Date(Date.now() + 3_600_000),
        permissions,
      };
      if (repositoryIds) token.repositoryIds = repositoryIds;
      gh.tokens.set(token.token, token);
      const out: Record<string, unknown> = {
        token: token.token,
        expires_at: iso(token.expiresAt),
        permissions,
        repository_selection: inst.repositorySelection,
      };
      if (repositoryIds) {
        out.repositories = own
          .filter((r) => repositoryIds.has(r.id))
          .map((r) => repositoryObject(gh.urls, r, gh.accountOf(r.owner), gh.createdAt));
      }
      return { status: 201, body: out };
    },
  });
}
