// .env as `npm start` reads and the setup page writes it: what the page writes reads
// back unchanged (a PEM on one quoted line), other lines are kept, the file is the
// owner's only, and a variable already in the environment wins over the file.
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadDotenv } from "../../src/setup/load-dotenv.js";
import { updateDotenv } from "../../src/setup/update-dotenv.js";

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
    PRIVATE_KEY: PEM,
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
