// Exact caps for a fleet: every slot (a dispatch in flight, a running sandbox) is a
// holder in Redis with its placement and a deadline, and counters per scope (total,
// installation, repository, profile, profile within an installation). One Lua script
// per reservation checks all five caps and takes the slot atomically, so two replicas cannot both take the last one.
// - A reservation ("j<job id>") lapses after `reservationTtlMs` unless its sandbox
//   starts; a started sandbox ("s<name>") lapses after the longest sandbox lifetime
//   (Modal ends it by then), or when its job completes, or when a pass's list from
//   Modal no longer shows it. A holder whose replica died therefore never leaks.
// - Each reconcile pass corrects the holders against Modal's list and rebuilds the
//   counters from them: after Redis restarted empty the count comes back from Modal.
// When Redis is unreachable the local count (dispatch/capacity.ts, kept by the
// dispatcher all along) decides alone, on the caps divided by the fleet's last known size.
import type { Result } from "ioredis";
import type { Caps } from "../model/runner-profile.js";
import { listedPlacement, shareOfCaps, type FleetCaps, type ListedSandbox, type Placement, type Reservation } from "./cap-reservations.js";
import type { RedisLink } from "./redis-link.js";

const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;
// Holders: hash holder → "installation\\trepository\\tprofile\\tstartedAt"; deadlines: zset holder → ms.
// Counters: hash "t", "i:<installation>", "r:<repository>", "p:<profile>", "ip:<installation>:<profile>".
const HELPERS = `
local function fields(placement)
  local i, r, p = string.match(placement, '^([^\\t]*)\\t([^\\t]*)\\t([^\\t]*)')
  return {'t', 'i:' .. i, 'r:' .. r, 'p:' .. p, 'ip:' .. i .. ':' .. p}
end
local function drop(holder)
  local placement = redis.call('HGET', KEYS[1], holder)
  if not placement then return 0 end
  for _, field in ipairs(fields(placement)) do redis.call('HINCRBY', KEYS[3], field, -1) end
  redis.call('HDEL', KEYS[1], holder)
  redis.call('ZREM', KEYS[2], holder)
  return 1
end
local function add(holder, placement, deadline)
  for _, field in ipairs(fields(placement)) do redis.call('HINCRBY', KEYS[3], field, 1) end
  redis.call('HSET', KEYS[1], holder, placement)
  redis.call('ZADD', KEYS[2], deadline, holder)
end
local function expire(now)
  for _, holder in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)) do drop(holder) end
end
`;
const KEYS_HELP = "-- KEYS: holders, deadlines, counters";

// ARGV: holder, placement, ttl, then the five limits (-1: none). Returns 0 (reserved) or the index of the cap reached, and its count.
const RESERVE = `${KEYS_HELP}
${NOW}${HELPERS}
expire(now)
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), ARGV[1])
  return {0, 0}
end
local names = fields(ARGV[2])
local counts = redis.call('HMGET', KEYS[3], names[1], names[2], names[3], names[4], names[5])
for i = 1, 5 do
  local limit = tonumber(ARGV[3 + i])
  local used = tonumber(counts[i] or '0')
  if limit >= 0 and used >= limit then return {i, used} end
end
add(ARGV[1], ARGV[2], now + tonumber(ARGV[3]))
return {0, 0}
`;
// ARGV: reservation holder, sandbox holder, lifetime, startedAt
const STARTED = `${KEYS_HELP}
${NOW}${HELPERS}
local placement = redis.call('HGET', KEYS[1], ARGV[1])
if not placement then return 0 end
drop(ARGV[1])
if redis.call('HEXISTS', KEYS[1], ARGV[2]) == 1 then return 1 end
local i, r, p = string.match(placement, '^([^\\t]*)\\t([^\\t]*)\\t([^\\t]*)')
add(ARGV[2], i .. '\\t' .. r .. '\\t' .. p .. '\\t' .. ARGV[4], now + tonumber(ARGV[3]))
return 1
`;
// ARGV: holder, installation (or '' for any), owner (or '' for any)
const DROP = `${KEYS_HELP}
${NOW}${HELPERS}
local placement = redis.call('HGET', KEYS[1], ARGV[1])
if not placement then return 0 end
local i, r = string.match(placement, '^([^\\t]*)\\t([^\\t]*)')
if ARGV[2] ~= '' and i ~= ARGV[2] then return 0 end
if ARGV[3] ~= '' and string.match(r, '^([^/]*)') ~= ARGV[3] then return 0 end
return drop(ARGV[1])
`;
// ARGV: listedAt, lifetime, then holder/placement pairs of every listed sandbox.
// Sandboxes started before the list and missing from it have ended; listed ones not held are added.
const CORRECT = `${KEYS_HELP}
${NOW}${HELPERS}
expire(now)
local listedAt = tonumber(ARGV[1])
local listed = {}
for i = 3, #ARGV, 2 do listed[ARGV[i]] = ARGV[i + 1] end
local held = redis.call('HGETALL', KEYS[1])
for i = 1, #held, 2 do
  local holder, placement = held[i], held[i + 1]
  if string.sub(holder, 1, 1) == 's' and not listed[holder] then
    local startedAt = tonumber(string.match(placement, '\\t([^\\t]*)$') or '0') or 0
    if startedAt < listedAt then drop(holder) end
  end
end
for holder, placement in pairs(listed) do
  if redis.call('HEXISTS', KEYS[1], holder) == 0 then add(holder, placement, now + tonumber(ARGV[2])) end
end
-- the counters, rebuilt from the holders (they are what the scripts above keep in step)
redis.call('DEL', KEYS[3])
held = redis.call('HGETALL', KEYS[1])
for i = 2, #held, 2 do
  for _, field in ipairs(fields(held[i])) do redis.call('HINCRBY', KEYS[3], field, 1) end
end
return #held / 2
`;

