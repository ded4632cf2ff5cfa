// The GitHub App manifest the setup page posts to GitHub: app.yml (permissions,
// events, description) plus what only the running setup knows: the name the user
// chose, where GitHub must send webhooks, and where it sends the user back.
// https://docs.github.com/apps/sharing-github-apps/registering-a-github-app-from-a-manifest
import { readTextIfPresent } from "../lib/read-text-file.js";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";

export type AppYml = Record<string, unknown> & { name?: string };

export function readAppYml(cwd: string): AppYml {
  // A deployment started from another directory still has the App's own app.yml.
  for (const dir of [cwd, fileURLToPath(new URL("../..", import.meta.url))]) {
    const text = readTextIfPresent(path.join(dir, "app.yml"));
    if (text !== undefined) return (parse(text) ?? {}) as AppYml;
  }
  return {};
}

export interface ManifestChoices {
  name: string;
  /** Where GitHub delivers webhooks: the smee channel, or the App's public webhook path. */
  webhookUrl: string;
  /** Our callback, which receives `?code=` after the App is created. */
  redirectUrl: string;
  /** The App's homepage: its own page on GitHub (from the chosen name), not app.yml's. */
  homepageUrl: string;
}

export function appManifest(appYml: AppYml, choices: ManifestChoices): Record<string, unknown> {
  return {
    ...appYml,
    name: choices.name,
    url: choices.homepageUrl,
    public: appYml.public ?? false,
    hook_attributes: { url: choices.webhookUrl, active: true },
    redirect_url: choices.redirectUrl,
  };
}
