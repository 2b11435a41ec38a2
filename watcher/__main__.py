"""``python -m watcher``."""

import sys

from watcher.app import main

sys.exit(main())
