from . import (algorithms, backbones, data_preprocessors, heads, losses, necks,  # noqa: F401
               target_generators)
