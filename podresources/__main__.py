"""``python -m podresources``: the same as the ``podresources`` command (see podresources.cli)."""

import sys

from podresources.cli import main

sys.exit(main())
