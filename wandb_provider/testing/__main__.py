"""``python -m wandb_provider.testing``: the same as ``wandb-provider-server``."""

import sys

from .cli import main

sys.exit(main())
