#!/usr/bin/env bash
# The rustc wrapper `.ci/fuzz.sh` builds the fuzz targets with (RUSTC_WRAPPER): libFuzzer's
# coverage instrumentation, with the flags `cargo fuzz build --sanitizer none` passes
# (cargo-fuzz 0.13), on Bazaar's own crates and the parsers of hostile input (so that
# libFuzzer learns their grammar), not on the rest: instrumenting every dependency made the
# build a minute longer for coverage of code no target reaches.
rustc="$1"
shift
case " $* " in
*" --crate-name bazaar_"* | *" --crate-name serde_json "* | *" --crate-name mail_parser "* | \
  *" --crate-name html5ever "*)
  exec "$rustc" "$@" \
    -Cpasses=sancov-module \
    -Cllvm-args=-sanitizer-coverage-level=4 \
    -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
    -Cllvm-args=-sanitizer-coverage-pc-table \
    -Cllvm-args=-sanitizer-coverage-trace-compares \
    -Cllvm-args=-simplifycfg-branch-fold-threshold=0 \
    -Cllvm-args=-sanitizer-coverage-stack-depth \
    --cfg fuzzing
  ;;
*) exec "$rustc" "$@" ;;
esac
