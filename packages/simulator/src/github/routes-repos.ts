// A repository and its files (the App reads policy files such as
// .github/modal-runner.yml), raw or as GitHub's content objects, and directory listings.
import type { FakeGitHub } from "../fake-github.js";
import { contentFileObject, fullRepositoryObject } from "./shapes.js";
import { anyPermission, contentsRead, HttpError, lc, type Route } from "./route-kit.js";

export function registerRepositoryRoutes(gh: FakeGitHub, route: Route): void {
  // --- Repositories
  route("GET", "/repos/{owner}/{repo}", {
    auth: "installation",
    permission: anyPermission,
    fn: (ctx) => {
      const r = gh.repoOf(ctx.params.owner as string, ctx.params.repo as string);
      return { status: 200, body: fullRepositoryObject(gh.urls, r, gh.accountOf(r.owner), gh.createdAt) };
    },
  });

  route("GET", "/repos/{owner}/{repo}/contents/{path}", {
    auth: "installation",
    permission: contentsRead,
    fn: (ctx) => {
      const r = gh.repoOf(ctx.params.owner as string, ctx.params.repo as string);
      const files = gh.files.get(lc(r.fullName)) ?? new Map<string, string>();
      const path = (ctx.params.path as string).replace(/^\/+|\/+$/g, "");
      const content = files.get(path);
      const raw = /\.raw\b|vnd\.github\.raw/.test(String(ctx.headers.accept ?? ""));
      if (content !== undefined) {
        if (raw) return { status: 200, text: content, contentType: "text/plain; charset=utf-8" };
        return { status: 200, body: contentFileObject(gh.urls, r.owner, r.name, path, content) };
      }
      // a directory: the entries right under it
      const prefix = `${path}/`;
      const entries = new Map<string, Record<string, unknown>>();
      for (const [p, c] of files) {
        if (!p.startsWith(prefix)) continue;
        const rest = p.slice(prefix.length);
        const name = rest.split("/")[0] as string;
        const child = `${prefix}${name}`;
        if (entries.has(child)) continue;
        const obj = contentFileObject(gh.urls, r.owner, r.name, rest.includes("/") ? child : p, rest.includes("/") ? "" : c);
        delete obj.content;
        delete obj.encoding;
        if (rest.includes("/")) {
          obj.type = "dir";
          obj.size = 0;
          obj.download_url = null;
        }
        entries.set(child, obj);
      }
      if (entries.size === 0) throw new HttpError(404, "Not Found");
      return { status: 200, body: [...entries.values()] };
    },
  });
}
