// How a sandbox starts the Actions runner. The JIT config travels only in the
// sandbox's environment (never in the command, which Modal shows in its dashboard);
// the entrypoint moves it out of the environment before the runner starts, so job
// steps cannot read it, and drops root when the image has the `runner` user (the
// official image does).

export const JIT_CONFIG_ENV = "ACTIONS_RUNNER_INPUT_JITCONFIG";

const ENTRYPOINT = [
  "set -eu",
  `jit="$${JIT_CONFIG_ENV}"`,
  `unset ${JIT_CONFIG_ENV}`,
  'home="${RUNNER_HOME:-/home/runner}"',
  'cd "$home"',
  'if [ "$(id -u)" = 0 ] && id runner >/dev/null 2>&1; then',
  '  exec runuser -u runner -- ./run.sh --jitconfig "$jit"',
  "fi",
  // Custom images without a `runner` user: the runner refuses root unless told.
  'if [ "$(id -u)" = 0 ]; then export RUNNER_ALLOW_RUNASROOT=1; fi',
  'exec ./run.sh --jitconfig "$jit"',
].join("\n");

export const RUNNER_COMMAND: string[] = ["/bin/bash", "-c", ENTRYPOINT];
