"""``python -m multus.shim``: run the shim (slower to start than the launcher, see ``install``)."""

import sys

from multus.shim.shim import main

sys.exit(main())
