"""2D keypoints and other joint layouts: the layout registry, the NTU-25 -> COCO-17
projection the tests train on, the 2D rotation, the batched 2D path against its numpy
reference, validation and the checker on 2D files, the 2D configs, and pre-training,
linear probe and swap end to end on projected synthetic skeletons."""
import pickle
import sys

import numpy as np
import pytest
import torch
from mmaction.datasets.transforms import FormatGCNInput
from mmengine.config import Config

from gfp_mmaction.datasets import (
    AnnotationError,
    SkeletonClipDataset,
    SkeletonPoseDataset,
    per_sample_config,
    per_sample_pipeline,
    skeleton_clip_collate,
)
from gfp_mmaction.datasets.keypoint_arrays import normalize_2d
from gfp_mmaction.datasets.transforms import (
    CentreOnFirstFrame,
    MotionAwareTokenMasking,
    RandomRotation2D,
    RandomTokenMasking,
    ValidCropResize,
)
from gfp_mmaction.models.data_preprocessors import SkeletonPretrainPreprocessor, augmentation_draws
from gfp_mmaction.testing.synthetic.two_d import (
    ntu25_to_coco17,
    project_pinhole,
    write_synthetic_ntu_2d,
)
from gfp_mmaction.utils.joint_layouts import LAYOUTS, get_layout, guess_layout, register_layout
from gfp_mmaction.utils.skeleton_math import rotation_matrix, rotation_matrix_2d

from protocol_helpers import REPO, load_tool, logged_metrics, tiny_options

sys.path.insert(0, str(REPO / 'tools' / 'data'))
import check_skeleton_pkl  # noqa: E402

PRETRAIN_2D = 'configs/gfp/gfp_ntu60_xsub_2d.py'
LINEAR_2D = 'configs/gfp/linear_ntu60_xsub_2d.py'
SWAP_2D = 'configs/swap/stgcn_to_gfp_ntu60_xsub_2d.py'
DATA_2D = dict(layout='coco17', num_coords=2, with_score=True, normalize_2d='half_height')


@pytest.fixture(scope='module')
def ann_2d(tmp_path_factory):
    """The embedded synthetic set seen as COCO-17 keypoints: 40 clips, 20 per xsub split."""
    path = tmp_path_factory.mktemp('synthetic_2d') / 'synthetic_ntu_2d.pkl'
    write_synthetic_ntu_2d(str(path), subjects=2, views=2, reps=1, seed=0)
    return path


class FixedRotation2D(RandomRotation2D):
    """``RandomRotation2D`` whose one uniform draw is ``u`` (its transform unchanged)."""

    def __init__(self, max_angle, u):
        super().__init__(max_angle)
        self.u = u

    def angle(self, u):
        return super().angle(self.u)


def rewrite(source, target, change):
    """A copy of the pickle ``source`` at ``target`` after ``change(annotations)``."""
    data = pickle.loads(source.read_bytes())
    change(data['annotations'])
    target.write_bytes(pickle.dumps(data))
    return str(target)


# ------------------------------------------------------------------ layouts and geometry

