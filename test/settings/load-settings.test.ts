import { createPrivateKey } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { appKey } from "@modal-github-runner/simulator/github/app-key";
import { loadSettings, SettingsError } from "../../src/settings/load-settings.js";

// A real RSA key, in PKCS#8 this time (the simulator's cached key: generating one costs a few hundred ms).
const privateKey = createPrivateKey((await appKey()).privateKey).export({ type: "pkcs8", format: "pem" }) as string;

const complete = {
  APP_ID: "12345",
  PRIVATE_KEY: privateKey,
  WEBHOOK_SECRET: "a-webhook-secret-value",
  MODAL_TOKEN_ID: "ak-123",
  MODAL_TOKEN_SECRET: "as-very-secret-modal-token",
  MODAL_CONFIG_PATH: "/nonexistent/modal.toml",
};

function problems(env: Record<string, string>): string[] {
  try {
    loadSettings(env);
  } catch (error) {
    if (error instanceof SettingsError) return error.lines;
    throw error;
  }
  return [];
}

describe("settings", () => {
  test("defaults fill in everything an operator may leave out", () => {
    const settings = loadSettings(complete);
    expect(settings.github).toMatchObject({ appId: 12345, baseUrl: "https://api.github.com", webhookPath: "/api/github/webhooks" });
    expect(settings.runner).toMatchObject({ label: "modal", namePrefix: "modal", scope: "auto", group: "Default", workFolder: "_work" });
    expect(settings.modal).toMatchObject({ appName: "github-actions-runners", callAttempts: 5 });
    // Without RUNNER_CONFIG, one default profile from the SANDBOX_* settings and the runner Dockerfile.
    expect(settings.runner.config.profiles).toEqual([
      expect.objectContaining({
        name: "default",
        labels: ["modal"],
        cpu: 2,
        memoryMiB: 4096,
        timeoutMs: 6 * 3600_000,
        gpu: undefined,
        network: { egress: "open" },
      }),
    ]);
    expect(settings.runner.config.profiles[0]!.image.baseImage).toMatch(/^ghcr\.io\/actions\/actions-runner:/);
    // Default caps: one org can take at most half the fleet (CAP_PER_INSTALLATION, CAP_TOTAL).
    expect(settings.runner.config.caps).toEqual({ total: 512, perInstallation: 256, perRepository: undefined, perProfile: {} });
    expect(settings.policy).toEqual({ allowPublicRepos: false, allowedRepositories: [], deniedRepositories: [] });
  });

  test("GitHub Enterprise Server settings change the API base URL", () => {
    const settings = loadSettings({ ...complete, GHE_HOST: "127.0.0.1:8080", GHE_PROTOCOL: "http" });
    expect(settings.github.baseUrl).toBe("http://127.0.0.1:8080/api/v3");
  });

  test("operator settings are parsed", () => {
    const settings = loadSettings({
      ...complete,
      RUNNER_GROUP: "42",
      SANDBOX_TIMEOUT: "90m",
      SANDBOX_CPU: "0.5",
      ALLOW_PUBLIC_REPOS: "yes",
      ALLOWED_REPOSITORIES: "octo-org, other/app ",
      MODAL_CALL_ATTEMPTS: "2",
    });
    expect(settings.runner.group).toBe(42);
    expect(settings.modal.callAttempts).toBe(2);
    expect(settings.runner.config.profiles[0]).toMatchObject({ timeoutMs: 90 * 60_000, cpu: 0.5 });
    expect(settings.policy).toEqual({ allowPublicRepos: true, allowedRepositories: ["octo-org", "other/app"], deniedRepositories: [] });
  });

  test("a Modal token may come from a config file profile", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "modal-config-"));
    const file = path.join(dir, "modal.toml");
    writeFileSync(file, '[default]\ntoken_id = "ak-1"\ntoken_secret = "as-2"\nactive = true\n');
    const { MODAL_TOKEN_ID: _id, MODAL_TOKEN_SECRET: _secret, ...withoutToken } = complete;
    expect(problems({ ...withoutToken, MODAL_CONFIG_PATH: file })).toEqual([]);
  });

  test.each([
    ["APP_ID", { APP_ID: "" }, /^APP_ID is required/],
    ["APP_ID", { APP_ID: "abc" }, /^APP_ID: .*got "abc"/],
    ["WEBHOOK_SECRET", { WEBHOOK_SECRET: "" }, /^WEBHOOK_SECRET is required/],
    ["PRIVATE_KEY", { PRIVATE_KEY: "" }, /^PRIVATE_KEY or PRIVATE_KEY_PATH is required/],
    [
      "PRIVATE_KEY",
      { PRIVATE_KEY: "-----BEGIN RSA PRIVATE KEY-----\nnot a key\n-----END RSA PRIVATE KEY-----" },
      /not a valid PEM private key/,
    ],
    ["PRIVATE_KEY_PATH", { PRIVATE_KEY: "", PRIVATE_KEY_PATH: "/nonexistent/key.pem" }, /PRIVATE_KEY/],
    ["MODAL_TOKEN_SECRET", { MODAL_TOKEN_SECRET: "" }, /^MODAL_TOKEN_SECRET is required when MODAL_TOKEN_ID is set/],
    ["MODAL_TOKEN_ID", { MODAL_TOKEN_ID: "", MODAL_TOKEN_SECRET: "" }, /^MODAL_TOKEN_ID and MODAL_TOKEN_SECRET are required/],
    ["SANDBOX_CPU", { SANDBOX_CPU: "lots" }, /^SANDBOX_CPU: .*got "lots"/],
    ["MODAL_CALL_ATTEMPTS", { MODAL_CALL_ATTEMPTS: "0" }, /^MODAL_CALL_ATTEMPTS: /],
    ["SHUTDOWN_TIMEOUT", { SHUTDOWN_TIMEOUT: "soon" }, /^SHUTDOWN_TIMEOUT: /],
    ["SANDBOX_MEMORY_MIB", { SANDBOX_MEMORY_MIB: "1.5" }, /^SANDBOX_MEMORY_MIB: /],
    [
      "SANDBOX_TIMEOUT",
      { SANDBOX_TIMEOUT: "forever" },
      /^SANDBOX_TIMEOUT: expected a duration such as 90s, 5m, 1h30m, 1d or 500ms \(a bare number counts seconds\) \(got "forever"\)$/,
    ],
    ["IDLE_RUNNER_TIMEOUT", { IDLE_RUNNER_TIMEOUT: "abc" }, /^IDLE_RUNNER_TIMEOUT: expected a duration such as 90s, 5m, 1h30m/],
    ["SANDBOX_MEMORY", { SANDBOX_MEMORY: "8192" }, /^SANDBOX_MEMORY: not a setting of this App; did you mean SANDBOX_MEMORY_MIB\?$/],
    [
      "RECONCILE_INTERVALL",
      { RECONCILE_INTERVALL: "5m" },
      /^RECONCILE_INTERVALL: not a setting of this App; did you mean RECONCILE_INTERVAL\?$/,
    ],
    [
      "DISPATCH_CONCURENCY",
      { DISPATCH_CONCURENCY: "4" },
      /^DISPATCH_CONCURENCY: not a setting of this App; did you mean DISPATCH_CONCURRENCY\?$/,
    ],
    [
      "RUNNER_XYZZY_PLUGH",
      { RUNNER_XYZZY_PLUGH: "1" },
      /^RUNNER_XYZZY_PLUGH: not a setting of this App; see the settings table in the README$/,
    ],
    ["METRICS_PORT", { METRICS_PORT: "99999" }, /^METRICS_PORT: /],
    ["STATUS_TOKEN", { STATUS_TOKEN: "short" }, /^STATUS_TOKEN: at least 16 characters$/],
    ["SANDBOX_TIMEOUT", { SANDBOX_TIMEOUT: "2d" }, /^SANDBOX_TIMEOUT: at most 24h/],
    ["RUNNER_SCOPE", { RUNNER_SCOPE: "enterprise" }, /^RUNNER_SCOPE: .*got "enterprise"/],
    ["RUNNER_LABEL", { RUNNER_LABEL: "a,b" }, /^RUNNER_LABEL: one label/],
    ["ALLOW_PUBLIC_REPOS", { ALLOW_PUBLIC_REPOS: "maybe" }, /^ALLOW_PUBLIC_REPOS: expected true or false/],
    ["MODAL_APP_NAME", { MODAL_APP_NAME: "my app" }, /^MODAL_APP_NAME: only letters/],
    ["RUNNER_DOCKERFILE", { RUNNER_DOCKERFILE: "docker/nope/Dockerfile" }, /^RUNNER_DOCKERFILE: .*does not exist/],
    ["GHE_PROTOCOL", { GHE_PROTOCOL: "ftp" }, /^GHE_PROTOCOL: /],
  ])("a bad %s stops start-up with a message that names it", (_name, change, message) => {
    const found = problems({ ...complete, ...change });
    expect(found).toEqual(expect.arrayContaining([expect.stringMatching(message)]));
  });

  test("durations: units combine, and a bare number counts seconds", () => {
    const settings = loadSettings({ ...complete, SANDBOX_TIMEOUT: "1h30m", IDLE_RUNNER_TIMEOUT: "90", FINISHED_GRACE: "500ms" });
    expect(settings.runner.config.profiles[0]!.timeoutMs).toBe(90 * 60_000);
    expect(settings.reconcile.idleRunnerTimeoutMs).toBe(90_000);
    expect(settings.reconcile.finishedGraceMs).toBe(500);
  });

  test("variables of other software that share a prefix are left alone", () => {
    expect(
      problems({
        ...complete,
        RUNNER_OS: "Linux",
        RUNNER_TEMP: "/tmp",
        MODAL_SANDBOX_V2: "0",
        HOME: "/root",
        RUNNER_SERVICE_HOST: "10.0.0.1",
        RUNNER_PORT: "tcp://10.0.0.1:80",
        METRICS_PORT_9464_TCP_ADDR: "10.0.0.2",
      }),
    ).toEqual([]);
  });

  test("the status page and a separate metrics port are settings", () => {
    const settings = loadSettings({ ...complete, STATUS_TOKEN: "a-status-token-of-16+", METRICS_PORT: "9464" });
    expect(settings.observe).toEqual({ statusToken: "a-status-token-of-16+", metricsPort: 9464 });
    expect(loadSettings(complete).observe).toEqual({ statusToken: undefined, metricsPort: undefined });
  });

  test.each(["reconcile", "doctor"] as const)("`%s` does not ask for the webhook secret, which it never uses", (command) => {
    const { WEBHOOK_SECRET: _secret, ...withoutSecret } = complete;
    expect(() => loadSettings(withoutSecret)).toThrow(/WEBHOOK_SECRET is required/);
    const settings = loadSettings(withoutSecret, process.cwd(), { command });
    expect(settings.github.webhookSecret).toBe("");
    // A value that is set is still checked, and the settings it shares with the server are still required.
    expect(() => loadSettings({ ...withoutSecret, APP_ID: "" }, process.cwd(), { command })).toThrow(/APP_ID is required/);
    expect(() => loadSettings({ ...withoutSecret, PORT: "http" }, process.cwd(), { command })).toThrow(/PORT: /);
  });

  test("the default caps: CAP_* settings change them, the runner config's caps win over both", () => {
    const fromSettings = loadSettings({ ...complete, CAP_TOTAL: "40", CAP_PER_INSTALLATION: "10" });
    expect(fromSettings.runner.config.caps).toMatchObject({ total: 40, perInstallation: 10 });
    const dir = mkdtempSync(path.join(os.tmpdir(), "runner-config-"));
    const file = path.join(dir, "config.yml");
    writeFileSync(file, "caps:\n  perInstallation: 5\nprofiles:\n  a:\n    labels: [modal]\n");
    const fromFile = loadSettings({ ...complete, RUNNER_CONFIG: file, CAP_TOTAL: "40", CAP_PER_INSTALLATION: "10" });
    expect(fromFile.runner.config.caps).toMatchObject({ total: 40, perInstallation: 5 });
    expect(loadSettings({ ...complete, RUNNER_CONFIG: file }).runner.config.caps).toMatchObject({ total: 512, perInstallation: 5 });
  });

  test("settings and runner-config mistakes are reported together, with the file's line", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "runner-config-"));
    const file = path.join(dir, "config.yml");
    writeFileSync(file, "profiles:\n  a:\n    labels: [modal]\n    gpu: A100X\n");
    const found = problems({ ...complete, RUNNER_CONFIG: file, SANDBOX_CPU: "lots" });
    expect(found).toEqual([
      expect.stringMatching(/^SANDBOX_CPU: /),
      expect.stringMatching(new RegExp(`^RUNNER_CONFIG ${file}:4: profiles\\.a\\.gpu: "A100X" is not a Modal GPU type`)),
    ]);
  });

  test("all problems are reported at once, and secrets are never echoed", () => {
    let error: unknown;
    try {
      loadSettings({ ...complete, APP_ID: "x", SANDBOX_CPU: "-1", WEBHOOK_SECRET: "", PRIVATE_KEY: "super-secret-but-broken-key" });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(SettingsError);
    const message = (error as Error).message;
    expect((error as SettingsError).problems.length).toBeGreaterThanOrEqual(4);
    expect(message).not.toContain("super-secret-but-broken-key");
    expect(message).not.toContain("as-very-secret-modal-token");
  });
});

test("a WEBHOOK_SECRET shorter than 16 characters is refused, with how to rotate it; the doctor's settings row says so", async () => {
  const { checkSettings } = await import("../../src/doctor/check-settings.js");
  const env = { ...complete, WEBHOOK_SECRET: "short-secret" };
  expect(() => loadSettings(env)).toThrow(/WEBHOOK_SECRET: must be at least 16 characters; rotate it/);
  expect(() => loadSettings(env)).not.toThrow(/short-secret/);
  const { results } = checkSettings(env, process.cwd());
  expect(results).toEqual([
    expect.objectContaining({ status: "fail", detail: expect.stringContaining("WEBHOOK_SECRET: must be at least 16") }),
  ]);
  expect(() => loadSettings({ ...env, WEBHOOK_SECRET: "sixteen-chars-ok" })).not.toThrow();
});
