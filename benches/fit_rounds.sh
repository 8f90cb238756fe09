#!/usr/bin/env bash
# Interleaved rounds of the forest fit against scikit-learn, for noisy machines: each round
# runs criterion's `forest_fit/obesity_forest` benchmarks (the process's default instruction
# set, then the fit forced to each instruction set in ISAS: the SSE2 gini scans or the
# portable ones), prints their mean, median and fastest sample (benches/criterion_summary.py),
# then scikit-learn's fit timings (benches/sklearn_forest.py --fit-only). Ratios are
# meaningful within a round.
#
#   OBESITY_UCI_CSV=/path/to/ObesityDataSet_raw_and_data_sinthetic.csv \
#   PYTHON=/path/to/venv/bin/python [ISAS="portable avx2"] bash benches/fit_rounds.sh [rounds]
#
# ISAS defaults to every instruction set (portable sse2 avx2 avx512); the bench skips those
# the CPU lacks, and so does the summary.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${OBESITY_UCI_CSV:?set OBESITY_UCI_CSV to the UCI CSV}"
python=${PYTHON:-python3}
isas=${ISAS:-portable sse2 avx2 avx512}
alt=$(echo "$isas" | tr -s ' ' '|')
# Where criterion writes (benches/criterion_summary.py reads the same place).
crit=${CRITERION_HOME:-${CARGO_TARGET_DIR:-target}/criterion}
marker=$(mktemp)
trap 'rm -f "$marker"' EXIT
for round in $(seq "${1:-3}"); do
  echo "round $round: $(uptime | sed 's/.*load/load/')"
  touch "$marker"
  cargo bench -p obesity-benches --bench forest -- --warm-up-time 1 --measurement-time 4 \
    "forest_fit/obesity_forest(_($alt))?/" > /dev/null 2>&1
  benches=(forest_fit/obesity_forest/100t-sqrt-1688r-{1,2}thr)
  for isa in $isas; do
    for t in 1 2; do
      b=forest_fit/obesity_forest_$isa/100t-sqrt-1688r-${t}thr
      if [ -n "$(find "$crit/$b/new" -newer "$marker" -name estimates.json 2>/dev/null)" ]; then
        benches+=("$b")
      fi
    done
  done
  python3 benches/criterion_summary.py "${benches[@]}"
  "$python" benches/sklearn_forest.py --fit-only | grep fit
done
