// Where the user's browser creates and installs the App: github.com, or the GitHub
// Enterprise Server named by GHE_HOST/GHE_PROTOCOL (the same settings Probot reads).
type Env = Record<string, string | undefined>;

export function githubWebUrl(env: Env): string {
  return env.GHE_HOST ? `${env.GHE_PROTOCOL || "https"}://${env.GHE_HOST}` : "https://github.com";
}

export function githubApiUrl(env: Env): string {
  return env.GHE_HOST ? `${githubWebUrl(env)}/api/v3` : "https://api.github.com";
}

/** The page that creates an App from a manifest, under the user's account or an org. */
export function newAppUrl(env: Env, org: string | undefined, state: string): string {
  const owner = org ? `/organizations/${encodeURIComponent(org)}` : "";
  return `${githubWebUrl(env)}${owner}/settings/apps/new?state=${encodeURIComponent(state)}`;
}

/** GitHub's slug for an App name: lower case, each run of other characters one dash. */
export function appSlug(name: string): string {
  return name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "");
}

/** The App's public page, the manifest's homepage URL: github.com/apps/<slug>, or the Enterprise Server's github-apps/<slug>. */
export function appHomepageUrl(env: Env, name: string): string {
  return env.GHE_HOST ? `${githubWebUrl(env)}/github-apps/${appSlug(name)}` : `https://github.com/apps/${appSlug(name)}`;
}
