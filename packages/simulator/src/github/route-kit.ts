// What every route file of the fake GitHub shares: the request context a handler
// gets, the reply it gives, GitHub's error shape as an exception, and the
// permission checks GitHub runs on installation tokens.
import type http from "node:http";
import type { FakeInstallation, InstallationToken } from "./types.js";

export type Permissions = Record<string, "read" | "write">;

/** Thrown by a handler: the fake answers with GitHub's error body for `status`. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly extra: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export interface Ctx {
  method: string;
  rawPath: string;
  params: Record<string, string>;
  query: Record<string, string>;
  body: unknown;
  headers: http.IncomingHttpHeaders;
  installation: FakeInstallation | undefined;
  token: InstallationToken | undefined;
}

export interface Reply {
  status: number;
  body?: unknown;
  /** non-JSON answer (raw file content) */
  text?: string;
  contentType?: string;
  headers?: Record<string, string>;
}

export interface Handler {
  auth: "app" | "installation" | "none";
  /** installation routes: the permission the token must carry */
  permission?: (p: Permissions) => boolean;
  fn: (ctx: Ctx) => Reply;
}

export type Route = (method: string, template: string, handler: Handler) => void;

export function can(p: Permissions, name: string, level: "read" | "write"): boolean {
  const have = p[name];
  return have === "write" || (level === "read" && have === "read");
}

export const anyPermission = (): boolean => true;
export const actionsRead = (p: Permissions): boolean => can(p, "actions", "read");
export const orgRunnersRead = (p: Permissions): boolean => can(p, "organization_self_hosted_runners", "read");
export const orgRunnersWrite = (p: Permissions): boolean => can(p, "organization_self_hosted_runners", "write");
export const adminRead = (p: Permissions): boolean => can(p, "administration", "read");
export const adminWrite = (p: Permissions): boolean => can(p, "administration", "write");
export const contentsRead = (p: Permissions): boolean => can(p, "contents", "read") || can(p, "single_file", "read");

/** GitHub compares logins and repository names case-insensitively. */
export function lc(s: string): string {
  return s.toLowerCase();
}
