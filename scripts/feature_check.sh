#!/usr/bin/env bash
# Every library crate builds with its optional parts switched off (`--no-default-features`)
# and with its defaults, each on its own (issue 13, item 6): a user who depends on one crate
# for one job compiles only what that job needs. Prints the number of crates each build
# compiles, the figure docs/architecture.md quotes.
set -euo pipefail
cd "$(dirname "$0")/.."
crates=(obesity-data obesity-features obesity-forest obesity-eval obesity-registry
  obesity-monitor obesity-onnx obesity-serve)
for crate in "${crates[@]}"; do
  for mode in --no-default-features ""; do
    # shellcheck disable=SC2086
    cargo check --quiet -p "$crate" --lib $mode
    # shellcheck disable=SC2086
    n=$(cargo tree -p "$crate" -e normal --prefix none $mode | sed 's/ (\*)//' | sort -u | wc -l)
    printf '%-18s %-24s %4d crates\n' "$crate" "${mode:-(default features)}" "$n"
  done
done
