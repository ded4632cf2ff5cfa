// Docker in jobs, through the whole App: a job asking for a Docker profile gets a
// sandbox the control plane is asked to run with Docker support, from an image
// whose build installs a Docker engine; a plain job does not.
import { runnerBuildArgs } from "../../src/runner-config/runner-build-args.js";
import { settled, startWorld, type World } from "../support/app-harness.js";
import { runnerConfigFile } from "../profiles/config-file.js";

let world: World;

const CONFIG = `
profiles:
  default:
    labels: [modal]
  docker:
    labels: [modal, docker]
    docker: true
  docker-gvisor:
    labels: [modal, docker-gvisor]
    docker: gvisor
  vm:
    labels: [modal, vm]
    runtime: vm
`;

// One world for the file: each case serves a job of its own and reads only that job's
// sandbox and image.
beforeAll(async () => {
  world = await startWorld();
  const installation = world.github.addInstallation({ account: "octo-org", accountType: "Organization" });
  world.github.addRepository({ installationId: installation.id, owner: "octo-org", name: "app" });
  await world.startApp({ RUNNER_CONFIG: runnerConfigFile(CONFIG) });
});

afterEach(() => {
  world.github.assertNoViolations();
});

afterAll(async () => {
  await world.close();
});

async function serve(labels: string[]) {
  const job = world.github.queueJob({ owner: "octo-org", repo: "app", labels });
  await world.github.deliverWorkflowJob("queued", job);
  await settled(world);
  const sandbox = world.modal.sandboxes().find((entry) => entry.name === `modal-${job.id}-0`)!;
  const image = world.modal.images().find((entry) => entry.imageId === sandbox.imageId)!;
  return { sandbox, install: image.dockerfileCommands.join("\n") };
}

test("a [self-hosted, modal, docker] job gets a VM sandbox, from an image that installs Docker, told to start dockerd", async () => {
  const { sandbox, install } = await serve(["self-hosted", "modal", "docker"]);
  expect(sandbox).toMatchObject({ runtime: "vm", experimentalOptions: {}, tags: expect.objectContaining({ profile: "docker" }) });
  expect(sandbox.env.MODAL_RUNNER_DOCKER).toBe("vm");
  expect(install).toContain(`docker-ce=5:${runnerBuildArgs().DOCKER_VERSION}`);
  expect(install).toContain("docker-compose-plugin=");
});

test("docker: gvisor asks for enable_docker on Modal's default runtime", async () => {
  const { sandbox, install } = await serve(["self-hosted", "modal", "docker-gvisor"]);
  expect(sandbox).toMatchObject({ runtime: undefined, experimentalOptions: { enable_docker: "true" } });
  expect(sandbox.env.MODAL_RUNNER_DOCKER).toBe("gvisor");
  expect(install).toContain("docker-ce=5:");
});

test("runtime: vm alone is the VM without Docker", async () => {
  const { sandbox, install } = await serve(["self-hosted", "modal", "vm"]);
  expect(sandbox).toMatchObject({ runtime: "vm", experimentalOptions: {} });
  expect(sandbox.env.MODAL_RUNNER_DOCKER).toBeUndefined();
  expect(install).not.toContain("docker-ce");
});

test("a plain job gets no Docker: no runtime, no option, no Docker engine, no dockerd", async () => {
  const { sandbox, install } = await serve(["self-hosted", "modal"]);
  expect(sandbox).toMatchObject({ runtime: undefined, experimentalOptions: {}, tags: expect.objectContaining({ profile: "default" }) });
  expect(sandbox.env.MODAL_RUNNER_DOCKER).toBeUndefined();
  expect(install).not.toContain("docker-ce");
});
