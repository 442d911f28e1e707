"""MMAction2's own NTU 3D pickles (its download page's ntu60_3d.pkl / ntu120_3d.pkl).

The pickle here is written by MMAction2's real converter,
``mmaction/.mim/tools/data/skeleton/gen_ntu_rgbd_raw.py`` (shipped in the mmaction2
wheel), from four small ``.skeleton`` files; the same files also go through our
``tools/data/ntu_raw_to_pkl.py``. What the two files differ in is what
docs/data_preparation.md says: dtype, denoising, frames with no body.
"""
import importlib.util
import os.path as osp
import pickle
import sys
from pathlib import Path

import mmaction
import numpy as np
import pytest
import torch
from mmaction.registry import DATASETS, MODELS
from mmengine.config import Config
from mmengine.registry import init_default_scope

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / 'tools' / 'data'))
import check_skeleton_pkl  # noqa: E402
import ntu_raw_to_pkl  # noqa: E402

GEN_NTU_RGBD_RAW = Path(osp.dirname(mmaction.__file__), '.mim', 'tools', 'data', 'skeleton',
                        'gen_ntu_rgbd_raw.py')


def body(T, x0=0.0, amp=0.05, seed=0):
    """A standing person 3 m in front of the camera, swaying: ``(T, 25, 3)``, values with 4
    decimals (what a .skeleton file holds)."""
    base = np.random.default_rng(seed).uniform(-1, 1, (25, 3)) * [0.25, 0.8, 0.1] + [x0, 0.8, 3]
    wave = amp * np.sin(0.3 * np.arange(T)[:, None, None] + np.arange(25)[None, :, None])
    return np.round(base + wave, 4)


def flat_noise(T):
    """A wide, flat "body" (a table top the tracker took for a person): x-extent 1.5 m,
    y-extent 0.1 m, jittering in x and z."""
    base = np.stack([np.linspace(-0.75, 0.75, 25), np.linspace(0, 0.1, 25), np.full(25, 2.0)], 1)
    jitter = 0.5 * np.sin(0.5 * np.arange(T)[:, None, None] + np.arange(25)[None, :, None])
    return np.round(base + jitter * [1, 0.02, 1], 4)


def write_skeleton(path, num_frames, bodies):
    """An NTU ``.skeleton`` file. ``bodies``: ``(body_id, first_frame, joints (n, 25, 3))``."""
    lines = [str(num_frames)]
    for t in range(num_frames):
        here = [(bid, joints[t - first]) for bid, first, joints in bodies
                if first <= t < first + len(joints)]
        lines.append(str(len(here)))
        for bid, joints in here:
            lines += [f'{bid} 0 1 2 1 2 0 0.01 -0.2 2', '25']
            lines += [f'{x!r} {y!r} {z!r} 250.5 200.2 900.1 500.7 0.1 0.2 -0.3 0.9 2'
                      for x, y, z in joints.tolist()]
    Path(path).write_text('\n'.join(lines) + '\n')


# frame_dir -> the bodies of its file. P001 trains and P003 tests in x-sub; C002 trains
# and C001 tests in x-view.
ACTOR = body(20)
LOW, HIGH, NOISE = body(30, x0=-0.6, amp=0.01, seed=1), body(30, x0=0.6, amp=0.1, seed=2), \
    flat_noise(30)
FILES = {
    # one actor from frame 2 on: frames 0 and 1 of the file hold no body
    'S001C002P001R001A001': (22, [('101', 2, ACTOR)]),
    # two actors
    'S001C001P003R001A002': (30, [('201', 0, LOW), ('202', 0, HIGH)]),
    # two actors and a spread-noise body listed first in every frame
    'S001C002P003R001A003': (30, [('300', 0, NOISE), ('301', 0, LOW), ('302', 0, HIGH)]),
    'S001C001P001R001A004': (25, [('401', 0, body(25, seed=4))]),
}


@pytest.fixture(scope='module')
def raw_dir(tmp_path_factory):
    raw = tmp_path_factory.mktemp('nturgb+d_skeletons')
    for name, (frames, bodies) in FILES.items():
        write_skeleton(raw / f'{name}.skeleton', frames, bodies)
    return raw


