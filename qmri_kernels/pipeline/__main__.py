"""``python -m qmri_kernels.pipeline``: see :func:`qmri_kernels.pipeline.cli.main`."""

import sys

from .cli import main

sys.exit(main())
