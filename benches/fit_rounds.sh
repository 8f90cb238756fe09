#!/usr/bin/env bash
# Interleaved rounds of the forest fit against scikit-learn, for noisy machines: each round
# runs criterion's `forest_fit/obesity_forest` group, prints its mean, median and fastest
# sample (benches/criterion_summary.py), then scikit-learn's fit
# timings (benches/sklearn_forest.py --fit-only). Ratios are meaningful within a round.
#
#   OBESITY_UCI_CSV=/path/to/ObesityDataSet_raw_and_data_sinthetic.csv \
#   PYTHON=/path/to/venv/bin/python bash benches/fit_rounds.sh [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
: "${OBESITY_UCI_CSV:?set OBESITY_UCI_CSV to the UCI CSV}"
python=${PYTHON:-python3}
for round in $(seq "${1:-3}"); do
  echo "round $round: $(uptime | sed 's/.*load/load/')"
  cargo bench --bench forest -- --warm-up-time 1 --measurement-time 4 \
    'forest_fit/obesity_forest' > /dev/null 2>&1
  python3 benches/criterion_summary.py \
    forest_fit/obesity_forest/100t-sqrt-1688r-{1,2}thr
  "$python" benches/sklearn_forest.py --fit-only | grep fit
done