@pytest.fixture(scope='module')
def mmaction2_pkl(raw_dir, tmp_path_factory):
    """``ntu60_3d.pkl`` as MMAction2's gen_ntu_rgbd_raw.py writes it."""
    spec = importlib.util.spec_from_file_location('gen_ntu_rgbd_raw', GEN_NTU_RGBD_RAW)
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    out = tmp_path_factory.mktemp('mmaction2')
    gen.gendata(str(raw_dir), str(out), None, 'ntu60')
    return out / 'ntu60_3d.pkl'


@pytest.fixture(scope='module')
def ours_pkl(raw_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp('ours') / 'ntu60_3d.pkl'
    assert ntu_raw_to_pkl.main(['--raw-dir', str(raw_dir), '--dataset', 'ntu60',
                                '--out', str(out)]) == 0
    return out


def load(path):
    with open(path, 'rb') as f:
        return pickle.load(f)


def clip(data, name):
    (anno, ) = [a for a in data['annotations'] if a['frame_dir'] == name]
    return anno


def test_what_mmaction2s_converter_writes_and_how_ours_differs(mmaction2_pkl, ours_pkl):
    theirs, ours = load(mmaction2_pkl), load(ours_pkl)
    assert sorted(theirs['split']) == sorted(ours['split']) == \
        ['xsub_train', 'xsub_val', 'xview_train', 'xview_val']
    for split in theirs['split']:
        assert sorted(theirs['split'][split]) == sorted(ours['split'][split])
    for anno in theirs['annotations']:
        assert set(anno) == {'frame_dir', 'label', 'keypoint', 'total_frames'}
        assert anno['keypoint'].dtype == np.float16  # theirs; ours float32
        assert clip(ours, anno['frame_dir'])['keypoint'].dtype == np.float32

    # Frames without a body: MMAction2 keeps all 22 frames of the file, the first two
    # zero; ours removes them. Neither is centred: camera coordinates in metres.
    a = clip(theirs, 'S001C002P001R001A001')
    assert a['keypoint'].shape == (1, 22, 25, 3) and a['total_frames'] == 22
    assert not a['keypoint'][:, :2].any()
    assert np.array_equal(a['keypoint'][0, 2:], ACTOR.astype(np.float16))
    b = clip(ours, 'S001C002P001R001A001')
    assert b['keypoint'].shape == (1, 20, 25, 3)
    assert np.array_equal(b['keypoint'][0], ACTOR.astype(np.float32))

    # Denoising: MMAction2 keeps the two bodies of largest spread (summed per-axis std),
    # which here are the flat noise body and the more moving actor; ours drops the noise
    # body (x-extent > 0.8 y-extent) and keeps both actors, the more moving first.
    noisy = clip(theirs, 'S001C002P003R001A003')['keypoint']
    assert noisy.shape == (2, 30, 25, 3)
    assert np.array_equal(noisy[0], NOISE.astype(np.float16))
    assert np.array_equal(noisy[1], HIGH.astype(np.float16))
    assert np.array_equal(clip(ours, 'S001C002P003R001A003')['keypoint'],
                          np.stack([HIGH, LOW]).astype(np.float32))


def test_checker_names_each_kind(mmaction2_pkl, ours_pkl, tmp_path, capsys):
    assert check_skeleton_pkl.main([str(mmaction2_pkl), '--num-classes', '60']) == 0
    out = capsys.readouterr().out
    assert "kind: mmaction2: MMAction2's NTU 3D pickle" in out
    assert '  - keypoint float16 in 4 of 4 clips' in out
    assert '  - 0 of 4 clips centred on their first frame' in out
    assert '  - 1 of 4 clips hold frames where no body is recorded' in out
    assert 'SkeletonPoseDataset casts the keypoints to float32' in out
    assert 'OK: no errors' in out

    assert check_skeleton_pkl.main([str(ours_pkl), '--num-classes', '60']) == 0
    out = capsys.readouterr().out
    assert "kind: gfp-mmaction: gfp-mmaction's tools/data/ntu_raw_to_pkl.py" in out
    assert '  - 0 of 4 clips hold frames where no body is recorded' in out

    data = load(mmaction2_pkl)  # float64 and a 2D file's field: neither producer
    for anno in data['annotations']:
        anno['keypoint'] = anno['keypoint'].astype(np.float64)
        anno['keypoint_score'] = np.ones(anno['keypoint'].shape[:3], np.float32)
    other = tmp_path / 'other.pkl'
    other.write_bytes(pickle.dumps(data))
    assert check_skeleton_pkl.main([str(other)]) == 0
    out = capsys.readouterr().out
    assert ("kind: unknown: neither gfp-mmaction's converters nor MMAction2's "
            'gen_ntu_rgbd_raw.py: keypoint float64; extra fields keypoint_score') in out

    # float32 NTU clips with body-less frames: not what ntu_raw_to_pkl.py writes
    for anno in data['annotations']:
        anno['keypoint'] = anno['keypoint'].astype(np.float32)
        del anno['keypoint_score']
    other.write_bytes(pickle.dumps(data))
    check_skeleton_pkl.main([str(other)])
    assert 'kind: unknown' in capsys.readouterr().out


def test_identify_layout_of_the_other_converters_names():
    kp = np.ones((1, 8, 25, 3), np.float32)
    for name, converter in (('0002-L_3', 'pku_mmd_to_pkl.py'),
                            ('xsub_train_000012', 'npz_to_pkl.py')):
        layout = check_skeleton_pkl.identify_layout(
            [dict(frame_dir=name, label=0, total_frames=8, keypoint=kp)])
        assert (layout.kind, layout.producer) == ('gfp-mmaction',
                                                  f"gfp-mmaction's tools/data/{converter}")
    layout = check_skeleton_pkl.identify_layout(
        [dict(frame_dir='clip_a', label=0, total_frames=8, keypoint=kp)])
    assert layout.kind == 'unknown' and 'frame_dir names of no known converter' in \
        layout.producer
    assert check_skeleton_pkl.identify_layout(dict(split={})).kind == 'unknown'


def test_skeleton_pose_dataset_casts_to_float32(mmaction2_pkl):
    init_default_scope('mmaction')
    dataset = DATASETS.build(dict(type='SkeletonPoseDataset', ann_file=str(mmaction2_pkl),
                                  pipeline=[], split='xview_train'))
    stored = {a['frame_dir']: a['keypoint'] for a in load(mmaction2_pkl)['annotations']}
    assert len(dataset) == 2
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        assert info['keypoint'].dtype == np.float32
        # float16 -> float32 is exact
        assert np.array_equal(info['keypoint'], stored[info['frame_dir']].astype(np.float32))


@pytest.mark.parametrize('config', ['configs/gfp/finetune_ntu60_xsub.py',
                                    'configs/swap/stgcn_to_gfp_ntu60_xsub_gfp_preprocessing.py'])
def test_per_sample_configs_read_it(mmaction2_pkl, config):
    """A downstream config's test pipeline turns each stored float16 clip into a float32
    input centred on joint 1 of its first frame (the 95 % centre crop of 25 frames starts
    at frame 0, and resizing keeps the first frame: exactly the origin)."""
    init_default_scope('mmaction')
    spec = Config.fromfile(str(REPO / config)).val_dataloader.dataset
    spec.update(ann_file=str(mmaction2_pkl), split='xview_val')
    dataset = DATASETS.build(spec)
    names = [dataset.get_data_info(i)['frame_dir'] for i in range(len(dataset))]
    assert sorted(names) == ['S001C001P001R001A004', 'S001C001P003R001A002']
    inputs = dataset[names.index('S001C001P001R001A004')]['inputs']
    assert inputs.dtype == torch.float32 and inputs.shape == (1, 2, 120, 25, 3)
    assert torch.isfinite(inputs).all()
    assert float(inputs[0, 0, 0, 1].abs().max()) == 0.0
    assert float(inputs[0, 0, 0, 0].abs().max()) > 0.1  # other joints are not
    assert not inputs[0, 1].any()  # one actor: the second person is zero padding


def test_pretraining_config_reads_it(mmaction2_pkl):
    """The batched pre-training path: SkeletonClipDataset + SkeletonPretrainPreprocessor."""
    init_default_scope('mmaction')
    cfg = Config.fromfile(str(REPO / 'configs/gfp/gfp_ntu60_xsub.py'))
    spec = cfg.train_dataloader.dataset
    spec.update(ann_file=str(mmaction2_pkl), split='xsub_train')
    dataset = DATASETS.build(spec)
    batch = dataset.__getitems__(list(range(len(dataset))))
    assert batch['keypoint'].dtype == torch.float32
    preprocessor = MODELS.build(cfg.data_preprocessor)
    out = preprocessor(dict(inputs=batch, data_samples=None), training=True)
    clips = out['inputs']
    assert clips.dtype == torch.float32 and clips.shape[-4:] == (2, 120, 25, 3)
    assert torch.isfinite(clips).all()
