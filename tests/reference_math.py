"""Independent references for the method's formulas: plain float64 tensor arithmetic
(loops, explicit LayerNorm / GELU / softmax), written from the spec, not from the package.
Shared by tests/models/test_method_fidelity.py and tests/models/test_tgn_variants.py."""
import math

import torch
from torch import nn


def ref_layer_norm(x, norm: nn.LayerNorm):
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + norm.eps) * norm.weight.double() + norm.bias.double()


def ref_linear(x, linear: nn.Linear):
    out = x @ linear.weight.double().T
    return out + linear.bias.double() if linear.bias is not None else out


def ref_gelu(x):
    return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))


def ref_block(x, block, num_heads):
    """Pre-LN block: x + proj(softmax(q k^T / sqrt(d_h)) v) of LN1(x), then
    x + fc2(GELU(fc1(LN2(x))))."""
    B, L, D = x.shape
    h = ref_layer_norm(x, block.norm1)
    qkv = ref_linear(h, block.attn.qkv).reshape(B, L, 3, num_heads, D // num_heads)
    q, k, v = (qkv[:, :, i].transpose(1, 2) for i in range(3))  # (B, H, L, d_h)
    logits = q @ k.transpose(-1, -2) / math.sqrt(D // num_heads)
    weights = torch.exp(logits - logits.amax(-1, keepdim=True))
    weights = weights / weights.sum(-1, keepdim=True)
    attended = (weights @ v).transpose(1, 2).reshape(B, L, D)
    x = x + ref_linear(attended, block.attn.proj)
    h = ref_layer_norm(x, block.norm2)
    return x + ref_linear(ref_gelu(ref_linear(h, block.mlp[0])), block.mlp[3])


def ref_mlp(x, mlp):
    """Linear -> LayerNorm -> GELU between linears, a linear at the end."""
    linears = [m for m in mlp if isinstance(m, nn.Linear)]
    norms = [m for m in mlp if isinstance(m, nn.LayerNorm)]
    for linear, norm in zip(linears[:-1], norms):
        x = ref_gelu(ref_layer_norm(ref_linear(x, linear), norm))
    return ref_linear(x, linears[-1])


def ref_patches(x, patch_len=4):
    """``(B, T, V, C)`` -> ``(B, T / P, V, P * C)`` with ``P = patch_len``, token (r, v) =
    frames P r .. P r + P - 1 of joint v, frame-major (MAMP's patchify), with explicit
    loops."""
    B, T, V, C = x.shape
    out = torch.zeros(B, T // patch_len, V, patch_len * C, dtype=x.dtype)
    for r in range(T // patch_len):
        for v in range(V):
            for f in range(patch_len):
                out[:, r, v, f * C:(f + 1) * C] = x[:, patch_len * r + f, v]
    return out


def ref_frame_motion(x):
    """``x[t + 1] - x[t]``, the last frame 0."""
    out = torch.zeros_like(x)
    for t in range(x.shape[1] - 1):
        out[:, t] = x[:, t + 1] - x[:, t]
    return out


def ref_pool_rows(grid, kernel):
    """``(B, R, V, D)`` -> ``(B, R / kernel, V, D)``: mean of each ``kernel`` rows."""
    return torch.stack([grid[:, r:r + kernel].mean(1)
                        for r in range(0, grid.shape[1], kernel)], 1)


def randomise(module, generator, std=0.3):
    """Every parameter drawn at random (LayerNorm weights around 1): no formula hides
    behind a zero or a one."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            p.copy_(torch.randn(p.shape, generator=generator) * std +
                    (1.0 if name.endswith('weight') and p.ndim == 1 else 0.0))
    return module
