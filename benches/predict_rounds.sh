#!/usr/bin/env bash
# Interleaved rounds of batch prediction against scikit-learn, for noisy machines: each round
# runs criterion's `forest_predict_batch` group for obesity-forest (the bench's batch and the
# same rows shuffled, and as many distinct synthetic rows; 1 and 2 threads; the process's
# default instruction set, then the batch and the distinct rows forced to each instruction set
# in ISAS), prints each benchmark's mean, median and fastest sample
# (benches/criterion_summary.py), then scikit-learn's predict_proba timings on the repeated
# and shuffled batches (benches/sklearn_forest.py --predict-only; it has no distinct rows of
# the same generator). Ratios are meaningful within a round.
#
#   OBESITY_UCI_CSV=/path/to/ObesityDataSet_raw_and_data_sinthetic.csv \
#   PYTHON=/path/to/venv/bin/python [ISAS="avx2 avx512"] bash benches/predict_rounds.sh [rounds]
#
# ISAS defaults to every instruction set (portable sse2 avx2 avx512); the bench skips those
# the CPU lacks, and so does the summary. OBESITY_FOREST_ISA, if set, forces the default
# benchmarks' instruction set as well.
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
  cargo bench -p obesity-benches --bench forest -- --warm-up-time 1 --measurement-time 3 \
    "forest_predict_batch/obesity_forest((_shuffled|_distinct)?|(_distinct)?_($alt))/" > /dev/null 2>&1
  benches=(forest_predict_batch/obesity_forest{,_shuffled,_distinct}/100t-21150r-{1,2}thr)
  for isa in $isas; do
    for name in obesity_forest_$isa obesity_forest_distinct_$isa; do
      for t in 1 2; do
        b=forest_predict_batch/$name/100t-21150r-${t}thr
        # Only this round's results (an instruction set the CPU lacks has none).
        if [ -n "$(find "$crit/$b/new" -newer "$marker" -name estimates.json 2>/dev/null)" ]; then
          benches+=("$b")
        fi
      done
    done
  done
  python3 benches/criterion_summary.py "${benches[@]}"
  "$python" benches/sklearn_forest.py --predict-only | grep predict_proba
done
