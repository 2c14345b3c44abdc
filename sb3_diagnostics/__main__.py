"""``python -m sb3_diagnostics``: the same as the ``sb3-diagnostics`` command."""

import sys

from sb3_diagnostics.cli import main

sys.exit(main())
