"""``python -m vkernel`` is the ``vkernel`` command."""

import sys

from vkernel.cli import main

sys.exit(main())
