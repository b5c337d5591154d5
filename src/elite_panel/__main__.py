"""Allow ``python -m elite_panel``."""

from elite_panel.cli import main

raise SystemExit(main())
