// One installation's GitHub budget shared by every replica of the fleet, in Redis.
//
// The same rules as installation-budget.ts (900 points in a sliding minute, a write 5,
// 100 in flight, foreground ahead of background, retry-after pauses the installation),
// kept in Redis and decided by one Lua script per take: the script reads and updates
// the window atomically, so two replicas can never both spend the last points.
// - Spends: a sorted set of "token|cost|priority" by the time the answer came (Redis's
//   clock, so replicas' clocks may disagree), plus their running sum.
// - In flight: a sorted set by lapse time. A replica that dies holding requests never
//   releases them: past the lapse they count as spent then, and the slots free up.
// - A pause (retry-after, an exhausted limit) is one key: seen by one replica, it holds
//   every replica's requests for that installation.
// - A foreground request that must wait sets a short-lived flag, and background
//   requests of every replica wait while it is set (dispatch first, fleet-wide).
// Each replica keeps its own queue (foreground first) and asks Redis for its head.
// The answer says how long to wait; the slots other replicas free are not announced,
// so a request blocked only by the in-flight limit asks again shortly.
//
// When Redis cannot be reached, requests go through a local InstallationBudget holding
// this replica's conservative share (the limits divided by the last known fleet size).
import type { Result } from "ioredis";
import type { Clock } from "../lib/clock.js";
import type { RedisLink } from "../replicas/redis-link.js";
import { InstallationBudget, type Budget, type BudgetHeadroom, type BudgetLimits, type RequestPriority } from "./installation-budget.js";

/** How long a request may hold an in-flight slot before it is presumed dead (its replica gone). */
export const IN_FLIGHT_LAPSE_MS = 30_000;
/** How long "a foreground request waits" holds background requests back, unless renewed. */
const FOREGROUND_WAIT_FLAG_MS = 2_000;
/** How soon to ask again when only other replicas' in-flight requests block. */
const POLL_MS = 25;

// KEYS: spent, spent sum, in flight, pause, foreground-waits flag
// ARGV: cost, priority (f|b), capacity, window, reserve, max in flight, background max in flight, member token, lapse, flag ms
// Returns { granted (1|0), wait ms (-1: a slot must free), points left, in flight, paused for ms }
const TAKE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cost = tonumber(ARGV[1])
local background = ARGV[2] == 'b'
local capacity = tonumber(ARGV[3])
local window = tonumber(ARGV[4])
local reserve = tonumber(ARGV[5])
local maxIn = tonumber(ARGV[6])
local backgroundMaxIn = tonumber(ARGV[7])
local lapse = tonumber(ARGV[9])
local function costOf(member) return tonumber(string.match(member, '|(%d+)|')) end
local lapsed = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now)
for _, member in ipairs(lapsed) do
  redis.call('ZREM', KEYS[3], member)
  redis.call('ZADD', KEYS[1], now, member)
  redis.call('INCRBY', KEYS[2], costOf(member))
end
local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - window)
if #old > 0 then
  local gone = 0
  for _, member in ipairs(old) do gone = gone + costOf(member) end
  redis.call('DECRBY', KEYS[2], gone)
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
end
local spent = tonumber(redis.call('GET', KEYS[2]) or '0')
local held, inFlight, backgroundInFlight = 0, 0, 0
for _, member in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
  held = held + costOf(member)
  inFlight = inFlight + 1
  if string.sub(member, -1) == 'b' then backgroundInFlight = backgroundInFlight + 1 end
end
local points = capacity - spent - held
local pausedUntil = tonumber(redis.call('GET', KEYS[4]) or '0')
if pausedUntil > now then return {0, pausedUntil - now, points, inFlight, pausedUntil - now} end
local need = cost
if background then
  if redis.call('EXISTS', KEYS[5]) == 1 then return {0, tonumber(redis.call('PTTL', KEYS[5])), points, inFlight, 0} end
  if backgroundInFlight >= backgroundMaxIn then return {0, -1, points, inFlight, 0} end
  need = math.min(capacity, reserve + cost)
