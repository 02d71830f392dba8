"""``python -m ipabs``: the same as the ``ipabs`` command."""

import sys

from ipabs.cli import main

sys.exit(main())
