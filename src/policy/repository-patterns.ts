// Allow/deny list entries: "owner" (every repository of it), "owner/repo", and
// "*" wildcards within a part ("octo-org/svc-*"). Matching ignores case, as GitHub does.

function patternToRegExp(pattern: string): RegExp {
  const full = pattern.includes("/") ? pattern : `${pattern}/*`;
  const escaped = full
    .split("*")
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
    .join("[^/]*");
  return new RegExp(`^${escaped}$`, "i");
}

export function matchesAny(fullName: string, patterns: string[]): boolean {
  return patterns.some((pattern) => patternToRegExp(pattern).test(fullName));
}
