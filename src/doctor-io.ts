// The doctor talks to GitHub and Modal exactly as the server does: the same
// Octokit (budget, retries, logging that scrubs secrets) and the same Modal client.
import type { DoctorIo } from "./doctor/run-doctor.js";
import { createRuntimeIo, type RuntimeOptions } from "./runtime-io.js";
import type { Settings } from "./settings/load-settings.js";

export function doctorIo(settings: Settings, options: RuntimeOptions = {}): DoctorIo {
  const { github, modal } = createRuntimeIo(settings, options);
  return { appOctokit: github.app, installationOctokit: github.installation, modal };
}
