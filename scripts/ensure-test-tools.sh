#!/usr/bin/env bash
# What `npm test` needs beyond npm: Debian's Chromium (the status page's browser
# tests drive it through playwright-core, which never downloads a browser of its own)
# and redis-server (fleet tests start their own on a loopback port). Installs them
# with apt-get when it can (root, or passwordless sudo); otherwise says exactly what
# to install and fails, so a missing tool is one clear line, not a dozen timeouts.
set -euo pipefail

missing=()
[ -x /usr/bin/chromium ] || command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo=(sudo)
else
  echo "npm test needs: ${missing[*]}. Install them with:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "npm test needs: ${missing[*]} (Debian's packages: chromium, redis-server); install them with your package manager." >&2
  exit 1
fi
echo "npm test: installing ${missing[*]} with apt-get" >&2
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
