#!/usr/bin/env bash
# The container image's steps, kept in one script so that the Dockerfile and CI run the same
# ones (images cannot be pulled where CI runs): the same packages, user, paths and health
# check.
#
#   container.sh packages          apt-get install what the daemon needs at run time
#   container.sh user              the unprivileged `bazaar` user and its data volume
#   container.sh install BINARY    the binary as /usr/local/bin/bazaar
#   container.sh healthcheck       what HEALTHCHECK runs: exit 0 when the daemon is healthy
#   container.sh smoke BINARY      all of the above on this machine (root), then the daemon
#                                  started as that user, healthy, stopped cleanly (CI)
set -euo pipefail

readonly DATA_DIR=/var/lib/bazaar
readonly USER_NAME=bazaar
readonly USER_ID=10001
# Chromium for the JavaScript marketplace; CA roots for the marketplaces' and mail TLS.
readonly PACKAGES=(chromium ca-certificates)

packages() {
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}"
}

user() {
  if ! id -u "$USER_NAME" >/dev/null 2>&1; then
    useradd --system --uid "$USER_ID" -K SYS_UID_MAX="$USER_ID" --home-dir "$DATA_DIR" --shell /usr/sbin/nologin "$USER_NAME"
  fi
  mkdir -p "$DATA_DIR"
  chown "$USER_NAME:$USER_NAME" "$DATA_DIR"
  chmod 0700 "$DATA_DIR"
}

install_binary() {
  install -m 0755 "$1" /usr/local/bin/bazaar
}

healthcheck() {
  bazaar --data-dir "$DATA_DIR" health
}

# A command as the image's user, as its USER line runs it: exec'd, no process in between, so
# signals reach it.
readonly AS_USER=(setpriv --reuid="$USER_NAME" --regid="$USER_NAME" --init-groups
  env HOME="$DATA_DIR" BAZAAR_STORE__DATA_DIR="$DATA_DIR")

smoke() {
  local binary=$1
  if [ "$(id -u)" -ne 0 ]; then
    echo "container.sh: smoke needs root (it adds a user and installs the binary)" >&2
    exit 1
  fi
  for package in "${PACKAGES[@]}"; do
    dpkg -s "$package" >/dev/null 2>&1 || { packages; break; }
  done
  user
  install_binary "$binary"
  # Where the image keeps this script (its HEALTHCHECK runs it from there).
  install -D -m 0755 "$0" /usr/local/lib/bazaar/container.sh
  local log
  log=$(mktemp)
  "${AS_USER[@]}" bazaar run >"$log" 2>&1 &
  local pid=$!
  local healthy=
  for _ in $(seq 1 60); do
    if "${AS_USER[@]}" bazaar health >/dev/null 2>&1; then
      healthy=yes
      break
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if [ -z "$healthy" ]; then
    echo "container.sh: the daemon never became healthy; its log:" >&2
    cat "$log" >&2
    kill "$pid" 2>/dev/null || true
    exit 1
  fi
  # The health check as HEALTHCHECK runs it.
  "${AS_USER[@]}" /usr/local/lib/bazaar/container.sh healthcheck
  kill -TERM "$pid"
  if ! wait "$pid"; then
    echo "container.sh: the daemon did not stop cleanly on SIGTERM; its log:" >&2
    cat "$log" >&2
    exit 1
  fi
  if [ -e "$DATA_DIR/control.sock" ]; then
    echo "container.sh: the control socket outlived the daemon" >&2
    exit 1
  fi
  local owner
  owner=$(stat -c %U "$DATA_DIR/store")
  if [ "$owner" != "$USER_NAME" ]; then
    echo "container.sh: the store belongs to $owner, not $USER_NAME" >&2
    exit 1
  fi
  rm -f "$log"
  echo "container.sh: the daemon ran as $USER_NAME on $DATA_DIR, was healthy and stopped cleanly"
}

case "${1:-}" in
  packages) packages ;;
  user) user ;;
  install) install_binary "${2:?container.sh install BINARY}" ;;
  healthcheck) healthcheck ;;
  smoke) smoke "${2:?container.sh smoke BINARY}" ;;
  *)
    echo "usage: container.sh packages|user|install BINARY|healthcheck|smoke BINARY" >&2
    exit 2
    ;;
esac
