#!/usr/bin/env bash
# Interleaved rounds of batch prediction against scikit-learn, for noisy machines: each round
# runs criterion's `forest_predict_batch` group for obesity-forest (the bench's batch and the
# same rows shuffled, and as many distinct synthetic rows; 1 and 2 threads), prints each
# benchmark's mean, median and fastest sample (benches/criterion_summary.py), then
# scikit-learn's predict_proba timings on the repeated and shuffled batches
# (benches/sklearn_forest.py --predict-only; it has no distinct rows of the same generator).
# Ratios are meaningful within a round.
#
#   OBESITY_UCI_CSV=/path/to/ObesityDataSet_raw_and_data_sinthetic.csv \
#   PYTHON=/path/to/venv/bin/python bash benches/predict_rounds.sh [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
: "${OBESITY_UCI_CSV:?set OBESITY_UCI_CSV to the UCI CSV}"
python=${PYTHON:-python3}
for round in $(seq "${1:-3}"); do
  echo "round $round: $(uptime | sed 's/.*load/load/')"
  cargo bench --bench forest -- --warm-up-time 1 --measurement-time 3 \
    'forest_predict_batch/obesity_forest(_shuffled|_distinct)?/' > /dev/null 2>&1
  python3 benches/criterion_summary.py \
    forest_predict_batch/obesity_forest{,_shuffled,_distinct}/100t-21150r-{1,2}thr
  "$python" benches/sklearn_forest.py --predict-only | grep predict_proba
done
