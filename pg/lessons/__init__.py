"""The lessons: problems small enough to solve exactly (theory), the theorem page's checks
(derivation), the gradient-variance probe (variance), estimators side by side (comparison)."""
