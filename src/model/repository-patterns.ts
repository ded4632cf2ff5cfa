// Allow/deny list entries: "owner" (every repository of it), "owner/repo", and
// "*" wildcards within a part ("octo-org/svc-*"). Matching ignores case, as GitHub does.
//
// Patterns come from operators and, through policy files, from anyone who can push
// to a repository: they are hostile input. A glob turned into a regular expression
// backtracks (twenty stars once took minutes against one name), so the match here
// uses no regular expression: split on "*", then the prefix, each middle piece in
// order with indexOf (leftmost is always right for "*"-only globs), and the suffix.
// Work is at most pattern length × name length, and both are bounded below.

/** A full name is at most 39 (owner) + 1 + 100 (repository) characters; room for stars. */
export const MAX_PATTERN_LENGTH = 200;
/** Patterns in one list (a setting, or one policy file's `repositories`). */
export const MAX_PATTERNS = 500;

/** Why a list of patterns is refused, or undefined when it is within bounds. */
export function patternListProblem(patterns: readonly string[]): string | undefined {
  if (patterns.length > MAX_PATTERNS) return `${patterns.length} repository patterns; at most ${MAX_PATTERNS}`;
  const long = patterns.find((pattern) => pattern.length > MAX_PATTERN_LENGTH);
  if (long !== undefined) return `a repository pattern of ${long.length} characters; at most ${MAX_PATTERN_LENGTH}`;
  const nested = patterns.find((pattern) => pattern.split("/").length > 2);
  if (nested !== undefined) return `"${nested.slice(0, 60)}" has more than one "/" (forms: owner, owner/repo, owner/prefix-*)`;
  return undefined;
}

/** Whether `text` matches `glob`, where "*" stands for any run of characters. Case-sensitive; callers lower-case. */
export function globMatches(glob: string, text: string): boolean {
  const pieces = glob.split("*");
  if (pieces.length === 1) return glob === text;
  const prefix = pieces[0]!;
  const suffix = pieces[pieces.length - 1]!;
  if (text.length < prefix.length + suffix.length || !text.startsWith(prefix) || !text.endsWith(suffix)) return false;
  // Middle pieces in order, leftmost first, between the prefix and the suffix.
  let from = prefix.length;
  const end = text.length - suffix.length;
  for (let i = 1; i < pieces.length - 1; i++) {
    const piece = pieces[i]!;
    if (piece === "") continue;
    const at = text.indexOf(piece, from);
    if (at === -1 || at + piece.length > end) return false;
    from = at + piece.length;
  }
  return true;
}

/** Whether the full name ("owner/repo") matches one pattern; "*" never crosses the "/". */
export function matchesPattern(fullName: string, pattern: string): boolean {
  if (pattern.length > MAX_PATTERN_LENGTH) return false; // refused where lists are read; never matched
  const [owner = "", repo, ...rest] = fullName.toLowerCase().split("/");
  if (repo === undefined || rest.length > 0) return false;
  const [ownerGlob = "", repoGlob = "*", ...extra] = pattern.toLowerCase().split("/");
  if (extra.length > 0) return false;
  return globMatches(ownerGlob, owner) && globMatches(repoGlob, repo);
}

export function matchesAny(fullName: string, patterns: readonly string[]): boolean {
  return patterns.some((pattern) => matchesPattern(fullName, pattern));
}
