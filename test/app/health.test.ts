// /ping is liveness (the process answers); /health is readiness: it says when the
// App cannot serve jobs (Modal unreachable, the last reconcile pass blind) and why.
import { settled, startOrgWorld, eventually, type World } from "../support/app-harness.js";

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
  expect(await health(app.url)).toEqual({ status: 200, body: expect.objectContaining({ ready: true, problems: [] }) });
  expect((await fetch(`${app.url}/ping`)).status).toBe(200);

  world.modal.setOutage(true);
  await world.github.deliverWorkflowJob("queued", world.github.queueJob({ owner: "octo-org", repo: "app", labels: ["modal"] }));
  await eventually(() => app.parts.modalUnavailable() !== undefined, "the breaker opens");
  const down = await health(app.url);
  expect(down.status).toBe(503);
  expect(down.body.problems).toEqual([expect.stringMatching(/^Modal is unavailable: .*UNAVAILABLE/)]);
  const pass = await app.parts.reconciler.run({ reason: "test" });
  expect(pass).toMatchObject({ ok: false, problem: expect.stringMatching(/^could not observe Modal/) });
  expect((await health(app.url)).body.problems).toHaveLength(2);
  expect((await fetch(`${app.url}/ping`)).status).toBe(200); // alive all along: no restart would help

  world.modal.setOutage(false);
  await eventually(() => app.parts.modalUnavailable() === undefined, "the breaker closes");
  await app.parts.reconciler.run({ reason: "test" });
  expect((await health(app.url)).status).toBe(200);
});
