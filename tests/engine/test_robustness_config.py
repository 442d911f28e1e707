"""A config that cannot train fails in ``tools/train.py`` before the first iteration,
with an error naming the setting: mask ratio, clip / patch length, pooling kernels,
target widths, masking strategy name.

The pre-training configs run the batched path: the augmentation and masking are the
top-level ``data_preprocessor`` (``SkeletonPretrainPreprocessor``), so their settings
are checked there; a per-sample pipeline (still what the other protocols and users'
own pipelines run) is checked transform by transform, as the last test shows."""
import pytest
import torch
from mmaction.registry import DATASETS, MODELS
from mmengine.config import Config

from gfp_mmaction.datasets import SkeletonPoseDataset
from gfp_mmaction.engine.preflight import ConfigError, propagate_num_classes

from robustness_helpers import load_train_tool, write_config

PRE = 'data_preprocessor'
PIPELINE = 'train_dataloader.dataset.pipeline'


@pytest.fixture(scope='module')
def train_tool():
    return load_train_tool()


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    from gfp_mmaction.testing.synthetic import write_synthetic_ntu
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
        run(train_tool, setup, tmp_path, f'{PRE}.mask_ratio={ratio}')
    first_line = str(info.value).splitlines()[0]
    assert first_line.startswith(f'{PRE} (SkeletonPretrainPreprocessor) (')
    assert first_line.endswith(f'SkeletonPretrainPreprocessor: mask_ratio must be in (0, 1), '
                               f'got {float(ratio)}')
    assert not (tmp_path / 'work').exists()  # before the runner made the work dir


def test_clip_length_not_divisible_by_patch_length(train_tool, setup, tmp_path):
    with pytest.raises(ConfigError) as info:
        run(train_tool, setup, tmp_path, f'{PRE}.clip_len=50')
    assert str(info.value).startswith(f'{PRE} (SkeletonPretrainPreprocessor) (')
    assert str(info.value).endswith(
        'SkeletonPretrainPreprocessor: clip_len=50 must be a multiple of patch_len=4 with '
        'at least 2 patches')
    assert not (tmp_path / 'work').exists()


def test_encoder_frames_not_divisible_by_patch_length(train_tool, setup, tmp_path):
    with pytest.raises(ValueError, match='SkeletonTransformer: num_frames=50 is not divisible'):
        run(train_tool, setup, tmp_path, 'model.backbone.num_frames=50')
    assert_nothing_trained(tmp_path / 'work')
    # The masking and the encoder must cut the same tokens (unchecked, the first
    # iteration fails with an index error).
    with pytest.raises(ConfigError, match=r'^data_preprocessor \(SkeletonPretrainPreprocessor\) '
                                          r'\(.*\): patch_len=4 but model\.backbone\.'
                                          r'patch_len=6; the mask must cut the clip'):
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
        run(train_tool, setup, tmp_path, f'{PRE}.masking=motion_awre')
    assert str(info.value).startswith(f'{PRE} (SkeletonPretrainPreprocessor) (')
    assert str(info.value).endswith(
        "SkeletonPretrainPreprocessor: masking must be 'motion_aware' or 'random', got "
        "'motion_awre'")
    with pytest.raises(ConfigError) as info:
        run(train_tool, setup, tmp_path, f'{PRE}.type=SkeletonPretrainPreprocesor')
    assert str(info.value).startswith(f'{PRE} (')
    assert str(info.value).endswith(
        "unknown data preprocessor type 'SkeletonPretrainPreprocesor' (not in the mmaction "
        "model registry); did you mean 'SkeletonPretrainPreprocessor'?")
    assert not (tmp_path / 'work').exists()


# A per-sample pipeline (SkeletonPoseDataset), as the other protocols and users' own
# pipelines have, is checked transform by transform before the runner is built.
PER_SAMPLE = """
train_dataloader = dict(dataset=dict(type='SkeletonPoseDataset', ann_file='{ann_file}', pipeline=[
    dict(type='CentreOnFirstFrame', joint=1),
    dict(type='ValidCropResize', clip_len=48, p_interval=(0.5, 1.0), min_frames=16),
    dict(type='RandomRotation3D', max_angle=0.3),
    dict(type='FormatGCNInput', num_person=2, mode='zero'),
    dict(type='MotionAwareTokenMasking', mask_ratio=0.9, tau=0.8, patch_len=4),
    dict(type='PackActionInputs', algorithm_keys=('token_mask', )),
]))
"""


def run_per_sample(train_tool, setup, tmp_path, *options):
    ann_file = setup / 'synthetic.pkl'
    config = write_config(tmp_path, ann_file, extra=PER_SAMPLE.format(ann_file=ann_file))
    train_tool.main([str(config), '--work-dir', str(tmp_path / 'work'), '--cfg-options',
                     *options])


