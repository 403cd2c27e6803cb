#!/usr/bin/env bash
# Bazaar's test command (the one the README gives): installs what the tests need on a fresh
# Debian machine, then runs every test in the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."

[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
if ! command -v cargo >/dev/null 2>&1; then
  echo "test.sh: cargo is not installed; install Rust from https://rustup.rs and re-run" >&2
  exit 1
fi

# Debian packages the build and the tests need.
missing=()
command -v cc >/dev/null 2>&1 || missing+=(gcc libc6-dev)
command -v make >/dev/null 2>&1 || missing+=(make)
# The inbox page test drives real headless Chromium (with CI=true it fails without it).
[ -x /usr/lib/chromium/chromium ] || command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "test.sh: missing ${missing[*]}; run as root or: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "test.sh: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

# The mail test (sim/tests/it/mail_postfix.rs) runs real Postfix + Dovecot on loopback; with
# CI=true it fails without them. The project's script installs them (debconf preseed "No
# configuration", no system-wide daemons started) and needs root.
if ! { command -v postfix >/dev/null 2>&1 || [ -x /usr/sbin/postfix ]; } ||
  [ ! -x /usr/sbin/dovecot ] || [ ! -x /usr/lib/dovecot/imap ] || [ ! -x /usr/lib/dovecot/lmtp ]; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "test.sh: installing postfix dovecot-imapd dovecot-lmtpd"
    sim/scripts/mail-server.sh install
  else
    echo "test.sh: postfix/dovecot missing; run as root or: sim/scripts/mail-server.sh install" >&2
  fi
fi

echo "test.sh: running the workspace tests"
cargo test --workspace --locked
echo "test.sh: the container image's steps (packaging/container.sh): the daemon as its user"
if [ "$(id -u)" -eq 0 ]; then
  bash packaging/container.sh smoke "${CARGO_TARGET_DIR:-target}/debug/bazaar"
elif [ "${CI:-}" = true ]; then
  echo "test.sh: the container steps add a user and install the binary: run as root" >&2
  exit 1
else
  echo "test.sh: not root, so the container steps are not tried (packaging/container.sh smoke)"
fi
echo "test.sh: checking that the benchmarks build"
# Built in the test profile, on the dependencies the tests just built (`cargo check` would
# compile every dependency again as metadata).
cargo test --workspace --benches --no-run --locked
echo "test.sh: fuzzing each target for a bounded time"
bash .ci/fuzz.sh
echo "test.sh: all tests passed"
