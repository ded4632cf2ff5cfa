// POST /app-manifests/{code}/conversions: the last step of GitHub's manifest flow.
// The fake "creates" its own App: the credentials it returns are the fake's appId,
// private key and webhook secret, so an App configured from them works against it.
import { randomBytes } from "node:crypto";
import { appObject } from "./shapes.js";
import type { Register, RouteHost } from "./route-host.js";

const codes = new WeakMap<RouteHost, Set<string>>();

/** A code as GitHub puts it in the redirect after the user created the App; valid once. */
export function manifestCode(fake: RouteHost): string {
  const code = randomBytes(10).toString("hex");
  if (!codes.has(fake)) codes.set(fake, new Set());
  codes.get(fake)!.add(code);
  return code;
}

export function registerAppManifestConversions(fake: RouteHost, route: Register): void {
  route("POST", "/app-manifests/{code}/conversions", {
    auth: "none",
    fn: ({ params }) => {
      const known = codes.get(fake);
      if (!known?.delete(params.code!))
        return { status: 404, body: { message: "Not Found", documentation_url: "https://docs.github.com/rest", status: "404" } };
      const urls = { api: fake.baseUrl, web: `http://${fake.host}` };
      const app = appObject(
        urls,
        fake.appId,
        fake.appSlug,
        { login: "fake-app-owner", id: 583_232, type: "Organization" },
        new Date(Date.now() - 1000),
      );
      return {
        status: 201,
        body: { ...app, client_secret: randomBytes(20).toString("hex"), webhook_secret: fake.webhookSecret, pem: fake.privateKey },
      };
    },
  });
}
