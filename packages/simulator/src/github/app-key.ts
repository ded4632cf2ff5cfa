// The fake GitHub App's RSA key pair. Generating a 2048-bit key costs 0.1–0.3 s of CPU,
// and every Jest test file that starts a fake GitHub would pay it again (each file has
// its own module instances): the first process writes the PEM to
// node_modules/.cache/fake-github (temp file + rename, so concurrent Jest workers never
// read half a file) and later ones read it. It is a test fixture, never a real App's key.
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { fixtureCacheDir, writeCacheFile } from "./fixture-cache.js";

export interface AppKey {
  /** PKCS#1 PEM ("BEGIN RSA PRIVATE KEY"), the form GitHub hands out. */
  privateKey: string;
  publicKey: crypto.KeyObject;
}

const cacheFile = () => path.join(fixtureCacheDir("@octokit/webhooks-examples/package.json"), "app-key-rsa2048.pem");

function fromPem(privateKey: string): AppKey {
  return { privateKey, publicKey: crypto.createPublicKey(privateKey) };
}

function readCached(file: string): AppKey | undefined {
  try {
    const pem = fs.readFileSync(file, "utf8");
    return pem.startsWith("-----BEGIN RSA PRIVATE KEY-----") ? fromPem(pem) : undefined;
  } catch {
    return undefined; // missing or unreadable: generate below
  }
}

async function generate(): Promise<string> {
  const { privateKey } = await promisify(crypto.generateKeyPair)("rsa", {
    modulusLength: 2048,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs1", format: "pem" },
  });
  return privateKey;
}

async function loadOrGenerate(): Promise<AppKey> {
  let file: string | undefined;
  try {
    file = cacheFile();
  } catch {
    // no examples package to find the cache beside: generate, cache nothing
  }
  const cached = file === undefined ? undefined : readCached(file);
  if (cached) return cached;
  const pem = await generate();
  if (file !== undefined) writeCacheFile(file, pem, 0o600);
  return fromPem(pem);
}

let appKeyPromise: Promise<AppKey> | undefined;
/** One key pair per module instance, read from the cache when a previous process wrote it. */
export function appKey(): Promise<AppKey> {
  appKeyPromise ??= loadOrGenerate();
  return appKeyPromise;
}
