// "Did you mean …?" for misspelled setting names: the known name at the smallest
// edit distance, if it is close enough to be a plausible typo, or one that starts
// with what was written (SANDBOX_MEMORY for SANDBOX_MEMORY_MIB).

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

export function closestName(name: string, known: readonly string[]): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = editDistance(name, candidate);
    if (!best || distance < best.distance) best = { name: candidate, distance };
  }
  if (best && best.distance <= Math.max(2, Math.floor(name.length / 3))) return best.name;
  return known.find((candidate) => candidate.startsWith(name) || name.startsWith(candidate));
}
