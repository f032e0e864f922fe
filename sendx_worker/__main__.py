"""``python -m sendx_worker``: the ``sendx-worker`` command line."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
