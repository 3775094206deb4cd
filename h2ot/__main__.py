"""``python -m h2ot ...`` (and ``torchrun -m h2ot train ...``): the ``h2ot`` command."""
import sys

from h2ot.cli import main

sys.exit(main())
