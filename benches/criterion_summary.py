"""Prints the mean, median and fastest sample of criterion benchmarks, from
target/criterion/<group>/<id>/new/{estimates,sample}.json (the fastest sample is the smallest
time per iteration among criterion's samples). Used by fit_rounds.sh and predict_rounds.sh.

Run:  python3 benches/criterion_summary.py forest_fit/obesity_forest/100t-sqrt-1688r-1thr [...]
"""

import json
import sys


def main():
    for bench in sys.argv[1:]:
        d = f"target/criterion/{bench}/new/"
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