def test_built_in_and_user_layouts():
    ntu, coco = get_layout('ntu25'), get_layout('coco17')
    assert (ntu.num_joints, ntu.centre_joint, len(ntu.edges)) == (25, 1, 24)
    assert ntu.joint_name(1) == 'spine-mid' and (4, 8) in ntu.pairs  # l / r shoulder
    assert (coco.num_joints, coco.centre_joint, len(coco.edges)) == (17, 11, 16)
    assert coco.joint_name(11) == 'l-hip' and len(coco.pairs) == 8
    assert guess_layout(17) is coco and guess_layout(25) is ntu and guess_layout(18) is None
    mine = dict(name='test_tri', num_joints=3, centre_joint=0, pairs=[(1, 2)],
                edges=[(0, 1), (0, 2)])
    assert get_layout(mine).edges == ((0, 1), (0, 2))  # a dict: used without registering
    try:
        register_layout(mine)
        assert get_layout('test_tri').num_joints == 3 and guess_layout(3).name == 'test_tri'
        with pytest.raises(ValueError, match="'test_tri' is already registered"):
            register_layout(dict(mine, centre_joint=1))
    finally:
        LAYOUTS.pop('test_tri', None)
    with pytest.raises(KeyError, match="unknown joint layout 'test_tri'; registered: coco17"):
        get_layout('test_tri')
    with pytest.raises(ValueError, match=r'edges \[\(0, 3\)\] are not pairs of two different '
                                         r'joints in \[0, 3\)'):
        get_layout(dict(mine, edges=[(0, 3)]))
    with pytest.raises(ValueError, match=r'centre_joint must be a joint index in \[0, 3\)'):
        get_layout(dict(mine, centre_joint=3))


def test_ntu_to_coco17_mapping_and_pinhole_projection_by_hand():
    ntu = np.zeros((25, 3))
    head, neck = np.array([0.0, 1.6, 3.0]), np.array([0.0, 1.5, 3.0])
    l_sho, r_sho = np.array([-0.2, 1.4, 3.0]), np.array([0.2, 1.4, 3.0])
    ntu[:] = [0.0, 1.0, 3.0]  # every other joint somewhere on the body
    ntu[3], ntu[2], ntu[4], ntu[8] = head, neck, l_sho, r_sho
    ntu[6], ntu[18] = [-0.3, 1.0, 3.0], [0.1, 0.1, 3.0]  # l-wrist, r-ankle
    coco, visible = ntu25_to_coco17(ntu)
    assert visible.all()
    np.testing.assert_allclose(coco[0], head)                                    # nose
    np.testing.assert_allclose(coco[1], head + 0.3 * (head - neck) + 0.1 * (l_sho - r_sho))
    np.testing.assert_allclose(coco[4], head + 0.1 * (head - neck) - 0.25 * (l_sho - r_sho))
    np.testing.assert_allclose(coco[[5, 6, 9, 16]], ntu[[4, 8, 6, 18]])  # shoulders, wrist, ankle
    # u = 960 + 1000 x / z, v = 540 - 1000 (y - 0.9) / z
    np.testing.assert_allclose(project_pinhole(np.array([0.3, 1.5, 3.0])), [1060.0, 340.0])
    ntu[3] = 0  # the head lost: nose, eyes and ears with it; the rest stays
    coco, visible = ntu25_to_coco17(ntu)
    assert visible.tolist() == [False] * 5 + [True] * 12 and not coco[:5].any()


def test_2d_rotation_and_channels_passed_through():
    # pi / 2: (1, 0) -> R @ x = (0, -1), MAMP's Rz convention on (x, y)
    np.testing.assert_allclose(rotation_matrix_2d(np.pi / 2), [[0, 1], [-1, 0]], atol=1e-12)
    angles = np.array([0.3, -0.2, 0.05])
    np.testing.assert_allclose(rotation_matrix_2d(angles),
                               rotation_matrix(np.stack([0 * angles, 0 * angles, angles],
                                                        -1))[:, :2, :2], atol=1e-12)
    np.testing.assert_array_equal(rotation_matrix_2d(torch.tensor(angles)).numpy(),
                                  rotation_matrix_2d(angles))
    keypoint = np.zeros((1, 3, 17, 3), np.float32)
    keypoint[0, 1:, :, :2] = [[1.0, 0.0]]
    keypoint[..., 2] = 0.7  # a score channel: neither rotated nor centred
    out = FixedRotation2D(np.pi / 4, 1.0)(dict(keypoint=keypoint.copy()))['keypoint']
    np.testing.assert_allclose(out[0, 1, 0], [np.sqrt(0.5), -np.sqrt(0.5), 0.7], atol=1e-7)
    out = FixedRotation2D(np.pi / 2, 1.0)(dict(keypoint=keypoint.copy()))['keypoint']
    np.testing.assert_allclose(out[0, 1, 0], [0.0, -1.0, 0.7], atol=1e-7)
    assert not out[0, 0, :, :2].any() and (out[..., 2] == np.float32(0.7)).all()
    keypoint[0, 1:, 11, :2] = [3.0, 4.0]
    centred = CentreOnFirstFrame(joint=11, coord_dims=2)(dict(keypoint=keypoint))['keypoint']
    np.testing.assert_allclose(centred[0, 1, 0], [-2.0, -4.0, 0.7])  # (1, 0) - (3, 4)
    assert not centred[0, 0, :, :2].any() and (centred[..., 2] == np.float32(0.7)).all()
    assert repr(CentreOnFirstFrame(11, 2)) == 'CentreOnFirstFrame(joint=11, coord_dims=2)'


