"""Models shared by the model tests."""
from mmaction.registry import MODELS

import gfp_mmaction  # noqa: F401  (registers the parts)


def tiny_gfp(head: dict, width: int = 32, target_dims: int = 16):
    """A GFP of one encoder block: 8 patch rows of 4 frames, pooled 2 / 4 / 8 rows, so
    100 + 50 + 25 + 1 targets for 25 joints; decoder and TGN hidden widths = ``width``.
    The caller seeds the initialisation."""
    return MODELS.build(dict(
        type='GFP',
        backbone=dict(type='SkeletonTransformer', num_frames=32, embed_dims=width, depth=1,
                      num_heads=2),
        neck=dict(type='HierarchicalDecoder', in_dims=width, embed_dims=width, num_rows=8,
                  pool_kernels=(2, 4, 8), depths=(1, 1, 1), num_heads=2,
                  target_dims=target_dims, global_hidden=width),
        target_generator=dict(type='MotionTargetGenerator', pool_kernels=(2, 4, 8),
                              target_dims=target_dims, local_hidden=width,
                              global_hidden=width),
        head=head))
