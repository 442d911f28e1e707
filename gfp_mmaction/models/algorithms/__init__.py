from .base import MaskedSkeletonPretrainer
from .gfp import GFP
from .mamp import MAMP

__all__ = ['GFP', 'MAMP', 'MaskedSkeletonPretrainer']
