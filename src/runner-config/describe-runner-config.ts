// What the App logs once at start-up about its runner configuration: each profile
// with its labels and size, and the caps, so an operator sees what was loaded
// without reading the file. Structured fields, no secrets (env values and Modal
// secret names stay out; only how many there are).
import type { RunnerConfig } from "../model/runner-profile.js";

export function describeRunnerConfig(config: RunnerConfig): Record<string, unknown> {
  return {
    profiles: config.profiles.map((profile) => ({
      name: profile.name,
      labels: profile.labels,
      cpu: profile.cpu,
      memoryMiB: profile.memoryMiB,
      ...(profile.gpu && { gpu: profile.gpu }),
      timeoutS: profile.timeoutMs / 1000,
      image: profile.image.baseImage,
      egress: profile.network.egress,
      sudo: profile.sudo,
      ...(profile.docker && { docker: profile.docker }),
      ...(profile.runtime && { runtime: profile.runtime }),
      ...(profile.maxSandboxes !== undefined && { maxSandboxes: profile.maxSandboxes }),
    })),
    caps: {
      total: config.caps.total ?? null,
      perInstallation: config.caps.perInstallation ?? null,
      perRepository: config.caps.perRepository ?? null,
      perProfile: config.caps.perProfile,
    },
    ...(Object.keys(config.prices).length > 0 && { prices: config.prices }),
  };
}
