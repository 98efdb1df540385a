"""``python -m mma_qt`` is ``mma-qt``."""

import sys

from .app import main

sys.exit(main())