# ------------------------------------------------------------------ batched vs numpy

def reference_2d(sample, draws, b, pre):
    """The per-sample numpy path of the 2D config on one validated annotation
    (``keypoint`` (M, T, 17, 2) and ``keypoint_score`` (M, T, 17)), with the batch's
    draws of row ``b``: the transforms' own ``transform``, only their draws fixed."""
    crop_draws = tuple(draws['crop'][b].numpy())

    class Crop(ValidCropResize):
        def draw(self):
            return crop_draws

    results = dict(keypoint=sample['keypoint'].copy(),
                   keypoint_score=sample['keypoint_score'].copy(),
                   total_frames=sample['total_frames'])
    results = CentreOnFirstFrame(pre.centre_joint)(results)
    results = Crop(pre.clip_len, pre.p_interval, pre.min_frames)(results)
    if pre.rotation == '2d':
        results = FixedRotation2D(pre.max_angle, float(draws['angles'][b, 2]))(results)
    keypoint = FormatGCNInput(num_person=2, mode=pre.person_pad)(results)['keypoint']
    masking = MotionAwareTokenMasking(pre.mask_ratio, pre.tau, pre.patch_len) \
        if pre.masking == 'motion_aware' else RandomTokenMasking(pre.mask_ratio, pre.patch_len)
    u = draws['tokens'][b].numpy()[None].astype(np.float64)
    mask = masking.mask_from_scores(masking.scores(keypoint, u))[0]  # (M, L)
    return keypoint[0], [np.flatnonzero(~m) for m in mask]


@pytest.mark.parametrize('person_pad,masking,rotation',
                         [('zero', 'motion_aware', '2d'), ('loop', 'random', 'none')])
def test_batched_2d_path_equals_the_numpy_reference(ann_2d, person_pad, masking, rotation):
    clips = SkeletonClipDataset(str(ann_2d), split='xsub_train', **DATA_2D)
    samples = SkeletonPoseDataset(str(ann_2d), [], split='xsub_train', **DATA_2D)
    assert clips.point_shape == (17, 3)  # x, y and the score as a third channel
    pre = SkeletonPretrainPreprocessor(clip_len=48, min_frames=16, centre_joint=11,
                                       coord_dims=2, rotation=rotation, person_pad=person_pad,
                                       masking=masking, seed=11)
    index = list(range(len(clips)))[::-1]
    out = pre(skeleton_clip_collate(clips.__getitems__(index)), True)
    joints, visible = out['inputs'][:, 0], out['data_samples']['visible_index']
    assert joints.shape == (len(index), 2, 48, 17, 3) and visible.shape == (2 * len(index), 20)
    draws = augmentation_draws(11, 0, torch.tensor(index), 2, 12 * 17)
    for b, i in enumerate(index):
        keypoint, ref_visible = reference_2d(samples.get_data_info(i), draws, b, pre)
        torch.testing.assert_close(joints[b], torch.from_numpy(keypoint), rtol=0, atol=1e-6)
        for m in range(2):
            assert np.array_equal(visible[2 * b + m].numpy(), ref_visible[m]), (i, m)
    # the score channel is the resized score (0 or 1 blended), never centred or rotated
    score = joints[:, 0, :, :, 2]
    assert score.min() >= 0 and score.max() <= 1 + 1e-6
    assert torch.isclose(score, torch.ones(())).float().mean() > 0.95
    assert per_sample_pipeline(dict(rotation=rotation, centre_joint=11))[2]['type'] == \
        ('RandomRotation2D' if rotation == '2d' else 'FormatGCNInput')


