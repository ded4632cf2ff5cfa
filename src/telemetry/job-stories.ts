// Every job's story, as the App saw it: queued, waiting or refused here, started on a
// runner, taken by a runner (maybe one made for another job), stopped by policy,
// finished with GitHub's conclusion, and what its sandbox cost. Fed by the webhook
// router, the dispatcher's outcomes, the assignment guard and the sandbox ledger; read
// by the status page. Keyed by job id (GitHub's ids are unique across installations);
// an event from another installation than the story's is ignored, so one tenant
// cannot write into another's story.
//
// Bounded: at most `maxJobs` stories, none older than `maxAgeMs` (by when it was
// first seen); the oldest go first. Pure: time comes in with each event.
import { parseRunnerName } from "../model/runner-name.js";
import { shortReason } from "./build-status-snapshot.js";
import type { IsoTime, JobStory, QueueTimes } from "./status-snapshot.js";

export interface StoryJob {
  id: number;
  runId: number;
  name: string;
  /** owner/name */
  repo: string;
  installationId: number;
  /** When GitHub queued it (the job's created_at). */
  createdAt: string | undefined;
}

export type StoryEvent =
  /** A workflow_job webhook for a job with our label, or about one of our runners. */
  | {
      kind: "webhook";
      action: "queued" | "in_progress" | "completed";
      job: StoryJob;
      htmlUrl?: string | undefined;
      runnerName?: string | undefined;
      startedAt?: string | undefined;
      completedAt?: string | undefined;
      conclusion?: string | undefined;
      /** The runner's profile, when the runner is ours. */
      profile?: string | undefined;
    }
  /** The dispatcher's outcome for the job (started, refused, waiting, failed, …). */
  | {
      kind: "dispatch";
      outcome: string;
      job: StoryJob;
      profile?: string | undefined;
      reason?: string | undefined;
      runnerName?: string | undefined;
    }
  /** The assignment guard stopped the runner that took the job: policy refuses it. */
  | { kind: "stopped"; job: StoryJob; runnerName: string; reason: string | undefined }
  /** The sandbox that ran the job ended; what it cost. */
  | { kind: "cost"; runnerName: string; installationId: number; dollars: number };

export interface JobStoriesOptions {
  maxJobs: number;
  maxAgeMs: number;
  /** Our runner names' prefix: a runner name says which job it was made for. */
  namePrefix: string;
}

export const DEFAULT_STORY_LIMITS = { maxJobs: 5_000, maxAgeMs: 24 * 3_600_000 };

interface Entry {
  story: JobStory;
  firstSeen: number;
}

const FINISHED = new Set(["success", "failure", "cancelled", "stopped", "skipped", "timed_out", "neutral", "action_required", "stale"]);
const iso = (ms: number): IsoTime => new Date(ms).toISOString();

export class JobStories {
  /** Insertion order = first seen: the front is the oldest. */
  readonly #entries = new Map<number, Entry>();
  /** Runner name → the job it ran (from in_progress), so the sandbox's cost goes to that job. */
  readonly #ranBy = new Map<string, number>();

  constructor(private readonly options: JobStoriesOptions) {}

  record(event: StoryEvent, now: number): void {
    if (event.kind === "cost") return this.#cost(event);
    const story = this.#story(event.job, now);
    if (!story) return;
    switch (event.kind) {
      case "webhook":
        return this.#webhook(story, event, now);
      case "dispatch":
        return this.#dispatch(story, event, now);
      case "stopped":
        story.runner ??= event.runnerName;
        story.stoppedBy = `the App: policy refuses the job${event.reason ? ` (${event.reason})` : ""}`;
        story.outcome = "stopped";
        story.finishedAt = iso(now);
        return;
    }
  }

  /** Stories, newest first (by when GitHub queued the job, else when first seen). */
  list(): JobStory[] {
    return [...this.#entries.values()]
      .map((entry) => ({ ...entry.story }))
      .sort((a, b) => (b.queuedAt ?? b.firstSeenAt).localeCompare(a.queuedAt ?? a.firstSeenAt) || b.jobId - a.jobId);
  }

  /** The job a runner ran (from workflow_job.in_progress), if seen. */
  jobRunBy(runnerName: string): number | undefined {
    return this.#ranBy.get(runnerName);
  }

  /** Queue-time percentiles per profile, of jobs that started in the hour before `now`. */
  queueTimes(now: number, windowMs = 3_600_000): QueueTimes[] {
    const byProfile = new Map<string, number[]>();
    for (const { story } of this.#entries.values()) {
      if (story.queueSeconds === undefined || !story.startedAt || Date.parse(story.startedAt) < now - windowMs) continue;
      const profile = story.profile ?? "(unknown)";
      byProfile.set(profile, [...(byProfile.get(profile) ?? []), story.queueSeconds]);
    }
    return [...byProfile]
      .map(([profile, seconds]) => {
        const sorted = seconds.sort((a, b) => a - b);
        const rank = (p: number) => sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
        return { profile, jobs: sorted.length, p50: rank(50), p90: rank(90), p99: rank(99), max: sorted[sorted.length - 1]! };
      })
      .sort((a, b) => a.profile.localeCompare(b.profile));
  }

  #story(job: StoryJob, now: number): JobStory | undefined {
    this.#prune(now);
    const existing = this.#entries.get(job.id);
    if (existing) return existing.story.installationId === job.installationId ? existing.story : undefined;
    const story: JobStory = {
      jobId: job.id,
      runId: job.runId,
      name: job.name,
      repo: job.repo,
      installationId: job.installationId,
      firstSeenAt: iso(now),
      queuedAt: job.createdAt,
      outcome: "queued",
    };
    this.#entries.set(job.id, { story, firstSeen: now });
    return story;
  }

