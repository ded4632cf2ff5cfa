// Repository releases: `GET /repos/{owner}/{repo}/releases/latest`, which the App reads
// for actions/runner to know whether the runner in its images is current. Public on
// GitHub (no token needed, any token accepted).
import type { FakeGitHub } from "../fake-github.js";
import { HttpError, lc, type Route } from "./route-kit.js";
import { iso, nodeId, userObject, type Urls } from "./shapes.js";

export interface FakeRelease {
  id: number;
  owner: string;
  repo: string;
  tagName: string;
  publishedAt: Date;
  body: string;
  /** Files attached to the release, with their SHA-256 ("sha256:…"), as GitHub lists them. */
  assets: Array<{ name: string; digest: string | null; size: number }>;
}

export function releaseObject(urls: Urls, release: FakeRelease): Record<string, unknown> {
  const base = `${urls.api}/repos/${release.owner}/${release.repo}/releases/${release.id}`;
  const web = `https://github.com/${release.owner}/${release.repo}`;
  const author = userObject(urls, { login: "github-actions", id: 41_898_282, type: "User" });
  return {
    url: base,
    html_url: `${web}/releases/tag/${release.tagName}`,
    assets_url: `${base}/assets`,
    upload_url: `${urls.api}/repos/${release.owner}/${release.repo}/releases/${release.id}/assets{?name,label}`,
    tarball_url: `${urls.api}/repos/${release.owner}/${release.repo}/tarball/${release.tagName}`,
    zipball_url: `${urls.api}/repos/${release.owner}/${release.repo}/zipball/${release.tagName}`,
    id: release.id,
    node_id: nodeId("RE", release.id),
    tag_name: release.tagName,
    target_commitish: "main",
    name: release.tagName,
    body: release.body,
    draft: false,
    prerelease: false,
    immutable: false,
    created_at: iso(release.publishedAt),
    published_at: iso(release.publishedAt),
    updated_at: iso(release.publishedAt),
    author,
    assets: release.assets.map((asset, index) => ({
      url: `${base}/assets/${release.id * 100 + index}`,
      browser_download_url: `${web}/releases/download/${release.tagName}/${asset.name}`,
      id: release.id * 100 + index,
      node_id: nodeId("RA", release.id * 100 + index),
      name: asset.name,
      label: "",
      state: "uploaded",
      content_type: "application/octet-stream",
      size: asset.size,
      digest: asset.digest,
      download_count: 0,
      created_at: iso(release.publishedAt),
      updated_at: iso(release.publishedAt),
      uploader: author,
    })),
  };
}

export function registerReleaseRoutes(gh: FakeGitHub, route: Route): void {
  route("GET", "/repos/{owner}/{repo}/releases/latest", {
    auth: "none",
    fn: (ctx) => {
      const releases = gh.releases.get(lc(`${ctx.params.owner}/${ctx.params.repo}`)) ?? [];
      // GitHub's "latest": the most recently published release (drafts and prereleases aside).
      const latest = [...releases].sort((a, b) => b.publishedAt.getTime() - a.publishedAt.getTime())[0];
      if (!latest) throw new HttpError(404, "Not Found");
      return { status: 200, body: releaseObject(gh.urls, latest) };
    },
  });
}
