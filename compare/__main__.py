"""``python -m compare`` runs the twinprop CLI."""

import sys

from compare.cli import main

sys.exit(main())