def test_normalize_2d_by_hand(ann_2d):
    pixels = np.array([[[[1230.0, 0.0], [0.0, 0.0]]]])  # a joint and an absent one
    np.testing.assert_allclose(normalize_2d(pixels, (1080, 1920))[0, 0, 0], [1230 / 540, 0])
    np.testing.assert_allclose(normalize_2d(pixels, (1080, 1920), 'half_size')[0, 0, 0],
                               [1230 / 960, 0])
    assert not normalize_2d(pixels)[0, 0, 1].any()  # absent joints stay zero (no shift)
    raw = SkeletonPoseDataset(str(ann_2d), [], split='xsub_val', layout='coco17', num_coords=2)
    scaled = SkeletonPoseDataset(str(ann_2d), [], split='xsub_val', **DATA_2D)
    np.testing.assert_allclose(scaled.get_data_info(0)['keypoint'],
                               raw.get_data_info(0)['keypoint'] / 540, rtol=1e-6)


# ------------------------------------------------------------------ errors

def test_2d_files_and_settings_give_clear_errors(ann_2d, tmp_path):
    with pytest.raises(AnnotationError) as error:  # the 3D defaults on a 2D file
        SkeletonPoseDataset(str(ann_2d), [], split='xsub_train')
    assert ("field \"keypoint\": expected shape (M, T, 25, 3), got (1, 61, 17, 2); a 2D "
            "file of 17 joints: set the dataset's layout='coco17' (num_joints=17), "
            'num_coords=2') in str(error.value)
    assert "sample 'S001C001P001R001A001' (annotations[0])" in str(error.value)

    def bad_score(annotations):
        annotations[0]['keypoint_score'] = annotations[0]['keypoint_score'][:, :-1]
    with pytest.raises(AnnotationError, match=r'annotations\[0\]\): field "keypoint_score": '
                                              r'expected shape \(1, 61, 17\)'):
        SkeletonPoseDataset(rewrite(ann_2d, tmp_path / 'score.pkl', bad_score), [],
                            split='xsub_train', **DATA_2D)

    def no_score(annotations):
        del annotations[0]['keypoint_score']
    unscored = rewrite(ann_2d, tmp_path / 'unscored.pkl', no_score)
    with pytest.raises(AnnotationError, match=r'annotations\[0\]\): missing field '
                                              '"keypoint_score"'):
        SkeletonPoseDataset(unscored, [], split='xsub_train', **DATA_2D)
    with pytest.raises(AnnotationError, match="has a field \"keypoint_score\" and sample "
                                              "'S001C001P001R001A001' has not"):
        SkeletonClipDataset(unscored, split='xsub_train', layout='coco17', num_coords=2)
    assert SkeletonClipDataset(unscored, split='xsub_train', layout='coco17', num_coords=2,
                               with_score=False).point_shape == (17, 2)
    with pytest.raises(ValueError, match="num_joints=25 but layout 'coco17' has 17 joints"):
        SkeletonPoseDataset(str(ann_2d), [], layout='coco17', num_joints=25)
    with pytest.raises(ValueError, match="normalize_2d='half_height' scales 2D pixel"):
        SkeletonPoseDataset(str(ann_2d), [], normalize_2d='half_height')
    with pytest.raises(ValueError, match="rotation='3d' rotates 3 coordinates but "
                                         'coord_dims=2'):
        SkeletonPretrainPreprocessor(coord_dims=2)
    clips = SkeletonClipDataset(unscored, split='xsub_train', layout='coco17', num_coords=2,
                                with_score=False)
    batch = skeleton_clip_collate(clips.__getitems__([0, 1]))
    with pytest.raises(ValueError, match=r"got \(\d+, 17, 2\): a 2D file \(x, y\) needs "
                                         "coord_dims=2, rotation='2d'"):
        SkeletonPretrainPreprocessor()(batch, True)
    with pytest.raises(ValueError, match='centre_joint=20 is not a joint of rows with 17'):
        SkeletonPretrainPreprocessor(coord_dims=2, rotation='2d', centre_joint=20)(batch, True)