declare module "ioredis" {
  interface RedisCommander<Context> {
    capReserve(holders: string, deadlines: string, counters: string, ...args: Array<string | number>): Result<number[], Context>;
    capStarted(holders: string, deadlines: string, counters: string, ...args: Array<string | number>): Result<number, Context>;
    capDrop(holders: string, deadlines: string, counters: string, ...args: Array<string | number>): Result<number, Context>;
    capCorrect(holders: string, deadlines: string, counters: string, ...args: Array<string | number>): Result<number, Context>;
  }
}

export interface RedisCapReservationsOptions {
  fleetSize: () => number;
  /** A reservation whose sandbox never starts lapses after this (about REGISTRATION_GRACE). */
  reservationTtlMs: number;
  /** A started sandbox's slot lapses after this at the latest (the longest sandbox lifetime). */
  lifetimeMs: number;
  now: () => number;
  onRoundTrip?: () => void;
}

export class RedisCapReservations implements FleetCaps {
  readonly #keys: [string, string, string];
  #size = 0;

  constructor(
    private readonly link: RedisLink,
    private readonly options: RedisCapReservationsOptions,
  ) {
    const client = link.client;
    client.defineCommand("capReserve", { numberOfKeys: 3, lua: RESERVE });
    client.defineCommand("capStarted", { numberOfKeys: 3, lua: STARTED });
    client.defineCommand("capDrop", { numberOfKeys: 3, lua: DROP });
    client.defineCommand("capCorrect", { numberOfKeys: 3, lua: CORRECT });
    this.#keys = [link.key("caps", "holders"), link.key("caps", "deadlines"), link.key("caps", "counters")];
  }

  get size(): number {
    return this.#size;
  }

  localCaps(caps: Caps): Caps {
    return this.link.available ? caps : shareOfCaps(caps, this.options.fleetSize());
  }

  observe(sandboxes: ListedSandbox[], listedAt: number): void {
    const pairs = sandboxes.flatMap((sandbox) => [`s${sandbox.name}`, placementOf(listedPlacement(sandbox), listedAt)]);
    void this.#send((client) => client.capCorrect(...this.#keys, listedAt, this.options.lifetimeMs, ...pairs)).then((held) => {
      if (typeof held === "number") this.#size = held;
    });
  }

  async reserve(jobId: number, placement: Placement, caps: Caps): Promise<Reservation> {
    // Redis away (or gone meanwhile): the local count already decided, on this replica's share.
    if (!this.link.available) return { ok: true };
    const limits = [
      caps.total,
      caps.perInstallation,
      caps.perRepository,
      caps.perProfile[placement.profile],
      caps.perInstallationProfile?.[placement.profile],
    ];
    let answer: number[];
    try {
      this.options.onRoundTrip?.();
      answer = await this.link.client.capReserve(
        ...this.#keys,
        `j${jobId}`,
        placementOf(placement, 0),
        this.options.reservationTtlMs,
        ...limits.map((limit) => limit ?? -1),
      );
    } catch {
      return { ok: true };
    }
    const [reached, used] = answer.map(Number) as [number, number];
    if (reached === 0) return { ok: true };
    const names = [
      "total",
      "per installation",
      "per repository",
      `per profile ${placement.profile}`,
      `per profile ${placement.profile} in this installation`,
    ];
    return { ok: false, reason: `${names[reached - 1]} (${used}/${limits[reached - 1]})` };
  }

  started(jobId: number, sandboxName: string): void {
    void this.#send((client) =>
      client.capStarted(...this.#keys, `j${jobId}`, `s${sandboxName}`, this.options.lifetimeMs, this.options.now()),
    );
  }

  release(jobId: number): void {
    void this.#send((client) => client.capDrop(...this.#keys, `j${jobId}`, "", ""));
  }

  ended(sandboxName: string, installationId: number, repository?: string): void {
    const owner = repository === undefined ? "" : repository.toLowerCase().split("/")[0]!;
    void this.#send((client) => client.capDrop(...this.#keys, `s${sandboxName}`, installationId, owner));
  }

  /** A change Redis may miss (it is away): the lapse and the next pass's correction make up for it. */
  #send<T>(command: (client: RedisLink["client"]) => Promise<T>): Promise<T | undefined> {
    if (!this.link.available) return Promise.resolve(undefined);
    this.options.onRoundTrip?.();
    return command(this.link.client).catch(() => undefined);
  }
}

function placementOf(placement: Placement, startedAt: number): string {
  const clean = (value: string) => value.replace(/\t/g, " ");
  return `${placement.installationId}\t${clean(placement.repository.toLowerCase())}\t${clean(placement.profile)}\t${startedAt}`;
}
