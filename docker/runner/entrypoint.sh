#!/bin/bash
# How every sandbox starts the Actions runner. The App runs this script as the
# sandbox's command (bash -c, with the job-completed hook's text as $1): Modal builds
# images with no build context, so the script travels with the App, not the image.
# It carries no secret: the JIT config is in the environment only, as
# ACTIONS_RUNNER_INPUT_JITCONFIG (the runner reads it and removes it from its own
# environment, so job steps never see it, and it is on no command line).
#
# Settings, from the sandbox's environment (the App sets them from the profile):
#   MODAL_RUNNER_SUDO=false        take passwordless sudo away from the `runner` user
#   MODAL_RUNNER_DOCKER=vm|gvisor  start dockerd (as root) before the runner
#   MODAL_RUNNER_DISABLE_UPDATE=1  the image's runner is the latest release: no self-update
#   MODAL_RUNNER_DOCKERD_ARGS      extra dockerd flags (profile env)
#   MODAL_RUNNER_DOCKERD_WAIT      seconds to wait for Docker's socket (default 60)
set -eu
: "${ACTIONS_RUNNER_INPUT_JITCONFIG:?the JIT config is missing from the environment}"
home="${RUNNER_HOME:-/home/runner}"
cd "$home"
as_runner=""
if [ "$(id -u)" = 0 ] && id runner >/dev/null 2>&1; then as_runner="runuser -u runner --"; fi
hooks="${MODAL_RUNNER_HOOK_DIR:-/tmp/modal-runner}"
mkdir -p "$hooks" 2>/dev/null || true
chmod 755 "$hooks" 2>/dev/null || true

# The receipt: a job-completed hook that prints what the job used and cost (its
# figures are in the MODAL_RUNNER_* environment the runner passes on to hooks).
export MODAL_RUNNER_STARTED_AT="${MODAL_RUNNER_STARTED_AT:-$(date +%s)}"
if [ -n "${1:-}" ] && printf '%s\n' "$1" >"$hooks/job-completed.sh" 2>/dev/null; then
  chmod 755 "$hooks/job-completed.sh"
  export ACTIONS_RUNNER_HOOK_JOB_COMPLETED="$hooks/job-completed.sh"
fi

if [ "${MODAL_RUNNER_SUDO:-true}" = false ]; then
  if [ "$(id -u)" = 0 ] && [ -z "$as_runner" ]; then
    echo "sudo: false needs an image with a non-root runner user; refusing to run jobs as root" >&2
    exit 78
  fi
  if [ -n "$as_runner" ]; then
    for group in sudo admin wheel; do gpasswd -d runner "$group" >/dev/null 2>&1 || true; done
    rm -f /etc/sudoers.d/runner
  fi
  # Whatever else the image's sudoers says, the runner user must not get root.
  if $as_runner sudo -n true >/dev/null 2>&1; then
    echo "sudo: false, yet the runner user still has passwordless sudo (check the image's sudoers); refusing to start" >&2
    exit 78
  fi
fi

# Docker fails the job, not the sandbox: when dockerd cannot start, the runner still
# starts and takes the job, and a job-started hook fails it with the reason, so the
# developer reads it in the job's log rather than seeing a job that never starts.
docker_failed() {
  local reason="$1" log="${2:-}"
  echo "docker: $reason" >&2
  {
    echo '#!/bin/bash'
    printf 'echo %q\n' "::error title=Docker did not start in this sandbox::$reason"
    if [ -n "$log" ] && [ -s "$log" ]; then
      echo "echo '--- the last lines of dockerd'\"'\"'s log:'"
      printf 'echo %q\n' "$(tail -n 20 "$log")"
    fi
    echo 'exit 1'
  } >"$hooks/docker-failed.sh"
  chmod 755 "$hooks/docker-failed.sh"
  export ACTIONS_RUNNER_HOOK_JOB_STARTED="$hooks/docker-failed.sh"
}

start_docker() {
  local as_root="" socket="${MODAL_RUNNER_DOCKER_SOCKET:-/var/run/docker.sock}" wait="${MODAL_RUNNER_DOCKERD_WAIT:-60}"
  # Polled five times a second: dockerd is usually up within a second or two, and the
  # job starts as soon as it is.
  local log="$hooks/dockerd.log" polls=0 pid
  if [ "$(id -u)" != 0 ]; then
    if sudo -n true >/dev/null 2>&1; then as_root="sudo -n"; else
      docker_failed "dockerd needs root, and the sandbox started as $(id -un) without passwordless sudo"
      return
    fi
  fi
  if ! command -v dockerd >/dev/null 2>&1; then
    docker_failed "the profile asks for Docker (docker: ${MODAL_RUNNER_DOCKER}), but the image has no dockerd: build it from docker/runner/docker.Dockerfile"
    return
  fi
  # Steps reach the socket through the docker group, without sudo.
  if [ -n "$as_runner" ]; then
    getent group docker >/dev/null 2>&1 || groupadd docker
    id -nG runner | grep -qw docker || usermod -aG docker runner
  fi
  # shellcheck disable=SC2086 # the extra flags are words
  $as_root dockerd --group docker --host "unix://$socket" ${MODAL_RUNNER_DOCKERD_ARGS:-} >"$log" 2>&1 &
  pid=$!
  until [ -S "$socket" ]; do
    if ! kill -0 "$pid" 2>/dev/null && [ ! -S "$socket" ]; then
      docker_failed "dockerd exited before its socket appeared" "$log"
      return
    fi
    if [ "$polls" -ge "$((wait * 5))" ]; then
      $as_root kill "$pid" 2>/dev/null || true
      docker_failed "dockerd's socket $socket did not appear within ${wait}s" "$log"
      return
    fi
    sleep 0.2
    polls=$((polls + 1))
  done
  export DOCKER_HOST="unix://$socket"
  echo "docker: dockerd is up (after $((polls * 200)) ms)" >&2
}

if [ -n "${MODAL_RUNNER_DOCKER:-}" ]; then start_docker; fi

# Custom images without a `runner` user: the runner refuses root unless told.
if [ "$(id -u)" = 0 ] && [ -z "$as_runner" ]; then export RUNNER_ALLOW_RUNASROOT=1; fi
update_flag=()
if [ "${MODAL_RUNNER_DISABLE_UPDATE:-}" = 1 ]; then update_flag=(--disableupdate); fi
# runuser keeps the environment (the hooks' paths, DOCKER_HOST, the receipt's figures).
exec $as_runner ./run.sh "${update_flag[@]}"
