// GitHub-shaped JSON objects built from the fake's state. Every object here is checked
// against GitHub's OpenAPI response schemas whenever the fake serves it.
import crypto from "node:crypto";
import type { Account, FakeInstallation, FakeJob, FakeRepository, FakeRunner, FakeRunnerGroup, WorkflowRun } from "./types.js";

export interface Urls {
  /** REST base, e.g. http://127.0.0.1:1234/api/v3 */
  api: string;
  /** web base, e.g. http://127.0.0.1:1234 */
  web: string;
}

/** GitHub prints timestamps without milliseconds. */
export function iso(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

export function nodeId(prefix: string, id: number | string): string {
  return `${prefix}_${Buffer.from(String(id)).toString("base64url")}`;
}

export function randomHex(bytes: number): string {
  return crypto.randomBytes(bytes).toString("hex");
}

const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
export function randomAlnum(length: number): string {
  const bytes = crypto.randomBytes(length);
  let out = "";
  for (const b of bytes) out += ALNUM[b % ALNUM.length];
  return out;
}

export function userObject(urls: Urls, account: Account): Record<string, unknown> {
  const u = `${urls.api}/users/${account.login}`;
  return {
    login: account.login,
    id: account.id,
    node_id: nodeId(account.type === "Organization" ? "O" : "U", account.id),
    avatar_url: `${urls.web}/avatars/u/${account.id}?v=4`,
    gravatar_id: "",
    url: u,
    html_url: `${urls.web}/${account.login}`,
    followers_url: `${u}/followers`,
    following_url: `${u}/following{/other_user}`,
    gists_url: `${u}/gists{/gist_id}`,
    starred_url: `${u}/starred{/owner}{/repo}`,
    subscriptions_url: `${u}/subscriptions`,
    organizations_url: `${u}/orgs`,
    repos_url: `${u}/repos`,
    events_url: `${u}/events{/privacy}`,
    received_events_url: `${u}/received_events`,
    type: account.type,
    user_view_type: "public",
    site_admin: false,
  };
}

/** The `organization` object of a webhook payload. */
export function organizationObject(urls: Urls, account: Account): Record<string, unknown> {
  const o = `${urls.api}/orgs/${account.login}`;
  return {
    login: account.login,
    id: account.id,
    node_id: nodeId("O", account.id),
    url: o,
    repos_url: `${o}/repos`,
    events_url: `${o}/events`,
    hooks_url: `${o}/hooks`,
    issues_url: `${o}/issues`,
    members_url: `${o}/members{/member}`,
    public_members_url: `${o}/public_members{/member}`,
    avatar_url: `${urls.web}/avatars/u/${account.id}?v=4`,
    description: "",
  };
}

/** A full repository object (a superset of GitHub's "repository" and "minimal-repository"). */
export function repositoryObject(urls: Urls, repo: FakeRepository, owner: Account, createdAt: Date): Record<string, unknown> {
  const r = `${urls.api}/repos/${repo.owner}/${repo.name}`;
  const html = `${urls.web}/${repo.owner}/${repo.name}`;
  const host = new URL(urls.web).host;
  return {
    id: repo.id,
    node_id: nodeId("R", repo.id),
    name: repo.name,
    full_name: repo.fullName,
    private: repo.private,
    owner: userObject(urls, owner),
    html_url: html,
    description: null,
    fork: false,
    url: r,
    forks_url: `${r}/forks`,
    keys_url: `${r}/keys{/key_id}`,
    collaborators_url: `${r}/collaborators{/collaborator}`,
    teams_url: `${r}/teams`,
    hooks_url: `${r}/hooks`,
    issue_events_url: `${r}/issues/events{/number}`,
    events_url: `${r}/events`,
    assignees_url: `${r}/assignees{/user}`,
    branches_url: `${r}/branches{/branch}`,
    tags_url: `${r}/tags`,
    blobs_url: `${r}/git/blobs{/sha}`,
    git_tags_url: `${r}/git/tags{/sha}`,
    git_refs_url: `${r}/git/refs{/sha}`,
    trees_url: `${r}/git/trees{/sha}`,
    statuses_url: `${r}/statuses/{sha}`,
    languages_url: `${r}/languages`,
    stargazers_url: `${r}/stargazers`,
    contributors_url: `${r}/contributors`,
    subscribers_url: `${r}/subscribers`,
    subscription_url: `${r}/subscription`,
    commits_url: `${r}/commits{/sha}`,
    git_commits_url: `${r}/git/commits{/sha}`,
    comments_url: `${r}/comments{/number}`,
    issue_comment_url: `${r}/issues/comments{/number}`,
    contents_url: `${r}/contents/{+path}`,
    compare_url: `${r}/compare/{base}...{head}`,
    merges_url: `${r}/merges`,
    archive_url: `${r}/{archive_format}{/ref}`,
    downloads_url: `${r}/downloads`,
    issues_url: `${r}/issues{/number}`,
    pulls_url: `${r}/pulls{/number}`,
    milestones_url: `${r}/milestones{/number}`,
    notifications_url: `${r}/notifications{?since,all,participating}`,
    labels_url: `${r}/labels{/name}`,
    releases_url: `${r}/releases{/id}`,
    deployments_url: `${r}/deployments`,
    created_at: iso(createdAt),
    updated_at: iso(createdAt),
    pushed_at: iso(createdAt),
    git_url: `git://${host}/${repo.fullName}.git`,
    ssh_url: `git@${host}:${repo.fullName}.git`,
    clone_url: `${html}.git`,
    svn_url: html,
    homepage: null,
    size: 0,
    stargazers_count: 0,
    watchers_count: 0,
    language: null,
    has_issues: true,
    has_projects: true,
    has_downloads: true,
    has_wiki: true,
    has_pages: false,
    has_discussions: false,
    forks_count: 0,
    mirror_url: null,
    archived: false,
    disabled: false,
    open_issues_count: 0,
    license: null,
    allow_forking: true,
    is_template: false,
    web_commit_signoff_required: false,
    topics: [],
    visibility: repo.visibility,
    forks: 0,
    open_issues: 0,
    watchers: 0,
    default_branch: "main",
    custom_properties: {},
  };
}

/** GET /repos/{owner}/{repo} adds a few counters to the repository object. */
export function fullRepositoryObject(urls: Urls, repo: FakeRepository, owner: Account, createdAt: Date): Record<string, unknown> {
  const base = repositoryObject(urls, repo, owner, createdAt);
  const out: Record<string, unknown> = {
    ...base,
    network_count: 0,
    subscribers_count: 0,
    permissions: { admin: false, maintain: false, push: false, triage: false, pull: true },
  };
  if (owner.type === "Organization") out.organization = userObject(urls, owner);
  return out;
}

export function jobSteps(job: FakeJob): Record<string, unknown>[] {
  if (job.status === "queued" || job.status === "waiting") return [];
  const started = iso(job.startedAt ?? job.createdAt);
  if (job.status === "in_progress") {
    return [{ name: "Set up job", status: "in_progress", conclusion: null, number: 1, started_at: started, completed_at: null }];
  }
  const completed = iso(job.completedAt ?? new Date());
  if (!job.startedAt) return [];
  return [
    { name: "Set up job", status: "completed", conclusion: "success", number: 1, started_at: started, completed_at: started },
    { name: "Complete job", status: "completed", conclusion: job.conclusion, number: 2, started_at: completed, completed_at: completed },
  ];
}

export function jobObject(urls: Urls, job: FakeJob): Record<string, unknown> {
  const r = `${urls.api}/repos/${job.owner}/${job.repo}`;
  return {
    id: job.id,
    run_id: job.runId,
    workflow_name: job.workflowName,
    head_branch: job.headBranch,
    run_url: `${r}/actions/runs/${job.runId}`,
    run_attempt: job.runAttempt,
    node_id: nodeId("CR", job.id),
    head_sha: job.headSha,
    url: `${r}/actions/jobs/${job.id}`,
    html_url: `${urls.web}/${job.owner}/${job.repo}/actions/runs/${job.runId}/job/${job.id}`,
    status: job.status,
    conclusion: job.conclusion,
    created_at: iso(job.createdAt),
    // GitHub reports created_at as started_at until a runner picks the job up
    started_at: iso(job.startedAt ?? job.createdAt),
    completed_at: job.completedAt ? iso(job.completedAt) : null,
    name: job.name,
    steps: jobSteps(job),
    check_run_url: `${r}/check-runs/${job.id}`,
    labels: [...job.labels],
    runner_id: job.runnerId,
    runner_name: job.runnerName,
    runner_group_id: job.runnerGroupId,
    runner_group_name: job.runnerGroupName,
  };
}

export function runStatus(jobs: FakeJob[]): { status: string; conclusion: string | null } {
  if (jobs.length === 0) return { status: "queued", conclusion: null };
  const done = jobs.filter((j) => j.status === "completed");
  const waitingOrQueued = jobs.filter((j) => j.status === "queued" || j.status === "waiting");
  if (done.length === jobs.length) {
    const conclusion = done.some((j) => j.conclusion === "failure")
      ? "failure"
      : done.some((j) => j.conclusion === "cancelled")
        ? "cancelled"
        : "success";
    return { status: "completed", conclusion };
  }
  if (waitingOrQueued.length === jobs.length) return { status: "queued", conclusion: null };
  return { status: "in_progress", conclusion: null };
}

export function runObject(
  urls: Urls,
  run: WorkflowRun,
  jobs: FakeJob[],
  repository: Record<string, unknown>,
  actor: Record<string, unknown>,
): Record<string, unknown> {
  const r = `${urls.api}/repos/${run.owner}/${run.repo}`;
  const { status, conclusion } = runStatus(jobs);
  const started = jobs.map((j) => j.startedAt?.getTime() ?? Infinity).reduce((a, b) => Math.min(a, b), Infinity);
  const updated = jobs
    .flatMap((j) => [j.createdAt, j.startedAt, j.completedAt])
    .reduce<number>((a, d) => (d ? Math.max(a, d.getTime()) : a), run.createdAt.getTime());
  const checkSuiteId = run.id + 1_000_000_000;
  return {
    id: run.id,
    name: run.workflowName,
    node_id: nodeId("WFR", run.id),
    check_suite_id: checkSuiteId,
    check_suite_node_id: nodeId("CS", checkSuiteId),
    head_branch: run.headBranch,
    head_sha: run.headSha,
    path: run.path,
    display_title: `${run.workflowName} #${run.runNumber}`,
    run_number: run.runNumber,
    run_attempt: run.runAttempt,
    referenced_workflows: [],
    event: run.event,
    status,
    conclusion,
    workflow_id: run.workflowId,
    url: `${r}/actions/runs/${run.id}`,
    html_url: `${urls.web}/${run.owner}/${run.repo}/actions/runs/${run.id}`,
    pull_requests: [],
    created_at: iso(run.createdAt),
    updated_at: iso(new Date(updated)),
    actor,
    triggering_actor: actor,
    run_started_at: iso(Number.isFinite(started) ? new Date(started) : run.createdAt),
    jobs_url: `${r}/actions/runs/${run.id}/jobs`,
    logs_url: `${r}/actions/runs/${run.id}/logs`,
    check_suite_url: `${r}/check-suites/${checkSuiteId}`,
    artifacts_url: `${r}/actions/runs/${run.id}/artifacts`,
    cancel_url: `${r}/actions/runs/${run.id}/cancel`,
    rerun_url: `${r}/actions/runs/${run.id}/rerun`,
    previous_attempt_url: null,
    workflow_url: `${r}/actions/workflows/${run.workflowId}`,
    head_commit: {
      id: run.headSha,
      tree_id: run.headSha.split("").reverse().join(""),
      message: `Commit for ${run.workflowName} #${run.runNumber}`,
      timestamp: iso(run.createdAt),
      author: { name: "Fake Author", email: "author@example.com" },
      committer: { name: "Fake Author", email: "author@example.com" },
    },
    repository,
    head_repository: repository,
  };
}

export function runnerObject(runner: FakeRunner, labelId: (name: string) => number): Record<string, unknown> {
  return {
    id: runner.id,
    runner_group_id: runner.runnerGroupId,
    name: runner.name,
    os: runner.os,
    status: runner.status,
    busy: runner.busy,
    ephemeral: runner.ephemeral,
    labels: runner.labels.map((name) => ({
      id: labelId(name),
      name,
      type: ["self-hosted", "linux", "x64", "arm64", "windows", "macos"].includes(name.toLowerCase()) ? "read-only" : "custom",
    })),
  };
}

export function runnerGroupObject(urls: Urls, org: string, group: FakeRunnerGroup): Record<string, unknown> {
  const g = `${urls.api}/orgs/${org}/actions/runner-groups/${group.id}`;
  const out: Record<string, unknown> = {
    id: group.id,
    name: group.name,
    visibility: group.visibility,
    default: group.default,
    runners_url: `${g}/runners`,
    hosted_runners_url: `${g}/hosted-runners`,
    inherited: false,
    allows_public_repositories: group.allowsPublicRepositories,
    restricted_to_workflows: false,
    selected_workflows: [],
    workflow_restrictions_read_only: false,
  };
  if (group.visibility === "selected") out.selected_repositories_url = `${g}/repositories`;
  return out;
}

export function installationObject(
  urls: Urls,
  inst: FakeInstallation,
  appId: number,
  appSlug: string,
  createdAt: Date,
): Record<string, unknown> {
  const account: Account = inst.account;
  return {
    id: inst.id,
    account: userObject(urls, account),
    repository_selection: inst.repositorySelection,
    access_tokens_url: `${urls.api}/app/installations/${inst.id}/access_tokens`,
    repositories_url: `${urls.api}/installation/repositories`,
    html_url:
      account.type === "Organization"
        ? `${urls.web}/organizations/${account.login}/settings/installations/${inst.id}`
        : `${urls.web}/settings/installations/${inst.id}`,
    app_id: appId,
    app_slug: appSlug,
    target_id: account.id,
    target_type: account.type,
    permissions: { ...inst.permissions },
    events: ["workflow_job"],
    created_at: iso(createdAt),
    updated_at: iso(createdAt),
    single_file_name: null,
    has_multiple_single_files: false,
    single_file_paths: [],
    suspended_by: inst.suspendedAt ? userObject(urls, account) : null,
    suspended_at: inst.suspendedAt ? iso(inst.suspendedAt) : null,
  };
}

export function appObject(urls: Urls, appId: number, slug: string, owner: Account, createdAt: Date): Record<string, unknown> {
  return {
    id: appId,
    slug,
    node_id: nodeId("A", appId),
    client_id: `Iv1.${appId.toString(16).padStart(16, "0")}`,
    owner: userObject(urls, owner),
    name: "Fake Modal Runners",
    description: "A GitHub App served by the fake GitHub",
    external_url: `${urls.web}/apps/${slug}`,
    html_url: `${urls.web}/apps/${slug}`,
    created_at: iso(createdAt),
    updated_at: iso(createdAt),
    permissions: { actions: "read", administration: "write", organization_self_hosted_runners: "write", metadata: "read" },
    events: ["workflow_job"],
    installations_count: 0,
  };
}

/** The largest file the contents API answers with its content inline (GitHub's docs: 1 MB). */
const CONTENTS_API_MAX_INLINE_BYTES = 1024 * 1024;

export function contentFileObject(urls: Urls, owner: string, repo: string, filePath: string, content: string): Record<string, unknown> {
  const raw = Buffer.from(content, "utf8");
  const sha = crypto.createHash("sha1").update(`blob ${raw.length}\0`).update(raw).digest("hex");
  const encodedPath = filePath.split("/").map(encodeURIComponent).join("/");
  const self = `${urls.api}/repos/${owner}/${repo}/contents/${encodedPath}?ref=main`;
  const html = `${urls.web}/${owner}/${repo}/blob/main/${encodedPath}`;
  const git = `${urls.api}/repos/${owner}/${repo}/git/blobs/${sha}`;
  // GitHub sends no content for a file over 1 MB (up to 100 MB): `content` empty,
  // `encoding` "none"; the raw media type still returns it. Below that it wraps the
  // base64 content at 60 characters.
  const tooLarge = raw.length > CONTENTS_API_MAX_INLINE_BYTES;
  const b64 = tooLarge ? "" : raw.toString("base64").replace(/(.{60})/g, "$1\n");
  return {
    type: "file",
    encoding: tooLarge ? "none" : "base64",
    size: raw.length,
    name: filePath.split("/").pop() ?? filePath,
    path: filePath,
    content: tooLarge || b64.endsWith("\n") ? b64 : `${b64}\n`,
    sha,
    url: self,
    git_url: git,
    html_url: html,
    download_url: `${urls.web}/raw/${owner}/${repo}/main/${encodedPath}`,
    _links: { self, git, html },
  };
}
