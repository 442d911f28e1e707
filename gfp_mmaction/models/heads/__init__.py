from .finetune_head import FinetuneHead
from .gfp_head import GFPHead
from .linear_probe_head import LinearProbeHead
from .mamp_head import MAMPHead
from .pooled_feature_head import PooledFeatureHead

__all__ = ['FinetuneHead', 'GFPHead', 'LinearProbeHead', 'MAMPHead', 'PooledFeatureHead']
