// When a pass between full sweeps reads a repository whose only reason to be read is
// a recent workflow_job event (ACTIVE_REPOSITORY_WINDOW). Such a repository has no
// sandbox of ours, no job waiting or failed here, and nothing an earlier pass left
// unresolved (each of those makes it read every pass, whatever this says). What a read
// can still find there is a queued job whose webhook GitHub never sent nor logged as
// failed (a failed delivery is asked for again every pass). So it is read every pass
// while it is busy (an event since its last read, or its last event under four
// intervals old), then less often the longer it stays quiet: every quarter of its
// quiet time, at most MAX_QUIET_GAP_INTERVALS intervals apart. A quiet installation
// then costs a read every few minutes instead of every minute for two hours, and a
// job whose webhook never came still waits at most MAX_QUIET_GAP_INTERVALS intervals
// (plus UNSERVED_JOB_GRACE), never until the next full sweep.
/** The longest gap, in reconcile intervals, between two reads of a quiet active repository. */
export const MAX_QUIET_GAP_INTERVALS = 8;

/**
 * Whether this pass reads a recently active repository (pure). `activeAt`: its last
 * workflow_job event; `readAt`: when a pass last read it (undefined: never since the
 * App started); `intervalMs`: RECONCILE_INTERVAL (0: passes only on demand, each reads
 * every active repository).
 */
export function quietRepositoryDue(repository: { activeAt: number; readAt: number | undefined }, now: number, intervalMs: number): boolean {
  if (intervalMs <= 0 || repository.readAt === undefined || repository.readAt <= repository.activeAt) return true;
  const gap = Math.min(MAX_QUIET_GAP_INTERVALS * intervalMs, Math.max(intervalMs, (now - repository.activeAt) / 4));
  // Half an interval of slack: passes come about an interval apart, never exactly.
  return now - repository.readAt + intervalMs / 2 >= gap;
}
