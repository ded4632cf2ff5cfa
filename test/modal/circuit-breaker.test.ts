// The creation breaker: opens after consecutive transient failures, lets one probe (a
// real create) at a time through with capped exponential backoff, closes on a create's
// success and on nothing else.
import { ClientError, Status } from "nice-grpc";
import { CircuitBreaker, CircuitOpenError, type CircuitBreakerOptions } from "../../src/modal/circuit-breaker.js";
import { ManualClock, flush } from "../support/manual-clock.js";

const unavailable = () => new ClientError("/modal.client.ModalClient/SandboxCreateV2", Status.UNAVAILABLE, "control plane unreachable");
const alreadyExists = () => new ClientError("/modal.client.ModalClient/SandboxCreateV2", Status.ALREADY_EXISTS, "name taken");
const fail = (error: Error) => () => Promise.reject(error);
const ok = () => Promise.resolve("ok");

function setup(options: Partial<CircuitBreakerOptions> = {}) {
  const clock = new ManualClock();
  const opened: string[] = [];
  const closed: number[] = [];
  const breaker = new CircuitBreaker({
    failureThreshold: 3,
    probeBaseMs: 1000,
    probeMaxMs: 30_000,
    clock,
    onOpen: (reason) => opened.push(reason),
    onClose: (downForMs) => closed.push(downForMs),
    ...options,
  });
  return { clock, breaker, opened, closed };
}

async function failTimes(breaker: CircuitBreaker, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await expect(breaker.run(fail(unavailable()))).rejects.toBeInstanceOf(ClientError);
}

describe("opening", () => {
  test.each([
    ["two transient failures stay closed", [unavailable(), unavailable()], "closed"],
    ["three consecutive transient failures open it", [unavailable(), unavailable(), unavailable()], "open"],
    ["a success in between resets the count", [unavailable(), unavailable(), null, unavailable()], "closed"],
    ["a non-transient error proves Modal answers", [unavailable(), unavailable(), alreadyExists(), unavailable()], "closed"],
    ["non-transient errors never open it", [alreadyExists(), alreadyExists(), alreadyExists(), alreadyExists()], "closed"],
  ])("%s", async (_name, outcomes, expected) => {
    const { breaker } = setup();
    for (const outcome of outcomes) await breaker.run(outcome ? fail(outcome) : ok).catch(() => undefined);
    expect(breaker.state().state).toBe(expected);
  });

  test("opening calls onOpen exactly once with the reason, however many calls fail after", async () => {
    const { breaker, opened } = setup();
    const inFlight = [
      breaker.run(fail(unavailable())),
      breaker.run(fail(unavailable())),
      breaker.run(fail(unavailable())),
      breaker.run(fail(unavailable())),
    ];
    await Promise.allSettled(inFlight);
    expect(opened).toHaveLength(1);
    expect(opened[0]).toMatch(/UNAVAILABLE/);
  });
});

