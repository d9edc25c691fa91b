"""The lessons: problems small enough to solve exactly (theory), the statistics of a stack of
gradient estimates (stats), the theorem page's checks as typed results (derivation), the
gradient-variance probe at a fixed policy (variance), estimators side by side (comparison)."""
