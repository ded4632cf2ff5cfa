// The doctor talks to GitHub and Modal exactly as the server does: the same
// Octokit (retry, throttling, logging that scrubs secrets) and the same Modal client.
import { Probot } from "probot";
import { probotOptions, type RuntimeOptions } from "../probot-options.js";
import type { AppOctokit } from "../github/create-octokit-class.js";
import type { Settings } from "../settings/load-settings.js";
import type { DoctorIo } from "./run-doctor.js";

export function doctorIo(settings: Settings, options: RuntimeOptions = {}): DoctorIo {
  const { probot, modal } = probotOptions(settings, options);
  const app = new Probot(probot);
  return {
    appOctokit: async () => (await app.auth()) as AppOctokit,
    installationOctokit: async (id) => (await app.auth(id)) as AppOctokit,
    modal,
  };
}