def test_per_sample_pipeline_is_checked_transform_by_transform(train_tool, setup, tmp_path):
    with pytest.raises(ConfigError) as info:
        run_per_sample(train_tool, setup, tmp_path, f'{PIPELINE}.4.mask_ratio=1.2')
    assert str(info.value).startswith(f'{PIPELINE}[4] (MotionAwareTokenMasking) (')
    assert str(info.value).endswith('MotionAwareTokenMasking: mask_ratio must be in (0, 1), '
                                    'got 1.2')
    with pytest.raises(ConfigError) as info:
        run_per_sample(train_tool, setup, tmp_path, f'{PIPELINE}.1.clip_len=50')
    assert str(info.value).endswith(
        f'clip_len=50 is not divisible by patch_len=4 of {PIPELINE}[4] '
        '(MotionAwareTokenMasking); use a multiple of 4')
    with pytest.raises(ConfigError) as info:
        run_per_sample(train_tool, setup, tmp_path, f'{PIPELINE}.4.type=MotionAwareMasking')
    assert str(info.value).endswith(
        "unknown transform type 'MotionAwareMasking' (not in the mmaction transform "
        "registry); did you mean 'MotionAwareTokenMasking'? Masking strategies: "
        'MotionAwareTokenMasking, RandomTokenMasking.')
    assert not (tmp_path / 'work').exists()


# ------------------------------------------------ the classifier's class count
@DATASETS.register_module(force=True)
class UsersOwnPoseDataset(SkeletonPoseDataset):
    """Test-only: a user's subclass, under a name that says nothing about it."""


def test_num_classes_reaches_every_dataset_that_validates():
    """``tools/train.py`` gives ``model.cls_head.num_classes`` to every dataset whose
    class is ``SkeletonPoseDataset`` or a subclass (through dataset wrappers), so their
    labels are range-checked at load; others (MMAction2's ``PoseDataset``) and a
    dataset's own ``num_classes`` are left alone."""
    cfg = Config(dict(
        model=dict(cls_head=dict(num_classes=7)),
        train_dataloader=dict(dataset=dict(type='RepeatDataset', times=2, dataset=dict(
            type='SemiSupervisedPoseDataset'))),
        val_dataloader=dict(dataset=dict(type='RetrievalPoseDataset')),
        test_dataloader=dict(dataset=dict(type='ConcatDataset', datasets=[
            dict(type='SkeletonClipDataset'), dict(type='PoseDataset'),
            dict(type=UsersOwnPoseDataset), dict(type='UsersOwnPoseDataset'),
            dict(type='SkeletonPoseDataset', num_classes=5)]))))
    changed = propagate_num_classes(cfg)
    assert cfg.train_dataloader.dataset.dataset.num_classes == 7
    assert cfg.val_dataloader.dataset.num_classes == 7
    clip, pose, own_class, own_name, explicit = cfg.test_dataloader.dataset.datasets
    assert (clip.num_classes, own_class.num_classes, own_name.num_classes) == (7, 7, 7)
    assert 'num_classes' not in pose  # MMAction2's PoseDataset: not ours to set
    assert explicit.num_classes == 5
    assert len(changed) == 5
    # Without a classifier (pre-training) nothing is set.
    cfg = Config(dict(model=dict(type='GFP'),
                      train_dataloader=dict(dataset=dict(type='SkeletonClipDataset'))))
    assert propagate_num_classes(cfg) == [] and 'num_classes' not in cfg.train_dataloader.dataset


def test_2d_data_with_3d_settings_fails_before_the_runner(repo_root):
    """A 2D (x, y, score) file read by a preprocessor or encoder set up for 3D."""
    from mmengine.config import Config

    from gfp_mmaction.engine.preflight import ConfigError, check_pipelines
    cfg = Config.fromfile(str(repo_root / 'configs/gfp/gfp_ntu60_xsub_2d.py'))
    check_pipelines(cfg)  # the shipped 2D config is consistent
    bad = Config.fromfile(str(repo_root / 'configs/gfp/gfp_ntu60_xsub_2d.py'))
    bad.data_preprocessor.coord_dims = 3
    bad.data_preprocessor.rotation = '3d'
    with pytest.raises(ConfigError, match='coord_dims=3 but the training dataset reads '
                                          'num_coords=2'):
        check_pipelines(bad)
    bad = Config.fromfile(str(repo_root / 'configs/gfp/gfp_ntu60_xsub_2d.py'))
    bad.model.backbone.in_channels = 2
    with pytest.raises(ConfigError, match='in_channels=2 but the training dataset gives 3 '
                                          'channels per joint'):
        check_pipelines(bad)
    bad = Config.fromfile(str(repo_root / 'configs/gfp/gfp_ntu60_xsub_2d.py'))
    bad.model.backbone.num_joints = 25
    with pytest.raises(ConfigError, match="num_joints=25 but the training dataset has 17 "
                                          "joints per person \\(layout 'coco17'\\)"):
        check_pipelines(bad)
