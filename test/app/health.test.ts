// /ping is liveness (the process answers); /health is readiness: it says when the
// App cannot serve jobs (no reconcile pass has succeeded yet, GitHub or Modal
// unreachable, the last reconcile pass blind) and why, in plain words.
import { settled, startOrgWorld, eventually, type World } from "../support/app-harness.js";
import { freePort } from "../support/free-port.js";

let world: World;
beforeEach(async () => {
  world = await startOrgWorld();
});
afterEach(async () => {
  await world.close();
});

const health = async (url: string) => {
  const response = await fetch(`${url}/health`);
  return { status: response.status, body: (await response.json()) as { ready: boolean; problems: string[] } };
};

test("ready while Modal answers; 503 with the reason while it is down; ready again after", async () => {
  const app = await world.startApp();
  await app.parts.fleet.prepare(app.settings.runner.config.profiles);
  await settled(world);
  // Not ready before the first reconcile pass has seen GitHub and Modal.
  expect(await health(app.url)).toEqual({
    status: 503,
    body: expect.objectContaining({ problems: ["no reconcile pass has succeeded yet"] }),
  });
  await app.parts.reconciler.run({ reason: "test" });
  expect(await health(app.url)).toEqual({ status: 200, body: expect.objectContaining({ ready: true, problems: [] }) });
  expect((await fetch(`${app.url}/ping`)).status).toBe(200);

  world.modal.setOutage(true);
  await world.github.deliverWorkflowJob("queued", world.github.queueJob({ owner: "octo-org", repo: "app", labels: ["modal"] }));
  await eventually(() => app.parts.modalUnavailable() !== undefined, "the breaker opens");
  const down = await health(app.url);
  expect(down.status).toBe(503);
  expect(down.body.problems).toEqual([expect.stringMatching(/^Modal is unreachable since .* \(next try .*\): Modal UNAVAILABLE/)]);
  // One reason, said once, in plain words.
  expect(down.body.problems[0]).not.toMatch(/circuit|breaker|Modal is unavailable: Modal is unavailable/);
  const pass = await app.parts.reconciler.run({ reason: "test" });
  expect(pass).toMatchObject({ ok: false, problem: expect.stringMatching(/^could not observe Modal/) });
  expect((await health(app.url)).body.problems).toEqual([
    expect.stringMatching(/^Modal is unreachable/),
    expect.stringMatching(/^the last reconcile pass \(.*\) failed: could not observe Modal/),
  ]);
  expect((await fetch(`${app.url}/ping`)).status).toBe(200); // alive all along: no restart would help

  world.modal.setOutage(false);
  await eventually(() => app.parts.modalUnavailable() === undefined, "the breaker closes");
  await app.parts.reconciler.run({ reason: "test" });
  expect((await health(app.url)).status).toBe(200);
});

test("GitHub unreachable (GHE_HOST at a closed port): 503 naming GitHub after one reconcile pass", async () => {
  const closed = await freePort();
  const app = await world.startApp({ GHE_HOST: `127.0.0.1:${closed}` });
  await app.parts.fleet.prepare(app.settings.runner.config.profiles);
  await app.parts.reconciler.run({ reason: "test" });
  const down = await health(app.url);
  expect(down.status).toBe(503);
  expect(down.body.problems).toEqual(
    expect.arrayContaining([expect.stringMatching(/^GitHub is unreachable since .*: could not reach GitHub .*ECONNREFUSED/)]),
  );
  const status = (await (
    await fetch(`${app.url}/status.json`, { headers: { authorization: `Bearer ${app.settings.observe.statusToken}` } })
  ).json()) as {
    github: { reachable: boolean; reason?: string };
  };
  expect(status.github).toMatchObject({ reachable: false, reason: expect.stringContaining("ECONNREFUSED") });
});
