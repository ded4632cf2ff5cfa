// How a sandbox starts the Actions runner: docker/runner/entrypoint.sh, run by bash
// as the sandbox's command, with the receipt's job-completed hook
// (docker/runner/job-completed.sh) as its argument. Modal builds images without a
// build context, so both scripts travel with the App rather than in the image, and
// work with any profile's image. The JIT config travels only in the sandbox's
// environment, as ACTIONS_RUNNER_INPUT_JITCONFIG: the runner reads any of its
// arguments from ACTIONS_RUNNER_INPUT_<NAME> and removes them from its own
// environment (actions/runner, CommandSettings), so the job steps it starts never
// see it, and it is never on a command line (`/proc/*/cmdline` is readable by every
// process of the sandbox, and Modal shows the command in its dashboard).
//
// The entrypoint drops root when the image has the `runner` user (the official
// image does) and, for a profile with `sudo: false`, first takes that user out of
// the `sudo` group (the official image's /etc/sudoers grants `%sudo` passwordless
// sudo). It then checks that sudo really is gone and refuses to start the runner
// otherwise: a profile that says "no sudo" must never quietly run with it.
import { readFileSync } from "node:fs";

export const JIT_CONFIG_ENV = "ACTIONS_RUNNER_INPUT_JITCONFIG";

/** Found next to the code (src/ or dist/), whatever the working directory. */
export const ENTRYPOINT_SCRIPT = new URL("../../docker/runner/entrypoint.sh", import.meta.url);
export const JOB_COMPLETED_HOOK = new URL("../../docker/runner/job-completed.sh", import.meta.url);
const entrypoint = readFileSync(ENTRYPOINT_SCRIPT, "utf8");
const jobCompletedHook = readFileSync(JOB_COMPLETED_HOOK, "utf8");

export interface RunnerCommandOptions {
  /** Whether the `runner` user keeps passwordless sudo (GitHub-hosted runners have it). */
  sudo: boolean;
}

/** The sandbox's command for a profile; it carries no secret. */
export function runnerCommand({ sudo }: RunnerCommandOptions): string[] {
  // The profile's sudo choice is part of the command, so no environment variable
  // (a profile's env, a Modal secret) can turn it back on.
  return ["/bin/bash", "-c", `MODAL_RUNNER_SUDO=${sudo}\n${entrypoint}`, "modal-runner-entrypoint", jobCompletedHook];
}
