#!/usr/bin/env bash
# Bounded fuzzing (libFuzzer through libfuzzer-sys): every target in fuzz/ runs for
# BAZAAR_FUZZ_SECONDS (default 20) from fuzz/corpus/<target>/ (empty on a fresh clone); a
# crash fails the run and leaves its input in fuzz/artifacts/<target>/ (make it a regression
# test). Prints the executions per target.
#
# Built on stable Rust without cargo-fuzz: the coverage flags `cargo fuzz build --dev
# --sanitizer none` would pass, on Bazaar's own crates only (.ci/fuzz-rustc.sh), at fuzz/'s
# opt-level 1. No sanitizer: the targets are safe Rust, so what fuzzing finds is panics,
# overflows and debug assertions. Installing a nightly and cargo-fuzz cost CI two minutes;
# `cargo +nightly fuzz run <target>` still works for a longer run with AddressSanitizer.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
seconds="${BAZAAR_FUZZ_SECONDS:-20}"
# Cargo does not fingerprint the wrapper: a directory per version of it, so that a change to
# what it instruments rebuilds.
wrapper="$PWD/../.ci/fuzz-rustc.sh"
target_dir="${CARGO_TARGET_DIR:-target}/fuzz-ci-$(sha256sum "$wrapper" | cut -c1-12)"

echo "fuzz.sh: building the targets"
RUSTC_WRAPPER="$wrapper" cargo build --bins --locked --target-dir "$target_dir"
targets="$(sed -n 's/^name = "\(.*\)"/\1/p' Cargo.toml | grep -v '^bazaar-fuzz$')"
summary=()
for target in $targets; do
  echo "fuzz.sh: $target for ${seconds}s"
  mkdir -p "corpus/$target" "artifacts/$target"
  log="$(mktemp)"
  if ! "$target_dir/debug/$target" -max_total_time="$seconds" -rss_limit_mb=2048 \
    -artifact_prefix="artifacts/$target/" "corpus/$target" >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "fuzz.sh: $target crashed; the input is in fuzz/artifacts/$target/" >&2
    exit 1
  fi
  runs="$(grep -Eo 'Done [0-9]+ runs' "$log" | grep -Eo '[0-9]+' || echo '?')"
  summary+=("$target: $runs executions in ${seconds}s")
  rm -f "$log"
done
printf 'fuzz.sh: %s\n' "${summary[@]}"
