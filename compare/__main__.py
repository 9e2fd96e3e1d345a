"""``python -m compare`` runs the twinprop CLI."""

import sys

from compare.cli.app import main

sys.exit(main())