describe("while open", () => {
  test("nothing new is attempted before the first probe is due", async () => {
    const { clock, breaker } = setup();
    await failTimes(breaker, 3);
    let calls = 0;
    const call = () => {
      calls++;
      return Promise.resolve();
    };
    expect(breaker.allows()).toBe(false);
    await expect(breaker.run(call)).rejects.toBeInstanceOf(CircuitOpenError);
    await clock.advance(999);
    await expect(breaker.run(call)).rejects.toBeInstanceOf(CircuitOpenError);
    expect(calls).toBe(0);
  });

  test("one probe at a time: a second caller is refused while the probe runs", async () => {
    const { clock, breaker } = setup();
    await failTimes(breaker, 3);
    await clock.advance(1000);
    expect(breaker.allows()).toBe(true);
    let finishProbe!: () => void;
    const probe = breaker.run(() => new Promise<void>((resolve) => (finishProbe = resolve)));
    expect(breaker.allows()).toBe(false);
    await expect(breaker.run(ok)).rejects.toBeInstanceOf(CircuitOpenError);
    expect(breaker.state()).toMatchObject({ state: "open", probing: true });
    finishProbe();
    await probe;
    expect(breaker.state().state).toBe("closed");
  });

  test("failed probes back off 1 s, 2 s, 4 s … capped at 30 s", async () => {
    const { clock, breaker } = setup();
    await failTimes(breaker, 3);
    const gaps: number[] = [];
    let last = clock.now();
    for (let i = 0; i < 8; i++) {
      const s = breaker.state();
      if (s.state !== "open") throw new Error("closed unexpectedly");
      gaps.push(s.nextProbeAt - last);
      await clock.advance(s.nextProbeAt - clock.now());
      last = clock.now();
      await expect(breaker.run(fail(unavailable()))).rejects.toBeInstanceOf(ClientError);
    }
    expect(gaps).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  });

  test("a call that started before opening and fails late does not push the probe back", async () => {
    const { clock, breaker } = setup();
    let failLate!: () => void;
    const late = breaker.run(() => new Promise<void>((_resolve, reject) => (failLate = () => reject(unavailable()))));
    await failTimes(breaker, 3);
    const before = breaker.state();
    failLate();
    await expect(late).rejects.toBeInstanceOf(ClientError);
    expect(breaker.state()).toEqual(before);
    await clock.advance(1000);
    expect(breaker.allows()).toBe(true);
  });
});

describe("closing", () => {
  test("a probe success closes it, calls onClose once with the downtime and wakes every waiter", async () => {
    const { clock, breaker, closed } = setup();
    await failTimes(breaker, 3);
    const woken: string[] = [];
    void breaker.whenClosed().then(() => woken.push("a"));
    void breaker.whenClosed().then(() => woken.push("b"));
    await clock.advance(1000);
    await expect(breaker.run(fail(unavailable()))).rejects.toBeInstanceOf(ClientError);
    await clock.advance(2000);
    await breaker.run(ok);
    await flush();
    expect(closed).toEqual([3000]);
    expect(woken).toEqual(["a", "b"]);
    expect(breaker.state()).toEqual({ state: "closed", consecutiveFailures: 0 });
    expect(breaker.allows()).toBe(true);
  });

  test("whenAllowed resolves when a probe is due, so a waiting job can be the probe", async () => {
    const { clock, breaker } = setup();
    await failTimes(breaker, 3);
    let allowed = false;
    void breaker.whenAllowed().then(() => (allowed = true));
    await clock.advance(999);
    expect(allowed).toBe(false);
    await clock.advance(1);
    expect(allowed).toBe(true);
  });

  test("it never probes by itself: without a create it stays open, however long", async () => {
    const { clock, breaker } = setup();
    await failTimes(breaker, 3);
    await clock.advance(120_000);
    expect(breaker.state()).toMatchObject({ state: "open", probing: false });
    expect(breaker.allows()).toBe(true); // the next create is the probe
    expect(clock.pendingTimers()).toBe(0);
  });

  test("a step before the create (judge) counts its transient failures, never closes, and fails a due probe", async () => {
    const { clock, breaker } = setup();
    breaker.judge(unavailable());
    breaker.judge(alreadyExists()); // not transient: changes nothing
    breaker.judge(unavailable());
    expect(breaker.state()).toEqual({ state: "closed", consecutiveFailures: 2 });
    breaker.judge(unavailable());
    expect(breaker.state().state).toBe("open");
    breaker.judge(unavailable()); // beside no probe: adds nothing
    expect(breaker.state()).toMatchObject({ failedProbes: 0 });
    await clock.advance(1000);
    breaker.judge(unavailable()); // the probe's step failed: back off
    expect(breaker.state()).toMatchObject({ state: "open", failedProbes: 1, nextProbeAt: clock.now() + 2000 });
    expect(() => breaker.check()).toThrow(CircuitOpenError);
    await clock.advance(2000);
    expect(() => breaker.check()).not.toThrow();
    await breaker.run(ok);
    expect(breaker.state().state).toBe("closed");
  });
});
