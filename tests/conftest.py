"""Shared pytest setup: tests/helpers.py importable under any import mode; Hypothesis without
per-example deadlines (timings vary on CI) and without an on-disk example database."""

import sys
from pathlib import Path

from hypothesis import settings

sys.path.insert(0, str(Path(__file__).parent))

settings.register_profile("pg", deadline=None, database=None, print_blob=True)
settings.load_profile("pg")
