#!/usr/bin/env bash
# Bounded fuzzing (cargo-fuzz, libFuzzer, nightly Rust): every target in fuzz/ runs for
# BAZAAR_FUZZ_SECONDS (default 30) from an empty corpus; a crash fails the run and leaves
# its input in fuzz/artifacts/<target>/ (make it a regression test). Prints the executions
# per target. Installs cargo-fuzz and the nightly fuzz/rust-toolchain.toml pins when missing.
#
# Built with `--dev` (opt-level 1, see fuzz/Cargo.toml) and no sanitizer: the targets are
# safe Rust, so what fuzzing finds is panics, overflows and debug assertions, and cargo-fuzz's
# release mode with AddressSanitizer took 12 minutes to build here against 6.5.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
seconds="${BAZAAR_FUZZ_SECONDS:-30}"
mode="--dev --sanitizer none"

nightly="$(sed -n 's/^channel = "\(.*\)"/\1/p' rust-toolchain.toml)"
if ! rustup toolchain list | grep -q "^$nightly"; then
  echo "fuzz.sh: installing $nightly (pinned in fuzz/rust-toolchain.toml; cargo-fuzz needs a nightly)"
  rustup toolchain install "$nightly" --profile minimal
fi
if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "fuzz.sh: installing cargo-fuzz"
  cargo install cargo-fuzz --locked --version 0.13.2
fi

echo "fuzz.sh: building the targets"
cargo fuzz build $mode
summary=()
for target in $(cargo fuzz list); do
  echo "fuzz.sh: $target for ${seconds}s"
  log="$(mktemp)"
  if ! cargo fuzz run $mode "$target" -- -max_total_time="$seconds" -rss_limit_mb=2048 >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "fuzz.sh: $target crashed; the input is in fuzz/artifacts/$target/" >&2
    exit 1
  fi
  runs="$(grep -Eo 'Done [0-9]+ runs' "$log" | grep -Eo '[0-9]+' || echo '?')"
  summary+=("$target: $runs executions in ${seconds}s")
  rm -f "$log"
done
printf 'fuzz.sh: %s\n' "${summary[@]}"
