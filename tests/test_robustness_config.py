"""A config that cannot train fails in ``tools/train.py`` before the first iteration,
with an error naming the setting: mask ratio, clip / patch length, pooling kernels,
target widths, masking strategy name."""
import pytest
import torch
from mmaction.registry import MODELS
from mmengine.config import Config

from gfp_mmaction.engine.preflight import ConfigError
from robustness_helpers import load_train_tool, write_config

PIPELINE = 'train_dataloader.dataset.pipeline'


@pytest.fixture(scope='module')
def train_tool():
    return load_train_tool()


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    from gfp_mmaction.datasets.synthetic_ntu import write_synthetic_ntu
    root = tmp_path_factory.mktemp('robustness_config')
    write_synthetic_ntu(root / 'synthetic.pkl', subjects=2, views=2, reps=1, seed=0)
    return root


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: threads only add overhead on a busy machine
    yield
    torch.set_num_threads(threads)


def run(train_tool, setup, tmp_path, *options):
    """``tools/train.py`` on the tiny config with ``--cfg-options``; returns the work dir
    (the call is expected to raise)."""
    config = write_config(tmp_path, setup / 'synthetic.pkl')
    work_dir = tmp_path / 'work'
    argv = [str(config), '--work-dir', str(work_dir)]
    if options:
        argv += ['--cfg-options', *options]
    train_tool.main(argv)
    return work_dir


def assert_nothing_trained(work_dir):
    """The runner made the work dir (the model is built after it) but trained nothing."""
    assert work_dir.is_dir()
    assert not list(work_dir.glob('*.pth'))
    assert not (work_dir / 'last_checkpoint').exists()


@pytest.mark.parametrize('ratio', ['1.0', '0.0', '1.5'])
def test_mask_ratio_outside_0_1(train_tool, setup, tmp_path, ratio):
    with pytest.raises(ConfigError) as info:
        run(train_tool, setup, tmp_path, f'{PIPELINE}.4.mask_ratio={ratio}')
    first_line = str(info.value).splitlines()[0]
    assert first_line.startswith(f'{PIPELINE}[4] (MotionAwareTokenMasking) (')
    assert first_line.endswith(f'MotionAwareTokenMasking: mask_ratio must be in (0, 1), '
                               f'got {float(ratio)}')
    assert not (tmp_path / 'work').exists()  # before the runner made the work dir


def test_clip_length_not_divisible_by_patch_length(train_tool, setup, tmp_path):
    with pytest.raises(ConfigError) as info:
        run(train_tool, setup, tmp_path, f'{PIPELINE}.1.clip_len=50')
    assert str(info.value).startswith(f'{PIPELINE}[1] (ValidCropResize) (')
    assert str(info.value).endswith(
        f'clip_len=50 is not divisible by patch_len=4 of {PIPELINE}[4] '
        '(MotionAwareTokenMasking); use a multiple of 4')


def test_encoder_frames_not_divisible_by_patch_length(train_tool, setup, tmp_path):
    with pytest.raises(ValueError, match='SkeletonTransformer: num_frames=50 is not divisible'):
        run(train_tool, setup, tmp_path, 'model.backbone.num_frames=50')
    assert_nothing_trained(tmp_path / 'work')
    # The masking transform and the encoder must cut the same tokens.
    with pytest.raises(ConfigError, match=r'^train_dataloader\.dataset\.pipeline\[4\] '
                                          r'\(MotionAwareTokenMasking\) \(.*\): patch_len=4 '
                                          r'but model\.backbone\.patch_len=6'):
        run(train_tool, setup, tmp_path, 'model.backbone.patch_len=6')


def test_pooling_kernels_that_do_not_divide_the_patch_rows(train_tool, setup, tmp_path):
    with pytest.raises(ValueError) as info:
        run(train_tool, setup, tmp_path, 'model.neck.pool_kernels=(5,10,12)')
    assert str(info.value).startswith(
        'pool_kernels=(5, 10, 12) do not nest over 12 patch rows: each kernel must divide '
        'the number of patch rows')
    assert_nothing_trained(tmp_path / 'work')


def test_target_widths_differ_between_decoder_and_tgn(train_tool, setup, tmp_path):
    with pytest.raises(ValueError) as info:
        run(train_tool, setup, tmp_path, 'model.target_generator.target_dims=48')
    assert str(info.value) == (
        'GFP: target widths differ between the decoder and the target generator: level 0 '
        'predicts 32 values per token, the target generator makes 48 (all levels: decoder '
        '[32, 32, 32, 32], target generator [48, 48, 48, 48]); set model.neck.target_dims '
        'and model.target_generator.target_dims to the same value')
    assert_nothing_trained(tmp_path / 'work')


def test_target_width_check_at_model_build(setup, tmp_path):
    """The same check where a model is built without the runner."""
    cfg = Config.fromfile(write_config(tmp_path, setup / 'synthetic.pkl'))
    MODELS.build(cfg.model)  # consistent: builds
    cfg.model.neck.target_dims = 16
    with pytest.raises(ValueError, match=r'level 0 predicts 16 values per token, the '
                                         r'target generator makes 32'):
        MODELS.build(cfg.model)


def test_masking_strategy_that_does_not_exist(train_tool, setup, tmp_path):
    with pytest.raises(ConfigError) as info:
        run(train_tool, setup, tmp_path, f'{PIPELINE}.4.type=MotionAwareMasking')
    message = str(info.value)
    assert message.startswith(f"{PIPELINE}[4] (")
    assert message.endswith(
        "unknown transform type 'MotionAwareMasking' (not in the mmaction transform "
        "registry); did you mean 'MotionAwareTokenMasking'? Masking strategies: "
        'MotionAwareTokenMasking, RandomTokenMasking.')
    assert not (tmp_path / 'work').exists()
