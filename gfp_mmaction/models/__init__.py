from . import algorithms, backbones, data_preprocessors, heads, losses, necks, target_generators  # noqa: F401
