// What an installation token sees of its installation: the repositories it may use.
import type { FakeGitHub } from "../fake-github.js";
import { repositoryObject } from "./shapes.js";
import { anyPermission, type Route } from "./route-kit.js";
import type { InstallationToken } from "./types.js";

export function registerInstallationRoutes(gh: FakeGitHub, route: Route): void {
  // --- Installation
  route("GET", "/installation/repositories", {
    auth: "installation",
    permission: anyPermission,
    fn: (ctx) => {
      const token = ctx.token as InstallationToken;
      const repos = [...gh.reposByName.values()]
        .filter((r) => r.installationId === token.installationId && r.selected && (!token.repositoryIds || token.repositoryIds.has(r.id)))
        .sort((a, b) => a.id - b.id);
      const { page, headers } = gh.paginate(ctx, repos);
      return {
        status: 200,
        headers,
        body: {
          total_count: repos.length,
          repository_selection: gh.installationsById.get(token.installationId)?.repositorySelection ?? "selected",
          repositories: page.map((r) => repositoryObject(gh.urls, r, gh.accountOf(r.owner), gh.createdAt)),
        },
      };
    },
  });
}
