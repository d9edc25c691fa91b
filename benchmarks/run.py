"""Every benchmark in one command: ``python benchmarks/run.py [--quick]``.

Runs the core's benchmarks (time to solve, env throughput against Gymnasium, training
memory) and each ``benchmarks/bench_*.py`` script, printing their reports in turn.
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    quick = "--quick" in sys.argv[1:]
    commands = [[sys.executable, "-m", "pg", "bench", *(["--quick"] if quick else [])]]
    for script in sorted((ROOT / "benchmarks").glob("bench_*.py")):
        commands.append([sys.executable, str(script), *(["--quick"] if quick else [])])
    status = 0
    for cmd in commands:
        print(f"$ {' '.join(Path(c).name if i < 2 else c for i, c in enumerate(cmd))}", flush=True)
        status |= subprocess.call(cmd, cwd=ROOT)
        print(flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