end
if inFlight >= maxIn then return {0, -1, points, inFlight, 0} end
if points < need then
  if not background then redis.call('SET', KEYS[5], '1', 'PX', tonumber(ARGV[10])) end
  local have = points
  local entries = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
  for i = 1, #entries, 2 do
    have = have + costOf(entries[i])
    if have >= need then return {0, math.max(0, tonumber(entries[i + 1]) + window - now), points, inFlight, 0} end
  end
  return {0, -1, points, inFlight, 0}
end
redis.call('ZADD', KEYS[3], now + lapse, ARGV[8] .. '|' .. cost .. '|' .. ARGV[2])
-- a replica whose foreground request still waits sets the flag again when it asks
if not background then redis.call('DEL', KEYS[5]) end
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], window + lapse) end
return {1, 0, points - cost, inFlight + 1, 0}
`;

// KEYS: spent, spent sum, in flight; ARGV: member, window, lapse
const RELEASE = `
if redis.call('ZREM', KEYS[3], ARGV[1]) == 0 then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('INCRBY', KEYS[2], tonumber(string.match(ARGV[1], '|(%d+)|')))
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], tonumber(ARGV[2]) + tonumber(ARGV[3])) end
return 1
`;

// KEYS: spent, spent sum; ARGV: member ("token|cost|f"), window. Points spent now without a slot (retries).
const CHARGE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('INCRBY', KEYS[2], tonumber(string.match(ARGV[1], '|(%d+)|')))
for i = 1, 2 do redis.call('PEXPIRE', KEYS[i], tonumber(ARGV[2])) end
return 1
`;

// KEYS: pause; ARGV: pause for ms (relative: replicas' clocks may disagree)
const PAUSE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local untilMs = now + tonumber(ARGV[1])
if untilMs > tonumber(redis.call('GET', KEYS[1]) or '0') then
  redis.call('SET', KEYS[1], untilMs, 'PX', tonumber(ARGV[1]) + 1000)
