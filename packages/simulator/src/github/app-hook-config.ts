// GET /app/hook/config: the App's webhook settings as GitHub shows them (the secret
// masked). By default what a well configured App has; tests break it with setHookConfig.
import type { Register, RouteHost } from "./route-host.js";

export interface HookConfig {
  url: string;
  content_type: string;
  /** GitHub shows a set secret as "********" and omits an unset one. */
  secret?: string;
  insecure_ssl: string;
}

const configs = new WeakMap<RouteHost, Partial<HookConfig> & { secret?: string | undefined }>();

export function setHookConfig(fake: RouteHost, config: Partial<HookConfig> & { secret?: string | undefined }): void {
  configs.set(fake, { ...configs.get(fake), ...config });
}

export function registerAppHookConfig(fake: RouteHost, route: Register): void {
  route("GET", "/app/hook/config", {
    auth: "app",
    fn: () => {
      const config: HookConfig = {
        url: fake.webhookUrl ?? "https://runners.example.com/api/github/webhooks",
        content_type: "json",
        secret: "********",
        insecure_ssl: "0",
        ...configs.get(fake),
      };
      if (config.secret === undefined) delete config.secret;
      return { status: 200, body: config };
    },
  });
}
