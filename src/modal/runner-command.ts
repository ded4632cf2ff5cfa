// How a sandbox starts the Actions runner. The JIT config travels only in the
// sandbox's environment, as ACTIONS_RUNNER_INPUT_JITCONFIG: the runner reads any of
// its arguments from ACTIONS_RUNNER_INPUT_<NAME> and removes them from its own
// environment (actions/runner, CommandSettings), so the job steps it starts never
// see it, and it is never on a command line (`/proc/*/cmdline` is readable by every
// process of the sandbox, and Modal shows the command in its dashboard).
//
// The entrypoint drops root when the image has the `runner` user (the official
// image does) and, for a profile with `sudo: false`, first takes that user out of
// the `sudo` group (the official image's /etc/sudoers grants `%sudo` passwordless
// sudo). It then checks that sudo really is gone and refuses to start the runner
// otherwise: a profile that says "no sudo" must never quietly run with it.

export const JIT_CONFIG_ENV = "ACTIONS_RUNNER_INPUT_JITCONFIG";

export interface RunnerCommandOptions {
  /** Whether the `runner` user keeps passwordless sudo (GitHub-hosted runners have it). */
  sudo: boolean;
}

function entrypoint({ sudo }: RunnerCommandOptions): string {
  const lines = [
    "set -eu",
    `: "\${${JIT_CONFIG_ENV}:?the JIT config is missing from the environment}"`,
    'home="${RUNNER_HOME:-/home/runner}"',
    'cd "$home"',
    'as_runner=""',
    'if [ "$(id -u)" = 0 ] && id runner >/dev/null 2>&1; then as_runner="runuser -u runner --"; fi',
  ];
  if (!sudo) {
    lines.push(
      'if [ "$(id -u)" = 0 ] && [ -z "$as_runner" ]; then',
      '  echo "sudo: false needs an image with a non-root runner user; refusing to run jobs as root" >&2; exit 78',
      "fi",
      'if [ -n "$as_runner" ]; then',
      '  for group in sudo admin wheel; do gpasswd -d runner "$group" >/dev/null 2>&1 || true; done',
      "  rm -f /etc/sudoers.d/runner",
      "fi",
      // Whatever else the image's sudoers says, the runner user must not get root.
      "if $as_runner sudo -n true >/dev/null 2>&1; then",
      '  echo "sudo: false, yet the runner user still has passwordless sudo (check the image\'s sudoers); refusing to start" >&2; exit 78',
      "fi",
    );
  }
  lines.push(
    // Custom images without a `runner` user: the runner refuses root unless told.
    'if [ "$(id -u)" = 0 ] && [ -z "$as_runner" ]; then export RUNNER_ALLOW_RUNASROOT=1; fi',
    "exec $as_runner ./run.sh",
  );
  return lines.join("\n");
}

/** The sandbox's command for a profile; it carries no secret. */
export function runnerCommand(options: RunnerCommandOptions): string[] {
  return ["/bin/bash", "-c", entrypoint(options)];
}

/** The command for a profile with the default `sudo: true`. */
