// Job claims of a fleet in Redis: one key per job, set only if absent (SET NX) with a
// time-to-live, held by one replica. A replica renews the claims it holds while their
// dispatch waits or works; a replica that dies stops renewing and its claims lapse
// within the TTL (about REGISTRATION_GRACE), after which another replica serves the job.
// When Redis is unreachable a claim is granted: GitHub (one runner per name) and Modal
// (one sandbox per name in an app) still make a second dispatch of a job harmless.
import type { Result } from "ioredis";
import type { JobRef } from "../model/job.js";
import type { JobClaims } from "./job-claims.js";
import type { RedisLink } from "./redis-link.js";

// A claim's value is the replica holding it; once its dispatch ended, while it lingers
// ("served recently"), `<replica>|ended|<installation id>`.
const ENDED = "|ended|";
// KEYS: claim; ARGV: replica, ttl ms. 1: held by this replica now (its own ended claim is taken again).
const CLAIM = `
local holder = redis.call('GET', KEYS[1])
local mine = ARGV[1] .. '${ENDED}'
if holder and holder ~= ARGV[1] and string.sub(holder, 1, #mine) ~= mine then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`;
// KEYS: claim; ARGV: replica, linger ms, installation id. Marks a claim this replica holds as ended; it lapses after the linger.
const END_OWN = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1] .. '${ENDED}' .. ARGV[3], 'PX', ARGV[2])
  return 1
end
return 0
`;
// KEYS: claim; ARGV: installation id. Drops an ended claim of a job of this installation,
// whoever held it; a dispatch in progress keeps its claim.
const REOPEN = `
local holder = redis.call('GET', KEYS[1])
local ended = '${ENDED}' .. ARGV[1]
if holder and #holder > #ended and string.sub(holder, -#ended) == ended then return redis.call('DEL', KEYS[1]) end
return 0
`;

declare module "ioredis" {
  interface RedisCommander<Context> {
    jobClaim(key: string, replica: string, ttlMs: number): Result<number, Context>;
    jobClaimEndOwn(key: string, replica: string, lingerMs: number, installationId: number): Result<number, Context>;
    jobClaimReopen(key: string, installationId: number): Result<number, Context>;
  }
}

export interface RedisJobClaimsOptions {
  /** A claim not renewed lapses after this (about REGISTRATION_GRACE). */
  ttlMs: number;
  /** How long a finished dispatch's claim still says "served recently" (a pass that observed before the sandbox existed). */
  lingerMs: number;
  onRoundTrip?: () => void;
}

export class RedisJobClaims implements JobClaims {
  readonly #held = new Set<number>();
  readonly #timer: NodeJS.Timeout;

  constructor(
    private readonly link: RedisLink,
    private readonly options: RedisJobClaimsOptions,
  ) {
    link.client.defineCommand("jobClaim", { numberOfKeys: 1, lua: CLAIM });
    link.client.defineCommand("jobClaimEndOwn", { numberOfKeys: 1, lua: END_OWN });
    link.client.defineCommand("jobClaimReopen", { numberOfKeys: 1, lua: REOPEN });
    this.#timer = setInterval(() => void this.#renew(), Math.max(100, Math.floor(options.ttlMs / 3)));
    this.#timer.unref();
  }

  #key(jobId: number): string {
    return this.link.key("claim", jobId);
  }

  async claim(jobId: number): Promise<boolean> {
    if (!this.link.available) return true;
    try {
      this.options.onRoundTrip?.();
      const granted = (await this.link.client.jobClaim(this.#key(jobId), this.link.replica, this.options.ttlMs)) === 1;
      if (granted) this.#held.add(jobId);
      return granted;
    } catch {
      return true; // Redis went away meanwhile: names keep a second dispatch harmless
    }
  }

  release(job: Pick<JobRef, "id" | "installationId">): void {
    if (!this.#held.delete(job.id) || !this.link.available) return;
    this.options.onRoundTrip?.();
    this.link.client.jobClaimEndOwn(this.#key(job.id), this.link.replica, this.options.lingerMs, job.installationId).catch(() => undefined);
  }

  async reopen(job: Pick<JobRef, "id" | "installationId">): Promise<void> {
    if (!this.link.available) return;
    this.options.onRoundTrip?.();
    await this.link.client.jobClaimReopen(this.#key(job.id), job.installationId).catch(() => undefined);
  }

  async claimed(jobIds: number[]): Promise<Set<number>> {
    if (jobIds.length === 0 || !this.link.available) return new Set();
    try {
      this.options.onRoundTrip?.();
      const holders = await this.link.client.mget(jobIds.map((id) => this.#key(id)));
      return new Set(jobIds.filter((_, i) => holders[i] !== null));
    } catch {
      return new Set();
    }
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /**
   * Renews every claim held, in one pipeline (one round trip). A claim Redis lost (it
   * restarted empty) is set again: this replica is still serving the job.
   */
  async #renew(): Promise<void> {
    if (this.#held.size === 0 || !this.link.available) return;
    const pipeline = this.link.client.pipeline();
    for (const jobId of this.#held) pipeline.jobClaim(this.#key(jobId), this.link.replica, this.options.ttlMs);
    this.options.onRoundTrip?.();
    await pipeline.exec().catch(() => undefined);
  }
}