end
return untilMs
`;

interface Waiter {
  cost: number;
  priority: RequestPriority;
  grant: (release: () => void) => void;
}

declare module "ioredis" {
  interface RedisCommander<Context> {
    budgetTake(
      spent: string,
      spentSum: string,
      inFlight: string,
      pause: string,
      foregroundWaits: string,
      ...args: Array<string | number>
    ): Result<number[], Context>;
    budgetRelease(
      spent: string,
      spentSum: string,
      inFlight: string,
      member: string,
      windowMs: number,
      lapseMs: number,
    ): Result<number, Context>;
    budgetPause(pause: string, forMs: number): Result<number, Context>;
    budgetCharge(spent: string, spentSum: string, member: string, windowMs: number): Result<number, Context>;
  }
}

const defined = new WeakSet<object>();

/** Registers the scripts on the client once (ioredis sends EVALSHA, and the script itself if Redis lost it). */
function defineScripts(link: RedisLink): void {
  if (defined.has(link.client)) return;
  defined.add(link.client);
  link.client.defineCommand("budgetTake", { numberOfKeys: 5, lua: TAKE });
  link.client.defineCommand("budgetRelease", { numberOfKeys: 3, lua: RELEASE });
  link.client.defineCommand("budgetPause", { numberOfKeys: 1, lua: PAUSE });
  link.client.defineCommand("budgetCharge", { numberOfKeys: 2, lua: CHARGE });
}

export interface SharedBudgetOptions {
  link: RedisLink;
  /** Budget key: an installation id or "app". */
  key: string | number;
  limits: BudgetLimits;
  clock: Clock;
  /** Replicas the fleet had when last seen (this one included): the local share divides by it. */
  fleetSize: () => number;
  lapseMs?: number;
  /** Counts every Redis round trip (the docs report them per job). */
  onRoundTrip?: () => void;
}

let tokens = 0;

export class SharedInstallationBudget implements Budget {
  readonly #queues: Record<RequestPriority, Waiter[]> = { foreground: [], background: [] };
  readonly #keys: [string, string, string, string, string];
  #fallback: InstallationBudget | undefined;
  #fallbackSize = 0;
  #pumping = false;
  #timer: unknown;
  #timerAt = Infinity;
  /** What the last answer from Redis said (for headroom(), which must answer at once). */
  #seen = { points: 0, inFlight: 0 };
  #pausedUntil = 0;
  /** When the window frees enough points for the head of the queue, as Redis last said (undefined: unknown). */
  #refillsAt: number | undefined;
  #localInFlight = 0;
  /** What this replica spent, either way, within the last window: Redis may come back without it. */
  readonly #spent: Array<{ at: number; cost: number }> = [];

  constructor(private readonly options: SharedBudgetOptions) {
    defineScripts(options.link);
    const base = `{${options.key}}`;
    const key = (name: string) => options.link.key("budget", base, name);
    this.#keys = [key("spent"), key("spent-sum"), key("in-flight"), key("pause"), key("foreground-waits")];
    this.#seen.points = options.limits.capacity;
    options.link.onReturn(() => this.#replaySpent());
  }

  acquire(cost: number, priority: RequestPriority = "foreground"): Promise<() => void> {
    const capped = Math.min(cost, this.options.limits.capacity);
    const granted = this.options.link.available
      ? new Promise<() => void>((grant) => {
          this.#queues[priority].push({ cost: capped, priority, grant });
          void this.#pump();
        })
      : this.#local().acquire(capped, priority);
    return granted.then((release) => (this.#note(capped), release));
  }

  charge(cost: number): void {
    if (cost <= 0) return;
    this.#note(cost);
    if (!this.options.link.available) return this.#local().charge(cost);
    this.#chargeInRedis(cost);
  }

  /** Adds a spend to the fleet's window (a failure is the link's to report: it turns to the local share). */
  #chargeInRedis(cost: number): void {
    const { link, limits } = this.options;
    this.options.onRoundTrip?.();
    link.client.budgetCharge(this.#keys[0], this.#keys[1], `${link.replica}.${++tokens}|${cost}|f`, limits.windowMs).catch(() => undefined);
  }

  pause(untilMs: number): void {
    if (untilMs <= this.#pausedUntil) return;
    this.#pausedUntil = untilMs;
    this.#fallback?.pause(untilMs);
    const forMs = Math.max(0, Math.ceil(untilMs - this.options.clock.now()));
    if (this.options.link.available) {
      this.options.onRoundTrip?.();
      this.options.link.client.budgetPause(this.#keys[3], forMs).catch(() => undefined);
    }
    this.#wakeAt(untilMs);
  }

  headroom(): BudgetHeadroom {
    const now = this.options.clock.now();
    if (!this.options.link.available && this.#fallback) return this.#fallback.headroom();
    return {
      points: this.#seen.points,
      capacity: this.options.limits.capacity,
      inFlight: this.#seen.inFlight,
      queued: { foreground: this.#queues.foreground.length, background: this.#queues.background.length },
      pausedUntil: this.#pausedUntil > now ? this.#pausedUntil : undefined,
      refillsAt: this.#refillsAt !== undefined && this.#refillsAt > now ? this.#refillsAt : undefined,
    };
  }

  isIdle(): boolean {
    return (
      this.#queues.foreground.length + this.#queues.background.length === 0 &&
      this.#localInFlight === 0 &&
      this.#pausedUntil <= this.options.clock.now() &&
      (this.#fallback?.isIdle() ?? true)
    );
  }

  #note(cost: number): void {
    const now = this.options.clock.now();
    this.#spent.push({ at: now, cost });
    while (this.#spent.length > 0 && this.#spent[0]!.at <= now - this.options.limits.windowMs) this.#spent.shift();
  }

  /**
   * Redis is back, perhaps empty (a restart without persistence): GitHub still counts
   * what was spent in its window, so each replica charges what it spent in the last
   * window again (from now: conservative), and the fleet does not spend a full window on top.
   * After a blip that lost nothing, the spends before it count twice for one window: slower, never over.
   */
  #replaySpent(): void {
    const now = this.options.clock.now();
    const cost = this.#spent.filter((spend) => spend.at > now - this.options.limits.windowMs).reduce((sum, spend) => sum + spend.cost, 0);
    this.#fallback = undefined;
    if (cost > 0) this.#chargeInRedis(cost);
  }

  /** This replica's conservative share while Redis is away: the limits divided by the fleet's size. */
  #local(): InstallationBudget {
    const size = Math.max(1, this.options.fleetSize());
    if (!this.#fallback || this.#fallbackSize !== size) {
      const { limits } = this.options;
      const share = (value: number) => Math.max(1, Math.floor(value / size));
      this.#fallbackSize = size;
      this.#fallback = new InstallationBudget(
        {
          ...limits,
          capacity: share(limits.capacity),
          backgroundReserve: share(limits.backgroundReserve),
          maxInFlight: share(limits.maxInFlight),
          backgroundMaxInFlight: share(limits.backgroundMaxInFlight),
        },
        this.options.clock,
      );
      if (this.#pausedUntil > this.options.clock.now()) this.#fallback.pause(this.#pausedUntil);
    }
    return this.#fallback;
  }

  /** Asks Redis for the head of the queue until it must wait; one ask at a time. */
  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      for (;;) {
        const now = this.options.clock.now();
        if (this.#pausedUntil > now) return this.#wakeAt(this.#pausedUntil);
        const waiter = this.#queues.foreground[0] ?? this.#queues.background[0];
        if (!waiter) return;
        if (!this.options.link.available) return this.#toLocal();
        const { limits, link } = this.options;
        const member = `${link.replica}.${++tokens}`;
        let answer: number[];
        try {
          this.options.onRoundTrip?.();
          answer = await link.client.budgetTake(
            ...this.#keys,
            waiter.cost,
            waiter.priority === "background" ? "b" : "f",
            limits.capacity,
            limits.windowMs,
            limits.backgroundReserve,
            limits.maxInFlight,
            limits.backgroundMaxInFlight,
            member,
            this.options.lapseMs ?? IN_FLIGHT_LAPSE_MS,
            FOREGROUND_WAIT_FLAG_MS,
          );
        } catch {
          return this.#toLocal();
        }
        const [granted, waitMs, points, inFlight, pausedForMs] = answer.map(Number) as [number, number, number, number, number];
        this.#seen = { points, inFlight };
        const at = this.options.clock.now();
        if (pausedForMs > 0 && at + pausedForMs > this.#pausedUntil) this.#pausedUntil = at + pausedForMs;
        this.#refillsAt = granted !== 1 && waitMs > 0 && pausedForMs === 0 ? at + waitMs : undefined;
        if (granted !== 1) return this.#wakeAt(at + (waitMs < 0 ? POLL_MS : Math.max(waitMs, 1)));
        this.#queues[waiter.priority].shift();
        this.#start(waiter, `${member}|${waiter.cost}|${waiter.priority === "background" ? "b" : "f"}`);
      }
    } finally {
      this.#pumping = false;
    }
  }

  #start(waiter: Waiter, member: string): void {
    this.#localInFlight++;
    let released = false;
    waiter.grant(() => {
      if (released) return;
      released = true;
      this.#localInFlight--;
      const { link, limits } = this.options;
      if (link.available) {
        this.options.onRoundTrip?.();
        link.client
          .budgetRelease(this.#keys[0], this.#keys[1], this.#keys[2], member, limits.windowMs, this.options.lapseMs ?? IN_FLIGHT_LAPSE_MS)
          .catch(() => undefined) // Redis away: the slot lapses there by itself
          .finally(() => void this.#pump());
      }
    });
  }

  /** Redis is away: whatever waits here goes through the local share. */
  #toLocal(): void {
    const local = this.#local();
    for (const priority of ["foreground", "background"] as const) {
      for (const waiter of this.#queues[priority].splice(0)) void local.acquire(waiter.cost, priority).then(waiter.grant);
    }
  }

  #wakeAt(at: number): void {
    if (this.#timer !== undefined && this.#timerAt <= at) return;
    if (this.#timer !== undefined) this.options.clock.clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = this.options.clock.setTimeout(
      () => {
        this.#timer = undefined;
        this.#timerAt = Infinity;
        void this.#pump();
      },
      Math.max(0, at - this.options.clock.now()),
    );
  }
}
