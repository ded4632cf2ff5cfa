// Self-hosted runners at org and repository scope: JIT configs (409 on a duplicate
// name), listing, lookup and deletion (422 while busy), and the org's runner groups.
import crypto from "node:crypto";
import type { FakeGitHub } from "../fake-github.js";
import { b64json } from "./jit-config.js";
import { randomAlnum, runnerGroupObject, runnerObject } from "./shapes.js";
import { adminRead, adminWrite, HttpError, lc, orgRunnersRead, orgRunnersWrite, type Ctx, type Reply, type Route } from "./route-kit.js";
import type { FakeInstallation, FakeRunner } from "./types.js";

export function registerRunnerRoutes(gh: FakeGitHub, route: Route): void {
  // --- Self-hosted runners (org and repo scope)
  type Scope = FakeRunner["scope"];
  const scopeOf = (ctx: Ctx): Scope => {
    if (ctx.params.org !== undefined) {
      return { kind: "org", org: (ctx.installation as FakeInstallation).account.login };
    }
    const r = gh.repoOf(ctx.params.owner as string, ctx.params.repo as string);
    return { kind: "repo", owner: r.owner, repo: r.name };
  };
  const sameScope = (a: Scope, b: Scope): boolean =>
    a.kind === "org" && b.kind === "org"
      ? lc(a.org) === lc(b.org)
      : a.kind === "repo" && b.kind === "repo" && lc(a.owner) === lc(b.owner) && lc(a.repo) === lc(b.repo);
  const runnersIn = (scope: Scope): FakeRunner[] =>
    [...gh.runnersById.values()].filter((x) => sameScope(x.scope, scope)).sort((a, b) => a.id - b.id);
  const runnerJson = (x: FakeRunner): Record<string, unknown> => runnerObject(x, (n) => gh.labelId(n));
  const findRunner = (ctx: Ctx): FakeRunner => {
    const runner = gh.runnersById.get(Number(ctx.params.runner_id));
    if (!runner || !sameScope(runner.scope, scopeOf(ctx))) throw new HttpError(404, "Not Found");
    return runner;
  };

  const generateJitConfig = (ctx: Ctx): Reply => {
    const scope = scopeOf(ctx);
    const body = ctx.body as { name: string; runner_group_id: number; labels: string[]; work_folder?: string };
    let groupName = "Default";
    if (scope.kind === "org") {
      const group = gh.groupsOf(scope.org).find((g) => g.id === body.runner_group_id);
      if (!group) throw new HttpError(404, "Not Found");
      groupName = group.name;
    } else if (body.runner_group_id !== 1) {
      throw new HttpError(404, "Not Found");
    }
    if (runnersIn(scope).some((x) => lc(x.name) === lc(body.name))) {
      throw new HttpError(409, `Already exists - A runner with the name ${body.name} already exists.`);
    }
    const labels: string[] = [];
    for (const l of body.labels) if (!labels.some((x) => lc(x) === lc(l))) labels.push(l);
    const id = gh.nextRunnerId++;
    const secret = randomAlnum(40);
    const gitHubUrl = scope.kind === "org" ? `${gh.urls.web}/${scope.org}` : `${gh.urls.web}/${scope.owner}/${scope.repo}`;
    const encoded = b64json({
      ".runner": b64json({
        AgentId: id,
        AgentName: body.name,
        PoolId: body.runner_group_id,
        PoolName: groupName,
        DisableUpdate: false,
        Ephemeral: true,
        ServerUrl: `${gh.urls.web}/_services/pipelines/fake/`,
        GitHubUrl: gitHubUrl,
        WorkFolder: body.work_folder ?? "_work",
      }),
      ".credentials": b64json({
        Scheme: "OAuth",
        Data: { ClientId: crypto.randomUUID(), AuthorizationUrl: `${gh.urls.web}/_services/token/${id}`, RequireFipsCryptography: "False" },
      }),
      ".credentials_rsaparams": b64json({ secret }),
    });
    const runner: FakeRunner = {
      id,
      name: body.name,
      os: "Linux",
      status: "offline",
      busy: false,
      labels,
      runnerGroupId: body.runner_group_id,
      ephemeral: true,
      scope,
      installationId: (ctx.installation as FakeInstallation).id,
      jitConfig: encoded,
    };
    gh.runnersById.set(id, runner);
    gh.jitSecrets.set(id, secret);
    return { status: 201, body: { runner: runnerJson(runner), encoded_jit_config: encoded } };
  };

  const listRunners = (ctx: Ctx): Reply => {
    const all = runnersIn(scopeOf(ctx)).filter((x) => ctx.query.name === undefined || x.name === ctx.query.name);
    const { page, headers } = gh.paginate(ctx, all);
    return { status: 200, headers, body: { total_count: all.length, runners: page.map(runnerJson) } };
  };

  const deleteRunner = (ctx: Ctx): Reply => {
    const runner = findRunner(ctx);
    if (runner.busy) throw new HttpError(422, `Bad request - Runner "${runner.name}" is still running a job".`);
    gh.deleteRunner(runner.id);
    return { status: 204 };
  };

  route("POST", "/orgs/{org}/actions/runners/generate-jitconfig", {
    auth: "installation",
    permission: orgRunnersWrite,
    fn: generateJitConfig,
  });
  route("POST", "/repos/{owner}/{repo}/actions/runners/generate-jitconfig", {
    auth: "installation",
    permission: adminWrite,
    fn: generateJitConfig,
  });
  route("GET", "/orgs/{org}/actions/runners", { auth: "installation", permission: orgRunnersRead, fn: listRunners });
  route("GET", "/repos/{owner}/{repo}/actions/runners", { auth: "installation", permission: adminRead, fn: listRunners });
  route("GET", "/orgs/{org}/actions/runners/{runner_id}", {
    auth: "installation",
    permission: orgRunnersRead,
    fn: (ctx) => ({ status: 200, body: runnerJson(findRunner(ctx)) }),
  });
  route("GET", "/repos/{owner}/{repo}/actions/runners/{runner_id}", {
    auth: "installation",
    permission: adminRead,
    fn: (ctx) => ({ status: 200, body: runnerJson(findRunner(ctx)) }),
  });
  route("DELETE", "/orgs/{org}/actions/runners/{runner_id}", { auth: "installation", permission: orgRunnersWrite, fn: deleteRunner });
  route("DELETE", "/repos/{owner}/{repo}/actions/runners/{runner_id}", { auth: "installation", permission: adminWrite, fn: deleteRunner });

  route("GET", "/orgs/{org}/actions/runner-groups", {
    auth: "installation",
    permission: orgRunnersRead,
    fn: (ctx) => {
      const org = (ctx.installation as FakeInstallation).account.login;
      let groups = [...gh.groupsOf(org)].sort((a, b) => a.id - b.id);
      const visibleTo = ctx.query.visible_to_repository;
      if (visibleTo !== undefined) {
        const full = lc(`${org}/${visibleTo}`);
        groups = groups.filter((g) => g.default || g.visibility === "all" || g.selectedRepositories.has(full));
      }
      const { page, headers } = gh.paginate(ctx, groups);
      return {
        status: 200,
        headers,
        body: { total_count: groups.length, runner_groups: page.map((g) => runnerGroupObject(gh.urls, org, g)) },
      };
    },
  });
}
