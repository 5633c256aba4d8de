"""``python -m jepa`` is the ``jepa`` command."""

import sys

from jepa.cli import main

sys.exit(main())
