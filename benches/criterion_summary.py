"""Prints the mean, median and fastest sample of criterion benchmarks, from
target/criterion/<group>/<id>/new/{estimates,sample}.json (the fastest sample is the smallest
time per iteration among criterion's samples). Used by fit_rounds.sh and predict_rounds.sh.
Run from the workspace root: `cargo bench -p obesity-benches` writes to the workspace's
target/criterion (or $CRITERION_HOME, else $CARGO_TARGET_DIR/criterion, as criterion does).

Run:  python3 benches/criterion_summary.py forest_fit/obesity_forest/100t-sqrt-1688r-1thr [...]
"""

import json
import os
import sys


def main():
    root = os.environ.get("CRITERION_HOME") or os.path.join(
        os.environ.get("CARGO_TARGET_DIR") or "target", "criterion")
    for bench in sys.argv[1:]:
        d = os.path.join(root, bench, "new", "")
        with open(d + "estimates.json") as f:
            e = json.load(f)
        with open(d + "sample.json") as f:
            s = json.load(f)
        fastest = min(t / i for t, i in zip(s["times"], s["iters"]))
        print(f"{bench}: mean {e['mean']['point_estimate'] / 1e6:.2f} ms, "
              f"median {e['median']['point_estimate'] / 1e6:.2f} ms, "
              f"fastest {fastest / 1e6:.2f} ms")


if __name__ == "__main__":
    main()
