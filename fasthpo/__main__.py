"""``python -m fasthpo``: the command line, for when the ``fasthpo`` script is not on PATH."""

import sys

from fasthpo.cli import main

sys.exit(main())
