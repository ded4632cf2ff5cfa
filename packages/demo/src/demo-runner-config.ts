// The demo's runner configuration: three profiles a team would recognise (default,
// large, gpu) and caps low enough that a burst of jobs has to wait its turn, so the
// status page shows waiting, dispatching and running side by side.
import { writeFileSync } from "node:fs";
import path from "node:path";

export const DEMO_RUNNER_CONFIG = `# Written by \`npm run demo\` (see packages/demo/src/demo-runner-config.ts).
caps:
  total: 24
  perInstallation: 16
  perRepository: 12

profiles:
  default:
    labels: [modal]
    cpu: 2
    memoryMiB: 4096
    timeout: 1h
  large:
    labels: [modal, large]
    cpu: 16
    memoryMiB: 65536
    timeout: 2h
    maxSandboxes: 4
  gpu:
    labels: [modal, gpu]
    gpu: T4
    cpu: 4
    memoryMiB: 16384
    timeout: 1h
    maxSandboxes: 2
`;

/** Writes the configuration into `dir` and returns its path (for RUNNER_CONFIG). */
export function writeDemoRunnerConfig(dir: string): string {
  const file = path.join(dir, "runner-config.yml");
  writeFileSync(file, DEMO_RUNNER_CONFIG);
  return file;
}