  #webhook(story: JobStory, event: Extract<StoryEvent, { kind: "webhook" }>, now: number): void {
    story.htmlUrl ??= event.htmlUrl;
    story.queuedAt ??= event.job.createdAt;
    if (event.action === "queued") {
      story.via ??= "webhook";
      return;
    }
    if (event.runnerName) {
      story.runner = event.runnerName;
      const parsed = parseRunnerName(this.options.namePrefix, event.runnerName);
      // "Ran on a runner made for job X": a JIT runner takes any job its labels fit.
      story.runnerMadeFor = parsed && parsed.jobId !== story.jobId ? parsed.jobId : undefined;
      if (parsed) {
        this.#ranBy.set(event.runnerName, story.jobId);
        if (this.#ranBy.size > this.options.maxJobs) this.#ranBy.delete(this.#ranBy.keys().next().value!);
      }
      if (event.profile) story.profile = event.profile;
    }
    if (event.startedAt) story.startedAt = event.startedAt;
    if (event.action === "in_progress" && story.outcome !== "stopped") {
      story.outcome = "running";
      story.finishedAt = undefined; // refused here, yet a runner took it: its story goes on
    }
    if (event.action === "completed") {
      story.finishedAt = event.completedAt ?? iso(now);
      story.conclusion = event.conclusion ?? undefined;
      // A job our guard stopped stays "stopped" (GitHub then reports it failed or cancelled).
      if (story.outcome !== "stopped") story.outcome = event.conclusion && FINISHED.has(event.conclusion) ? event.conclusion : "finished";
      // A job cancelled before any runner took it has no start.
      if (!event.runnerName && !story.runner) story.startedAt = undefined;
    }
    story.queueSeconds = seconds(story.queuedAt, story.startedAt);
    story.runSeconds = seconds(story.startedAt, story.finishedAt);
  }

  #dispatch(story: JobStory, event: Extract<StoryEvent, { kind: "dispatch" }>, now: number): void {
    // No queued webhook before the first dispatch: a reconcile pass found the job.
    story.via ??= "reconciler";
    if (event.profile && !story.runner) story.profile = event.profile;
    // One short reason, said once (no "Modal is unavailable: Modal is unavailable (circuit open): …").
    const reason = event.reason === undefined ? undefined : shortReason(event.reason);
    story.note = reason ? `${event.outcome}: ${reason}` : event.outcome;
    if (event.outcome === "waiting") story.waitedFor ??= reason ?? "a free slot";
    if (event.outcome === "started" && event.runnerName) story.sandbox = event.runnerName;
    // Only a job not yet taken by a runner changes its outcome here.
    if (story.outcome !== "queued" && story.outcome !== "waiting" && story.outcome !== "starting") return;
    if (event.outcome === "started") story.outcome = "starting";
    else if (event.outcome === "refused") {
      story.outcome = "refused";
      story.finishedAt ??= iso(now);
    } else if (event.outcome === "waiting") story.outcome = "waiting";
  }

  #cost(event: Extract<StoryEvent, { kind: "cost" }>): void {
    const parsed = parseRunnerName(this.options.namePrefix, event.runnerName);
    const jobId = this.#ranBy.get(event.runnerName) ?? parsed?.jobId;
    const entry = jobId === undefined ? undefined : this.#entries.get(jobId);
    if (!entry || entry.story.installationId !== event.installationId) return;
    entry.story.dollars = (entry.story.dollars ?? 0) + event.dollars;
  }

  #prune(now: number): void {
    for (const [id, entry] of this.#entries) {
      if (this.#entries.size < this.options.maxJobs && entry.firstSeen >= now - this.options.maxAgeMs) break;
      this.#entries.delete(id);
      if (entry.story.runner) this.#ranBy.delete(entry.story.runner);
    }
  }
}

function seconds(from: string | undefined, to: string | undefined): number | undefined {
  if (!from || !to) return undefined;
  const ms = Date.parse(to) - Date.parse(from);
  return Number.isFinite(ms) ? Math.max(0, Math.round(ms / 1000)) : undefined;
}

/** The stories a filter keeps: `installation` (id or account), `repo` (owner/name), `outcome`. Case-insensitive. */
export function filterStories(
  stories: JobStory[],
  filter: { installation?: string | null; repo?: string | null; outcome?: string | null },
  accounts: Map<number, string>,
): JobStory[] {
  const want = (value: string | null | undefined) => (value ? value.trim().toLowerCase() : undefined);
  const installation = want(filter.installation);
  const repo = want(filter.repo);
  const outcome = want(filter.outcome);
  return stories.filter(
    (story) =>
      (!installation ||
        String(story.installationId) === installation ||
        accounts.get(story.installationId)?.toLowerCase() === installation) &&
      (!repo || story.repo.toLowerCase() === repo) &&
      (!outcome || story.outcome === outcome),
  );
}
