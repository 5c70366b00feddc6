"""``python -m parity_dev`` is the ``parity`` command."""

from parity_dev.cli import main

raise SystemExit(main())
