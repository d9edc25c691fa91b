"""``python -m pg train | evaluate | bench``: see pg/cli.py."""

from pg.cli import main

raise SystemExit(main())
