// Reads one policy file through the contents API and parses it, refusing what could
// hurt the App: a file over 64 KB is refused from the size GitHub reports, before
// its content is decoded or parsed (a 20 MB file once stalled the event loop for
// 11 s). The outcome is a value: absent (404), a parsed object, or unreadable with
// a reason; only the caller decides what each means.
import type { Result } from "../lib/result.js";
import { parseDocument } from "yaml";
import type { BoundedMap } from "../lib/bounded.js";
import { describeFailure, httpStatus, isTokenFailure } from "../lib/errors.js";
import type { AppOctokit } from "../github/create-octokit-class.js";

export const MAX_POLICY_FILE_BYTES = 64 * 1024;

export interface PolicyFileRef {
  owner: string;
  repo: string;
  path: string;
}

export type PolicyFileRead =
  | { state: "absent" }
  | { state: "read"; sha: string; config: Record<string, unknown> }
  | { state: "unreadable"; reason: string; status?: number };

interface ContentsFile {
  type?: string;
  size?: number;
  encoding?: string;
  content?: string;
  sha?: string;
}

/** Parsed contents by blob sha (at most PARSED_LIMIT): an unchanged file (the usual case) is not parsed again. */
export type ParsedBySha = BoundedMap<string, Parsed>;

type Parsed = Result<{ config: Record<string, unknown> }>;

export const PARSED_LIMIT = 1000;

function parse(text: string): Parsed {
  const document = parseDocument(text, { logLevel: "silent" });
  if (document.errors.length > 0) return { ok: false, reason: `invalid YAML: ${document.errors[0]!.message.split("\n")[0]}` };
  const value: unknown = document.toJS() ?? {};
  if (typeof value !== "object" || value === null || Array.isArray(value))
    return { ok: false, reason: "the file is not a YAML mapping (key: value)" };
  return { ok: true, config: value as Record<string, unknown> };
}

export async function readPolicyFile(octokit: AppOctokit, file: PolicyFileRef, parsed: ParsedBySha): Promise<PolicyFileRead> {
  let data: ContentsFile | ContentsFile[] | string;
  try {
    ({ data } = (await octokit.request("GET /repos/{owner}/{repo}/contents/{path}", {
      owner: file.owner,
      repo: file.repo,
      path: file.path,
    })) as { data: ContentsFile | ContentsFile[] | string });
  } catch (error) {
    if (isTokenFailure(error)) throw error; // no token: the caller fails, nothing is known of the file
    const status = httpStatus(error);
    if (status === 404) return { state: "absent" };
    if (status === 403)
      return { state: "unreadable", status, reason: "the App may not read it (403): grant the Single file permission for this path" };
    return {
      state: "unreadable",
      status,
      reason: status === undefined ? `read failed: ${describeFailure(error).reason.split("\n")[0]}` : `GitHub answered ${status}`,
    };
  }
  const tooBig = `over ${MAX_POLICY_FILE_BYTES / 1024} KB; a policy file is a few lines`;
  // Octokit hands over the body as text when it could not parse it (a huge answer): never parse it ourselves.
  if (typeof data === "string")
    return {
      state: "unreadable",
      reason: data.length > MAX_POLICY_FILE_BYTES ? `${data.length} bytes, ${tooBig}` : "GitHub's answer is not a contents object",
    };
  if (Array.isArray(data) || data.type !== "file") return { state: "unreadable", reason: "it is a directory or a submodule, not a file" };
  if ((data.size ?? 0) > MAX_POLICY_FILE_BYTES) return { state: "unreadable", reason: `${data.size} bytes, ${tooBig}` };
  // GitHub sends no content for files over 1 MB (encoding "none"), and the size could lie: check what arrived too.
  if (data.encoding !== "base64" || typeof data.content !== "string")
    return { state: "unreadable", reason: `no content in GitHub's answer (encoding ${data.encoding ?? "missing"})` };
  if (data.content.length > (MAX_POLICY_FILE_BYTES * 4) / 3 + 4096) return { state: "unreadable", reason: tooBig };
  const bytes = Buffer.from(data.content, "base64");
  if (bytes.length > MAX_POLICY_FILE_BYTES) return { state: "unreadable", reason: `${bytes.length} bytes, ${tooBig}` };

  const sha = data.sha ?? "";
  let result = sha ? parsed.get(sha) : undefined;
  if (!result) {
    result = parse(bytes.toString("utf8"));
    if (sha) {
      parsed.set(sha, result);
    }
  }
  if (!result.ok) return { state: "unreadable", reason: result.reason };
  return { state: "read", sha, config: structuredClone(result.config) };
}
