// One line of `npm run doctor`'s table: what was checked, how it went, what was
// found, and (for a warning or a failure) how to fix it.
export type CheckStatus = "ok" | "warn" | "fail";

export interface CheckResult {
  check: string;
  status: CheckStatus;
  detail: string;
  fix?: string;
}

export const ok = (check: string, detail: string): CheckResult => ({ check, status: "ok", detail });
export const warn = (check: string, detail: string, fix: string): CheckResult => ({ check, status: "warn", detail, fix });
export const fail = (check: string, detail: string, fix: string): CheckResult => ({ check, status: "fail", detail, fix });