def test_checker_reports_2d_keypoints_and_layout(ann_2d, synthetic_ann_file, capsys):
    checker = check_skeleton_pkl
    assert checker.main([str(ann_2d), '--num-classes', '10']) == 0
    out = capsys.readouterr().out
    assert "keypoints: 2D (x, y) + keypoint_score in 40 of 40 clips, 17 joints: layout " \
           "'coco17'" in out
    assert ("dataset settings that read it: layout='coco17', num_coords=2, with_score=True, "
            "normalize_2d='half_height'") in out
    assert "kind: mmaction2: MMAction2's NTU 2D pickle (17 keypoints per person" in out
    assert 'OK: no errors' in out
    assert checker.main([str(ann_2d), '--layout', 'ntu25']) == 1
    out = capsys.readouterr().out
    assert 'checked against 25 joints x 2 coordinates, as asked' in out
    assert "expected shape (M, T, 25, 2), got (1, 61, 17, 2); a 2D file of 17 joints: set " \
           "the dataset's layout='coco17' (num_joints=17)" in out
    assert checker.main([str(synthetic_ann_file)]) == 0
    assert "keypoints: 3D (x, y, z), 25 joints: layout 'ntu25'" in capsys.readouterr().out


# ------------------------------------------------------------------ configs and end to end

def test_2d_configs_set_layout_channels_and_model_consistently():
    pretrain = Config.fromfile(str(REPO / PRETRAIN_2D))
    coco = get_layout(pretrain.train_dataloader.dataset.layout)
    model, pre = pretrain.model, pretrain.data_preprocessor
    assert pretrain.train_dataloader.dataset.ann_file == 'data/skeleton/ntu60_2d.pkl'
    assert coco.num_joints == model.backbone.num_joints == model.neck.num_joints == \
        model.target_generator.num_joints == 17
    assert model.backbone.in_channels == model.target_generator.in_channels == 3  # x, y, score
    assert pretrain.train_dataloader.dataset.with_score is True
    assert (pre.centre_joint, pre.coord_dims, pre.rotation) == (coco.centre_joint, 2, '2d')
    assert pretrain.train_dataloader.dataset.num_coords == pre.coord_dims
    reference = per_sample_config(pretrain).train_dataloader.dataset
    assert reference.type == 'SkeletonPoseDataset' and reference.layout == 'coco17'
    assert [t['type'] for t in reference.pipeline][:3] == [
        'CentreOnFirstFrame', 'ValidCropResize', 'RandomRotation2D']
    linear = Config.fromfile(str(REPO / LINEAR_2D))
    assert (linear.model.backbone.in_channels, linear.model.backbone.num_joints) == (3, 17)
    for loader in ('train_dataloader', 'val_dataloader'):
        dataset = linear[loader].dataset
        assert {k: dataset[k] for k in DATA_2D} == DATA_2D
        assert dataset.pipeline[0] == dict(type='CentreOnFirstFrame', joint=coco.centre_joint)
    swap = Config.fromfile(str(REPO / SWAP_2D))
    assert swap.train_dataloader.dataset.dataset.ann_file == 'data/skeleton/ntu60_2d.pkl'
    assert (swap.model.backbone.type, swap.model.backbone.in_channels,
            swap.model.backbone.num_joints, swap.model.backbone.num_frames) == \
        ('SkeletonTransformer', 3, 17, 100)
    assert swap.model.cls_head.type == 'GCNHead'  # the recipe's, untouched
    assert swap.default_hooks.checkpoint.type == 'ResumableCheckpointHook'


