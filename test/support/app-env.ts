// The App's environment for tests, and `eventually`: nothing here loads the App's modules,
// so a test that starts the App as a child process pays for none of them (about a second
// of CPU per test file).
import type { FakeGitHub } from "@modal-github-runner/simulator/fake-github";

export const MODAL_TOKEN_SECRET = "as-modal-token-secret-for-tests";
/** The status page and /metrics are served behind this token in tests. */
export const STATUS_TOKEN = "status-token-for-tests";

export function appEnv(github: FakeGitHub, port: number, env: Record<string, string> = {}): Record<string, string> {
  return {
    APP_ID: String(github.appId),
    PRIVATE_KEY: github.privateKey,
    WEBHOOK_SECRET: github.webhookSecret,
    GHE_HOST: github.host,
    GHE_PROTOCOL: "http",
    PORT: String(port),
    HOST: "127.0.0.1",
    MODAL_TOKEN_ID: "ak-test",
    MODAL_TOKEN_SECRET,
    MODAL_CONFIG_PATH: "/nonexistent/modal.toml",
    LOG_LEVEL: "debug",
    STATUS_TOKEN,
    ...env,
  };
}

/** Waits until the condition holds (polling), or fails with the description. */
export async function eventually(condition: () => boolean | Promise<boolean>, description: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${description}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
