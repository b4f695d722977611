"""``python -m devinfo``: the same command as the ``devinfo`` console script."""

from __future__ import annotations

import sys

from devinfo.cli import main

if __name__ == "__main__":
    sys.exit(main())
