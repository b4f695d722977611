"""``python -m multus.cni``: the cnitool-compatible command line (see multus.cni.tool)."""

import sys

from multus.cni.tool import main

sys.exit(main())
