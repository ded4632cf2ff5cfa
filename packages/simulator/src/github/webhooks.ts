// workflow_job payloads built from GitHub's own examples (@octokit/webhooks-examples),
// signing, and delivery over HTTP.
import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import https from "node:https";
import { createRequire } from "node:module";
import path from "node:path";
import { fixtureCacheDir, writeCacheFile } from "./fixture-cache.js";
import type { SignatureMode } from "./types.js";

const require = createRequire(import.meta.url);

type Payload = Record<string, unknown>;

interface ExampleEntry {
  name: string;
  examples: Payload[];
}

const examples = new Map<string, Payload[]>();

/**
 * Examples of one event, keyed by action. The package's index.json holds every event's
 * (4 MB, about a quarter of a second to read and parse); the first process that needs
 * it writes each event's examples to node_modules/.cache/fake-github (temp file +
 * rename, for concurrent Jest workers), and later test files read only the event's.
 */
function examplesOf(event: string): Payload[] {
  const known = examples.get(event);
  if (known) return known;
  const pkgFile = require.resolve("@octokit/webhooks-examples/package.json");
  const version = String((JSON.parse(fs.readFileSync(pkgFile, "utf8")) as { version: unknown }).version);
  const dir = path.join(fixtureCacheDir("@octokit/webhooks-examples/package.json"), `webhooks-examples-${version}`);
  const cached = (name: string) => path.join(dir, `${encodeURIComponent(name)}.json`);
  try {
    const list = JSON.parse(fs.readFileSync(cached(event), "utf8")) as Payload[];
    examples.set(event, list);
    return list;
  } catch {
    // not cached yet: read them all below
  }
  const all = JSON.parse(
    fs.readFileSync(require.resolve("@octokit/webhooks-examples/api.github.com/index.json"), "utf8"),
  ) as ExampleEntry[];
  for (const entry of all) if (!writeCacheFile(cached(entry.name), JSON.stringify(entry.examples))) break;
  for (const entry of all) examples.set(entry.name, entry.examples);
  return examples.get(event) ?? [];
}

/**
 * A deep copy of GitHub's example for `event`/`action`, preferring one that carries an
 * `installation` key (what a GitHub App receives).
 */
export function exampleFor(event: string, action: string): Payload {
  const list = examplesOf(event).filter((e) => e.action === action);
  const chosen = list.find((e) => "installation" in e && !("deployment" in e)) ?? list.find((e) => "installation" in e) ?? list[0];
  if (!chosen) throw new Error(`@octokit/webhooks-examples has no ${event}.${action} example`);
  return structuredClone(chosen);
}

export function sign(secret: string, body: string): string {
  return `sha256=${crypto.createHmac("sha256", secret).update(body).digest("hex")}`;
}

export interface SendOptions {
  url: string;
  event: string;
  body: string;
  secret: string;
  signature: SignatureMode;
  deliveryId: string;
  hookId: number;
  appId: number;
  timeoutMs: number;
}

export interface SendResult {
  status: number;
  body: string;
  ms: number;
  error?: string;
}

/** POSTs one delivery like GitHub's Hookshot does; never throws. */
export function send(o: SendOptions): Promise<SendResult> {
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "user-agent": "GitHub-Hookshot/fake",
    "x-github-event": o.event,
    "x-github-delivery": o.deliveryId,
    "x-github-hook-id": String(o.hookId),
    "x-github-hook-installation-target-type": "integration",
    "x-github-hook-installation-target-id": String(o.appId),
    "content-length": String(Buffer.byteLength(o.body)),
  };
  if (o.signature === "valid") headers["x-hub-signature-256"] = sign(o.secret, o.body);
  if (o.signature === "wrong") headers["x-hub-signature-256"] = sign(`${o.secret}-but-wrong`, o.body);
  const started = performance.now();
  return new Promise<SendResult>((resolve) => {
    let settled = false;
    const finish = (r: Omit<SendResult, "ms">): void => {
      if (settled) return;
      settled = true;
      resolve({ ...r, ms: performance.now() - started });
    };
    let url: URL;
    try {
      url = new URL(o.url);
    } catch {
      finish({ status: 0, body: "", error: `invalid webhook URL ${o.url}` });
      return;
    }
    const lib = url.protocol === "https:" ? https : http;
    const req = lib.request(url, { method: "POST", headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => finish({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", (e) => finish({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8"), error: e.message }));
    });
    req.setTimeout(o.timeoutMs, () => {
      req.destroy(new Error(`timed out after ${o.timeoutMs} ms`));
    });
    req.on("error", (e) => finish({ status: 0, body: "", error: e.message }));
    req.end(o.body);
  });
}
