// The deployment files a user copies (docker-compose.yml, deploy/kubernetes/) name only
// settings the App has, and their probes ask paths the App answers.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { parseAllDocuments } from "yaml";
import { SETTINGS } from "../../src/settings/settings-schema.js";
import { startWorld, type World } from "../support/app-harness.js";

const KUBERNETES = "deploy/kubernetes";
/** Variables the files set that are Node's or the image's, not the App's settings. */
const NOT_SETTINGS = new Set(["NODE_ENV"]);

type Node = unknown;
const documents = (file: string): Node[] => parseAllDocuments(readFileSync(file, "utf8")).map((document) => document.toJS() as Node);
const kubernetes = readdirSync(KUBERNETES)
  .filter((name) => name.endsWith(".yaml"))
  .flatMap((name) => documents(path.join(KUBERNETES, name)).map((document) => ({ file: name, document })));

/** Every object in a parsed document, depth first. */
function walk(node: Node, visit: (object: Record<string, unknown>) => void): void {
  if (Array.isArray(node)) node.forEach((item) => walk(item, visit));
  else if (node && typeof node === "object") {
    visit(node as Record<string, unknown>);
    Object.values(node).forEach((value) => walk(value, visit));
  }
}

function kindOf(kind: string) {
  return kubernetes.filter(({ document }) => (document as { kind?: string }).kind === kind).map(({ document }) => document as any);
}

test("every variable the files set is one of the App's settings", () => {
  const named = new Set<string>();
  const compose = documents("docker-compose.yml")[0] as { services: Record<string, { environment?: Record<string, string> }> };
  for (const name of Object.keys(compose.services.app!.environment ?? {})) named.add(name);
  for (const { document } of kubernetes) {
    const kind = (document as { kind?: string }).kind;
    if (kind === "ConfigMap" || kind === "Secret") {
      const data = { ...(document as { data?: object }).data, ...(document as { stringData?: object }).stringData };
      for (const name of Object.keys(data)) named.add(name);
    }
    walk(document, (object) => {
      if (Array.isArray(object.env)) for (const entry of object.env as Array<{ name: string }>) named.add(entry.name);
    });
  }
  expect(named.size).toBeGreaterThan(5);
  expect([...named].filter((name) => !(name in SETTINGS) && !NOT_SETTINGS.has(name))).toEqual([]);
});

test("the Deployment runs 3 non-root replicas on a read-only root filesystem, with resources, a PodDisruptionBudget and Redis", () => {
  const app = kindOf("Deployment").find((deployment) => deployment.metadata.name === "modal-github-runner");
  expect(app.spec.replicas).toBe(3);
  const pod = app.spec.template.spec;
  const container = pod.containers[0];
  expect(pod.securityContext.runAsNonRoot).toBe(true);
  expect(container.securityContext.readOnlyRootFilesystem).toBe(true);
  expect(container.resources.requests.memory).toBeDefined();
  expect(container.resources.limits.memory).toBeDefined();
  expect(kindOf("PodDisruptionBudget")).toHaveLength(1);
  expect(kindOf("Service").map((service) => service.metadata.name)).toEqual(
    expect.arrayContaining(["modal-github-runner", "modal-github-runner-redis"]),
  );
  const configMap = kindOf("ConfigMap")[0];
  expect(configMap.data.REDIS_URL).toBe("redis://modal-github-runner-redis:6379");
  const secretNames = pod.containers[0].envFrom.map((source: any) => source.secretRef?.name).filter(Boolean);
  expect(secretNames).toEqual([kindOf("Secret")[0].metadata.name]);
});

describe("probes", () => {
  let world: World;
  afterAll(async () => world?.close());

  test("the paths of every probe answer 200 on a running App", async () => {
    const paths = new Set<string>();
    for (const { document } of kubernetes)
      walk(document, (object) => {
        const get = object.httpGet as { path?: string } | undefined;
        if (get?.path) paths.add(get.path);
      });
    const compose = readFileSync("docker-compose.yml", "utf8");
    for (const match of compose.matchAll(/127\.0\.0\.1:3000(\/[a-z]+)/g)) paths.add(match[1]!);
    expect([...paths].sort()).toEqual(["/health", "/ping"]);

    world = await startWorld();
    const app = await world.startApp();
    await app.parts.reconciler.run({ reason: "test" }); // /health is ready once a pass has seen GitHub and Modal
    for (const probe of paths) expect([probe, (await fetch(`${app.url}${probe}`)).status]).toEqual([probe, 200]);
  });
});
