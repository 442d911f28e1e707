"""Per-sample training FLOPs of the paper's configs, against the paper's budget
(gfp_mmaction.analysis.flops and its tool, tools/analysis/get_flops.py)."""
import subprocess
import sys

import pytest
from mmaction.registry import MODELS
from mmengine.config import Config

from gfp_mmaction.analysis.flops import config_mask_ratio, count, measure


def measure_config(repo_root, config):
    cfg = Config.fromfile(str(repo_root / config))
    return measure(MODELS.build(cfg.model).eval(), 2, config_mask_ratio(cfg))


def test_gfp_flops_match_the_paper(repo_root):
    flops = measure_config(repo_root, 'configs/gfp/gfp_ntu60_xsub.py')
    assert flops['encoder'] == pytest.approx(1.97, abs=0.1)  # paper: 1.97
    assert flops['decoder'] <= 2.0  # paper: 1.57
    assert flops['target_generator'] <= 0.9  # paper: 0.64
    assert flops['total'] == pytest.approx(sum(v for k, v in flops.items() if k != 'total'))


def test_mamp_decoder_flops_match_the_paper(repo_root):
    flops = measure_config(repo_root, 'configs/mamp/mamp_ntu60_xsub.py')
    assert flops['encoder'] == pytest.approx(1.97, abs=0.1)
    assert flops['decoder'] == pytest.approx(17.7, abs=0.9)  # paper: 17.70
    assert 'target_generator' not in flops


def test_attention_is_counted():
    # 75 tokens, width 256, one block: qkv + proj + MLP = 12 * 256^2 multiply-adds per
    # token, attention 2 * 75 * 256 per token; x 2 FLOPs per multiply-add.
    import torch
    block = MODELS.get('SkeletonTransformer')(depth=1).blocks[0]
    x = torch.randn(1, 75, 256)
    expected = 2 * 75 * (12 * 256 * 256 + 2 * 75 * 256) / 1e9
    assert count(lambda: block(x)) == pytest.approx(expected, rel=1e-6)


def test_cli_prints_the_table(repo_root):
    out = subprocess.run([sys.executable, 'tools/analysis/get_flops.py',
                          'configs/gfp/gfp_ntu60_xsub.py'], cwd=repo_root,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert [line.split()[0] for line in lines[-4:]] == ['encoder', 'decoder',
                                                          'target_generator', 'total']
