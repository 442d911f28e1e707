from . import algorithms, backbones, heads, losses, necks, target_generators  # noqa: F401
