"""The estimators' table, measured: ``python -m pg compare`` with the benchmark's defaults.

Trains each estimator on CartPole-v1 with the same seeds until it solves (or runs out of its
budget), probes each one's gradient variance at the same two policies, and prints the table:
env steps and seconds to solve (median [min-max] over the seeds that solved), gradient
variance, seeds solved. Every other argument goes to ``pg compare`` (see its --help).

    python benchmarks/bench_compare.py [--quick] [--estimators reinforce,rtg,...] [--seeds 5] [--json]

--quick: 2 seeds and 8 probe batches per checkpoint (a smoke run of the same code).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pg import cli  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if "-h" in argv or "--help" in argv:
        print(__doc__)
        return cli.main(["compare", "--help"])
    quick = "--quick" in argv
    args = [a for a in argv if a != "--quick"]
    if quick:
        args = ["--seeds", "2", "--probe-estimates", "8", *args]  # later options win
    command = ["compare", *args]
    start = time.perf_counter()
    status = cli.main(command)
    if status == 0 and "--json" not in args:
        print(f"\n{time.perf_counter() - start:.1f} s in all; rebuilt by: python -m pg {' '.join(command)}")
    return status


if __name__ == "__main__":
    sys.exit(main())
