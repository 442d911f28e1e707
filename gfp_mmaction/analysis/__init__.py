"""Measurements behind ``tools/analysis``: FLOP counting (:mod:`.flops`) and the
pre-training throughput benchmark (:mod:`.benchmark`, imported on its own).

Not imported by ``import gfp_mmaction``.
"""
from .flops import config_mask_ratio, count, measure

__all__ = ['config_mask_ratio', 'count', 'measure']
