// GitHub-side checks of the doctor: the App's identity (JWT), its webhook settings,
// and recent failed deliveries. Each failure names the setting or page to fix.
import { describeFailure } from "../lib/errors.js";
import type { AppOctokit } from "../github/create-octokit-class.js";
import type { Settings } from "../settings/load-settings.js";
import { fail, ok, warn, type CheckResult } from "./check-result.js";

export async function checkAppIdentity(app: AppOctokit, settings: Settings): Promise<{ result: CheckResult; htmlUrl?: string }> {
  try {
    const { data } = await app.request("GET /app");
    return {
      result: ok("GitHub App", `${data?.slug ?? data?.name} (id ${data?.id}) at ${settings.github.baseUrl}`),
      htmlUrl: data?.html_url,
    };
  } catch (error) {
    const status = (error as { status?: number }).status;
    if (status === 401)
      return {
        result: fail(
          "GitHub App",
          `GitHub refused the App's JWT (401) for APP_ID ${settings.github.appId}`,
          "APP_ID and PRIVATE_KEY must come from the same App (App settings → General: App ID, Private keys)",
        ),
      };
    return {
      result: fail(
        "GitHub App",
        `cannot read the App at ${settings.github.baseUrl}: ${describeFailure(error).reason}`,
        "check GHE_HOST/GHE_PROTOCOL and the network path to GitHub",
      ),
    };
  }
}

function localOnly(url: string): boolean {
  try {
    const host = new URL(url).hostname.replace(/^\[|\]$/g, "");
    return host === "localhost" || host.endsWith(".localhost") || host === "::1" || host.startsWith("127.") || host === "0.0.0.0";
  } catch {
    return true;
  }
}

export async function checkWebhookConfig(app: AppOctokit, settings: Settings): Promise<CheckResult[]> {
  const where = "App settings → General → Webhook";
  let config: { url?: string; content_type?: string; secret?: string; insecure_ssl?: string | number };
  try {
    config = (await app.request("GET /app/hook/config")).data;
  } catch (error) {
    return [fail("webhook", `cannot read the App's webhook settings: ${describeFailure(error).reason}`, "fix the GitHub App check first")];
  }
  const results: CheckResult[] = [];
  const url = config.url ?? "";
  if (!url)
    results.push(
      fail(
        "webhook URL",
        "no webhook URL: GitHub sends no events",
        `${where}: set it to https://<this App's host>${settings.github.webhookPath}`,
      ),
    );
  else if (localOnly(url))
    results.push(
      fail(
        "webhook URL",
        `${url} is reachable from this machine only`,
        `${where}: use a public URL, or a smee.io channel in WEBHOOK_PROXY_URL for development`,
      ),
    );
  else if (settings.github.webhookProxyUrl && url !== settings.github.webhookProxyUrl)
    results.push(
      warn(
        "webhook URL",
        `${url}, but WEBHOOK_PROXY_URL forwards ${settings.github.webhookProxyUrl}`,
        `${where}: set the URL to the WEBHOOK_PROXY_URL channel, or unset WEBHOOK_PROXY_URL`,
      ),
    );
  else results.push(ok("webhook URL", url));
  if (config.content_type !== "json")
    results.push(
      fail(
        "webhook content type",
        `${config.content_type ?? "form"}: the App reads JSON payloads only`,
        `${where}: Content type application/json`,
      ),
    );
  else results.push(ok("webhook content type", "json"));
  if (!config.secret)
    results.push(
      fail(
        "webhook secret",
        "no secret: the App refuses every delivery (it cannot check the signature)",
        `${where}: set a secret and the same value in WEBHOOK_SECRET`,
      ),
    );
  else results.push(ok("webhook secret", "set (compare it with WEBHOOK_SECRET if deliveries fail with 400)"));
  if (String(config.insecure_ssl ?? "0") !== "0")
    results.push(warn("webhook TLS", "SSL verification is off", `${where}: enable SSL verification`));
  return results;
}

/** Failed deliveries of the last day, newest first (GitHub keeps a few days). */
export async function checkRecentDeliveries(app: AppOctokit, now: number): Promise<CheckResult> {
  try {
    const { data } = await app.request("GET /app/hook/deliveries", { per_page: 100 });
    const recent = data.filter((delivery) => now - Date.parse(delivery.delivered_at) < 86_400_000);
    const failed = recent.filter((delivery) => delivery.status_code < 200 || delivery.status_code >= 300);
    if (failed.length === 0) return ok("webhook deliveries", `${recent.length} in the last 24 h, none failed`);
    const codes = [...new Set(failed.map((delivery) => delivery.status_code))].join(", ");
    return warn(
      "webhook deliveries",
      `${failed.length} of ${recent.length} in the last 24 h failed (status ${codes})`,
      "App settings → Advanced → Recent Deliveries shows why; 400/401 usually means WEBHOOK_SECRET differs, 0/5xx that the App was unreachable (the reconciler serves jobs it missed)",
    );
  } catch (error) {
    return warn(
      "webhook deliveries",
      `cannot read the delivery log: ${describeFailure(error).reason}`,
      "none needed for serving jobs; check the App's Recent Deliveries page by hand",
    );
  }
}
