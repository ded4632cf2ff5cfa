// .env as `npm start` reads and the setup page writes it: what the page writes reads
// back unchanged (a PEM on one line, with literal \n), other lines are kept, the file
// is the owner's only, and a variable already in the environment wins over the file.
// The same file works with `docker run --env-file .env` (DEPLOY.md): read the way
// Docker reads it (one KEY=VALUE a line, the value taken literally), the App's
// settings load from it with the right key and secrets.
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { appKey } from "@modal-github-runner/simulator/github/app-key";
import { loadDotenv } from "../../src/setup/load-dotenv.js";
import { updateDotenv } from "../../src/setup/update-dotenv.js";
import { loadSettings } from "../../src/settings/load-settings.js";

const PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEabc+/=\nxyz\n-----END RSA PRIVATE KEY-----\n";
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "dotenv-"));
});

test("values written read back unchanged; other lines, even Probot's multi-line key, are handled", () => {
  const file = path.join(dir, ".env");
  writeFileSync(
    file,
    `# notes\nLOG_LEVEL=debug\nPRIVATE_KEY="-----BEGIN RSA PRIVATE KEY-----\nold\n-----END RSA PRIVATE KEY-----"\nAPP_ID=1\n`,
  );
  updateDotenv(file, { APP_ID: "42", PRIVATE_KEY: PEM, WEBHOOK_SECRET: "it's a secret", GITHUB_CLIENT_SECRET: 'say "hi"' });
  const env: Record<string, string | undefined> = {};
  expect(loadDotenv(dir, env).sort()).toEqual(["APP_ID", "GITHUB_CLIENT_SECRET", "LOG_LEVEL", "PRIVATE_KEY", "WEBHOOK_SECRET"]);
  expect(env).toEqual({
    LOG_LEVEL: "debug",
    APP_ID: "42",
    PRIVATE_KEY: PEM.trim().replace(/\n/g, "\\n"),
    WEBHOOK_SECRET: "it's a secret",
    GITHUB_CLIENT_SECRET: 'say "hi"',
  });
  expect(readFileSync(file, "utf8")).toMatch(/^# notes\n/);
  expect(
    readFileSync(file, "utf8")
      .split("\n")
      .filter((line) => line.startsWith("PRIVATE_KEY")),
  ).toHaveLength(1);
  expect(statSync(file).mode & 0o777).toBe(0o600);
});

test("the environment wins over .env; a missing .env is no error", () => {
  writeFileSync(path.join(dir, ".env"), "PORT=4000\nHOST=127.0.0.1\n");
  const env: Record<string, string | undefined> = { PORT: "5000" };
  expect(loadDotenv(dir, env)).toEqual(["HOST"]);
  expect(env).toEqual({ PORT: "5000", HOST: "127.0.0.1" });
  expect(loadDotenv(path.join(dir, "nowhere"), env)).toEqual([]);
});

/** What `docker run --env-file` does with a file: one KEY=VALUE a line, comments and blank lines skipped, no quote removal, no escapes. */
function parseLikeDocker(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const raw of text.split("\n")) {
    const line = raw.trimStart();
    if (line === "" || line.startsWith("#")) continue;
    const at = line.indexOf("=");
    if (at === -1) continue; // Docker passes the host's value through: not used here
    env[line.slice(0, at)] = line.slice(at + 1);
  }
  return env;
}

test("the .env the setup page writes works as it is with docker run --env-file: the App's settings load from it", async () => {
  // A real PKCS#1 key, as GitHub hands out (the simulator's cached one: generating one costs a few hundred ms).
  const { privateKey } = await appKey();
  const file = path.join(dir, ".env");
  // What the setup page's callback writes (setup-server.ts), with GitHub's kinds of values.
  updateDotenv(file, {
    APP_ID: "123456",
    PRIVATE_KEY: privateKey,
    WEBHOOK_SECRET: "5d2f0c3e9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d",
    GITHUB_CLIENT_ID: "Iv23liAbCdEfGh123456",
    GITHUB_CLIENT_SECRET: "0123456789abcdef0123456789abcdef01234567",
  });
  const text = readFileSync(file, "utf8");
  expect(text).not.toMatch(/^[A-Z_]+=["']/m); // no quotes for Docker to keep
  const docker = parseLikeDocker(text);
  const modal = { MODAL_TOKEN_ID: "ak-x", MODAL_TOKEN_SECRET: "as-x", MODAL_CONFIG_PATH: "/nonexistent/modal.toml" };
  const settings = loadSettings({ ...docker, ...modal }, process.cwd()); // the image runs from the repository root
  expect(settings.github.privateKey.trim()).toBe(privateKey.trim());
  expect(settings.github.appId).toBe(123456);
  expect(settings.github.webhookSecret).toBe("5d2f0c3e9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d");
  // And npm start (parseEnv) reads the same values.
  const node: Record<string, string | undefined> = {};
  loadDotenv(dir, node);
  expect(node).toEqual(docker);
});
