"""``python -m pg train | evaluate | bench | compare``: see pg/cli.py."""

from pg.cli import main

raise SystemExit(main())
