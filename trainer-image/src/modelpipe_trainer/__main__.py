"""``python -m modelpipe_trainer``: the same as the ``modelpipe-trainer`` console script."""

import sys

from modelpipe_trainer.cli import main

sys.exit(main())
