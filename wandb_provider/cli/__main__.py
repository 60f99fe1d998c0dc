"""``python -m wandb_provider.cli``: the same as ``wandb-artifacts``."""

from ._main import entry_point

entry_point()
