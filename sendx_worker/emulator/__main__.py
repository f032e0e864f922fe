"""``python -m sendx_worker.emulator``: the same command as ``sendx-worker emulator``."""

import sys

from .command import main

sys.exit(main())
