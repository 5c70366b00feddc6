"""``python -m parity_ops``: the ``parity-ops`` command."""

from parity_ops.cli import main

raise SystemExit(main())