TINY_PRETRAIN = """
_base_ = '{repo}/{config}'
model = dict(
    backbone=dict(embed_dims=32, depth=1, num_heads=2),
    neck=dict(in_dims=32, embed_dims=32, num_heads=2, depths=(1, 1, 1), target_dims=32,
              global_hidden=64),
    target_generator=dict(target_dims=32, local_hidden=32, global_hidden=64))
train_dataloader = dict(batch_size=10, num_workers=0, persistent_workers=False,
                        pin_memory=False, dataset=dict(ann_file='{ann_file}'))
train_cfg = dict(max_epochs=1)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=1))
custom_hooks = []
"""


def test_2d_pretraining_linear_probe_and_swap_end_to_end(ann_2d, tmp_path):
    train, test = load_tool('train'), load_tool('test')
    config = tmp_path / 'gfp_tiny_2d.py'
    config.write_text(TINY_PRETRAIN.format(repo=REPO, config=PRETRAIN_2D, ann_file=ann_2d))
    train.main([str(config), '--work-dir', str(tmp_path / 'pretrain'), '--seed', '0'])
    losses = [r['loss'] for r in logged_metrics(tmp_path / 'pretrain') if 'loss' in r]
    assert len(losses) >= 2 and all(np.isfinite(losses))  # 20 clips, batch 10: 2 steps
    checkpoint = tmp_path / 'pretrain' / 'epoch_1.pth'
    state = torch.load(checkpoint, map_location='cpu', weights_only=False)['state_dict']
    assert state['backbone.patch_embed.weight'].shape == (32, 4 * 3)  # 4 frames x (x, y, s)
    assert state['backbone.pos_embed.spatial'].shape[2] == 17

    options = tiny_options(LINEAR_2D, ann_2d, checkpoint)
    train.main([LINEAR_2D, '--work-dir', str(tmp_path / 'linear'), '--cfg-options', *options])
    assert any('acc/top1' in r for r in logged_metrics(tmp_path / 'linear'))

    options = tiny_options(SWAP_2D, ann_2d, checkpoint) + ['test_dataloader.dataset.indices=2']
    train.main([SWAP_2D, '--work-dir', str(tmp_path / 'swap'), '--cfg-options', *options])
    assert any('acc/top1' in r for r in logged_metrics(tmp_path / 'swap'))
    test.main([SWAP_2D, str(tmp_path / 'swap' / 'epoch_1.pth'), '--work-dir',
               str(tmp_path / 'swap_test'), '--cfg-options', *options])
    assert any('acc/top1' in r for r in logged_metrics(tmp_path / 'swap_test'))


def test_masking_picture_of_a_2d_clip_has_coco17_bones(tmp_path, capsys):
    tool = load_tool('visualize_masking')
    out = tmp_path / 'masking_2d.png'
    tool.main([PRETRAIN_2D, '--synthetic', '--index', '0', '--out', str(out)])
    printed = capsys.readouterr().out
    assert '51 of 510 tokens visible' in printed and out.stat().st_size > 10000
    assert tool.choose_layout(None, 'coco17', 17).edges == get_layout('coco17').edges
    assert tool.choose_layout(None, None, 25).name == 'ntu25'
    assert tool.choose_layout(None, None, 18) is None  # no layout: joints only
    with pytest.raises(SystemExit, match="layout 'ntu25' has 25 joints, the clip 17"):
        tool.choose_layout('ntu25', 'coco17', 17)
