// The Actions runner's latest release, read from GitHub's public releases API
// (`GET /repos/actions/runner/releases/latest`) with the App's own client. GitHub
// refuses runners below its minimum version and asks that each new release be
// installed within 30 days; this is how the App learns what "current" means.
// The answer is GitHub's, but it is still parsed with bounds: only a version, a date,
// and the linux-x64 tarball's SHA-256.
import type { AppOctokit } from "./create-octokit-class.js";

export const RUNNER_REPOSITORY = { owner: "actions", repo: "runner" } as const;

export interface RunnerRelease {
  /** "2.334.0" (the tag without its "v"). */
  version: string;
  /** Epoch ms. */
  publishedAt: number;
  htmlUrl: string;
  /** The linux-x64 tarball's URL and SHA-256 (from the asset's digest, else the release notes). */
  linuxX64?: { url: string; sha256: string };
}

const VERSION = /^v?(\d{1,4}\.\d{1,4}\.\d{1,4})$/;
const SHA256 = /^[0-9a-f]{64}$/;

interface RawAsset {
  name?: string;
  browser_download_url?: string;
  digest?: string | null;
}

/** Reads the release GitHub calls latest; throws when the answer is not a runner release. */
export async function readLatestRunnerRelease(octokit: AppOctokit): Promise<RunnerRelease> {
  const { data } = await octokit.request("GET /repos/{owner}/{repo}/releases/latest", RUNNER_REPOSITORY);
  return parseRunnerRelease(data as unknown as Record<string, unknown>);
}

export function parseRunnerRelease(data: Record<string, unknown>): RunnerRelease {
  const tag = typeof data.tag_name === "string" ? data.tag_name.slice(0, 32) : "";
  const version = VERSION.exec(tag)?.[1];
  const publishedAt = Date.parse(typeof data.published_at === "string" ? data.published_at.slice(0, 40) : "");
  if (!version || !Number.isFinite(publishedAt)) throw new Error(`the latest actions/runner release is not a version (tag "${tag}")`);
  const release: RunnerRelease = { version, publishedAt, htmlUrl: String(data.html_url ?? "").slice(0, 200) };
  const tarball = `actions-runner-linux-x64-${version}.tar.gz`;
  const assets = Array.isArray(data.assets) ? (data.assets.slice(0, 100) as RawAsset[]) : [];
  const asset = assets.find((entry) => entry.name === tarball);
  const url = asset?.browser_download_url ?? `https://github.com/actions/runner/releases/download/v${version}/${tarball}`;
  const sha256 = asset?.digest?.replace(/^sha256:/, "") ?? notesSha256(typeof data.body === "string" ? data.body : "");
  if (sha256 && SHA256.test(sha256) && url.startsWith("https://")) release.linuxX64 = { url, sha256 };
  return release;
}

/** actions/runner's release notes carry each tarball's hash between `<!-- BEGIN SHA linux-x64 -->` markers. */
function notesSha256(body: string): string | undefined {
  const start = body.indexOf("<!-- BEGIN SHA linux-x64 -->");
  if (start < 0) return undefined;
  const from = start + "<!-- BEGIN SHA linux-x64 -->".length;
  return body.slice(from, from + 64);
}

/**
 * The releases API is public, but an App's JWT is accepted only on /app endpoints:
 * the App reads it with the token of one of its installations (any will do).
 */
export async function readRunnerReleaseAsApp(github: {
  app(): Promise<AppOctokit>;
  installation(installationId: number): Promise<AppOctokit>;
}): Promise<RunnerRelease> {
  const app = await github.app();
  const { data } = await app.request("GET /app/installations", { per_page: 1 });
  const first = data[0];
  if (!first) throw new Error("the App has no installation yet to read GitHub's runner releases with");
  return readLatestRunnerRelease(await github.installation(first.id));
}
