// The fake GitHub's App key is generated once and then read from the cache by every
// later test file (generating a 2048-bit RSA key costs a few hundred ms of CPU).
import crypto from "node:crypto";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { appKey } from "@modal-github-runner/simulator/github/app-key";

const require = createRequire(import.meta.url);
const cacheFile = path.join(
  path.dirname(require.resolve("@octokit/webhooks-examples/package.json")),
  "..",
  "..",
  ".cache",
  "fake-github",
  "app-key-rsa2048.pem",
);

test("the App key is a PKCS#1 RSA key whose public half verifies what the private half signs, and it is the cached one", async () => {
  const key = await appKey();
  expect(key.privateKey).toMatch(/^-----BEGIN RSA PRIVATE KEY-----\n/);
  const signature = crypto.sign("sha256", Buffer.from("payload"), key.privateKey);
  expect(crypto.verify("sha256", Buffer.from("payload"), key.publicKey, signature)).toBe(true);
  expect(key.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
  expect(fs.readFileSync(cacheFile, "utf8")).toBe(key.privateKey);
  expect(fs.statSync(cacheFile).mode & 0o077).toBe(0);
  // One key per module instance: a second call does not read or generate again.
  expect(await appKey()).toBe(key);
});
