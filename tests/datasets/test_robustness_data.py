"""Bad data is caught when the dataset loads (SkeletonPoseDataset) or in the transforms,
with one error naming the annotation file, the sample and what was expected; the
repairs are off by default, fix what they promise and are counted in the log."""
import copy
import pickle

import numpy as np
import pytest
from mmaction.registry import DATASETS
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope

from gfp_mmaction.datasets import AnnotationError
from gfp_mmaction.datasets.keypoint_arrays import most_moving_persons, person_motion
from gfp_mmaction.datasets.transforms import (
    CentreOnFirstFrame,
    MotionAwareTokenMasking,
    ValidCropResize,
)
from gfp_mmaction.testing.synthetic import generate_synthetic_ntu

PIPELINE = [
    dict(type='CentreOnFirstFrame', joint=1),
    dict(type='ValidCropResize', clip_len=48, p_interval=(0.95, )),
    dict(type='FormatGCNInput', num_person=2, mode='zero'),
    dict(type='MotionAwareTokenMasking', mask_ratio=0.9, tau=0.8, patch_len=4),
    dict(type='PackActionInputs', algorithm_keys=('token_mask', )),
]


@pytest.fixture(scope='module', autouse=True)
def mmaction_scope():
    init_default_scope('mmaction')  # the pipeline names MMAction2's transforms


@pytest.fixture(scope='module')
def clean_data():
    """40 clips of 10 classes; xsub_train holds 20 of them."""
    return generate_synthetic_ntu(subjects=2, views=2, reps=1, seed=0)


def build(ann_file, split='xsub_train', **kwargs):
    return DATASETS.build(dict(type='SkeletonPoseDataset', ann_file=str(ann_file),
                               split=split, pipeline=PIPELINE, **kwargs))


def write(tmp_path, data, name='ann.pkl'):
    path = tmp_path / name
    with open(path, 'wb') as f:
        pickle.dump(data, f)
    return path


def first_train_sample(data):
    """The first annotation of xsub_train and its index in the file."""
    names = set(data['split']['xsub_train'])
    return next((i, a) for i, a in enumerate(data['annotations']) if a['frame_dir'] in names)


def _set_keypoint(anno, keypoint):
    anno['keypoint'] = keypoint
    anno['total_frames'] = keypoint.shape[1] if keypoint.ndim >= 2 else 0


def break_missing_key(anno):
    del anno['label']


def break_rank(anno):
    _set_keypoint(anno, anno['keypoint'][0])  # (T, V, C)


def break_joint_count(anno):
    _set_keypoint(anno, anno['keypoint'][:, :, :17])


def break_dtype(anno):
    anno['keypoint'] = (anno['keypoint'] * 1000).astype(np.int32)


def break_nan(anno):
    anno['keypoint'][0, 5, 3, 1] = np.nan


def break_inf(anno):
    anno['keypoint'][0, 7, 0, 0] = np.inf


def break_zero_frames(anno):
    _set_keypoint(anno, anno['keypoint'][:, :0])


def break_short(anno):
    _set_keypoint(anno, anno['keypoint'][:, :3])  # fewer frames than one 4-frame patch


def break_three_persons(anno):
    kp = anno['keypoint']
    _set_keypoint(anno, np.concatenate([kp[:1], kp[:1] + 1, kp[:1] + 2]))


def break_label(anno):
    anno['label'] = 10  # 10 classes: 0..9


# (how to break the sample, what the first line must say)
CASES = {
    'missing key': (break_missing_key, 'missing field "label"'),
    'keypoint rank': (break_rank, 'expected shape (M, T, 25, 3), got (61, 25, 3)'),
    'joint count': (break_joint_count, 'expected shape (M, T, 25, 3), got (1, 61, 17, 3)'),
    'dtype': (break_dtype, 'expected a float dtype (float32), got int32'),
    'nan': (break_nan, 'non-finite value (person 0, frame 5)'),
    'inf': (break_inf, 'non-finite value (person 0, frame 7)'),
    'zero frames': (break_zero_frames, 'empty clip, shape (1, 0, 25, 3)'),
    'short clip': (break_short, '3 frames, expected at least 4'),
    'three persons': (break_three_persons, 'expected at most 2 persons, got 3'),
    'label range': (break_label, 'field "label": expected 0..9, got 10'),
}


@pytest.mark.parametrize('case', list(CASES))
def test_bad_sample_fails_at_load_naming_file_sample_and_field(tmp_path, clean_data, case):
    data = copy.deepcopy(clean_data)
    index, anno = first_train_sample(data)
    assert anno['keypoint'].shape == (1, 61, 25, 3)  # the shapes quoted in CASES
    breaker, expected = CASES[case]
    breaker(anno)
    ann_file = write(tmp_path, data)
    with pytest.raises(AnnotationError) as info:
        build(ann_file, num_classes=10)
    first_line = str(info.value).splitlines()[0]
    assert first_line.startswith(f'{ann_file}: sample {anno["frame_dir"]!r} '
                                 f'(annotations[{index}]): ')
    assert expected in first_line, first_line


def test_clean_split_loads_and_every_problem_is_listed(tmp_path, clean_data):
    ann_file = write(tmp_path, clean_data)
    dataset = build(ann_file, num_classes=10)
    assert len(dataset) == 20
    assert dataset[0]['inputs'].shape == (1, 2, 48, 25, 3)
    # Two broken samples: the first is the first line, both are listed, and the repair
    # that would fix the NaN is named.
    data = copy.deepcopy(clean_data)
    names = data['split']['xsub_train']
    broken = [a for a in data['annotations'] if a['frame_dir'] in names][:2]
    break_nan(broken[0])
    break_label(broken[1])
    with pytest.raises(AnnotationError) as info:
        build(write(tmp_path, data, 'two.pkl'), num_classes=10)
    lines = str(info.value).splitlines()
    assert "non-finite value" in lines[0] and broken[0]['frame_dir'] in lines[0]
    assert "2 problems in" in lines[1] and "(split 'xsub_train')" in lines[1]
    assert broken[1]['frame_dir'] in lines[3] and 'expected 0..9, got 10' in lines[3]
    assert "repair=dict(non_finite='zero')" in str(info.value)
    assert 'tools/data/check_skeleton_pkl.py' in lines[-1]


def test_unknown_split_names_the_available_ones(tmp_path, clean_data):
    ann_file = write(tmp_path, clean_data)
    with pytest.raises(AnnotationError) as info:
        build(ann_file, split='xset_train')
    assert str(info.value) == (f"{ann_file}: split 'xset_train' is not in the file; its "
                               "splits are: 'xsub_train', 'xsub_val', 'xview_train', "
                               "'xview_val'")


def test_empty_split_and_missing_split_dict(tmp_path, clean_data):
    data = copy.deepcopy(clean_data)
    data['split']['xsub_train'] = []
    ann_file = write(tmp_path, data)
    with pytest.raises(AnnotationError) as info:
        build(ann_file)
    message = str(info.value)
    assert message.startswith(f"{ann_file}: split 'xsub_train' is empty")
    assert "'xsub_val' (20)" in message
    bare = write(tmp_path, clean_data['annotations'], 'bare.pkl')
    with pytest.raises(AnnotationError, match=r"bare\.pkl: split 'xsub_train' requested, "
                                              r'but the file has no "split" dict'):
        build(bare)
    assert len(build(bare, split=None)) == 40


def test_split_naming_a_sample_that_is_not_there(tmp_path, clean_data):
    data = copy.deepcopy(clean_data)
    data['split']['xsub_train'].append('S999C001P001R001A001')
    ann_file = write(tmp_path, data)
    with pytest.raises(AnnotationError, match=r"split 'xsub_train': 1 samples not in "
                                              r"\"annotations\": 'S999C001P001R001A001'"):
        build(ann_file)


def test_unreadable_file(tmp_path):
    ann_file = tmp_path / 'truncated.pkl'
    ann_file.write_bytes(pickle.dumps(dict(split={}, annotations=[]))[:10])
    with pytest.raises(AnnotationError, match=f'{ann_file}: cannot be read as a pickle'):
        build(ann_file)


# ----------------------------------------------------------------------- repairs
def test_person_motion_by_hand():
    kp = np.zeros((3, 5, 25, 3), np.float32)
    kp[..., 2] = 1.0                                                     # person 0 still: 0
    kp[1, :, :, 0] = np.arange(5, dtype=np.float32)[:, None] * 0.1      # 4 steps x 25 x 0.1
    kp[2, :, :, 1] = np.arange(5, dtype=np.float32)[:, None] * 0.2      # 2 steps x 25 x 0.2:
    kp[2, 3] = 0  # absent in frame 3, so the steps 2->3 and 3->4 are not motion
    np.testing.assert_allclose(person_motion(kp), [0.0, 10.0, 10.0], rtol=1e-6)
    np.testing.assert_array_equal(most_moving_persons(kp), [1, 2])  # tie: lower index
    kp[2, 0, 0, 2] = 5.0  # joint 0 jumps 4 m between frames 0 and 1: person 2 leads
    np.testing.assert_array_equal(most_moving_persons(kp, 1), [2])


def test_repairs_are_off_by_default_then_fix_and_count(tmp_path, clean_data):
    data = copy.deepcopy(clean_data)
    names = data['split']['xsub_train']
    annos = [a for a in data['annotations'] if a['frame_dir'] in names]
    annos[0]['keypoint'][0, 5, 3] = [np.nan, 0.0, np.inf]   # one joint, two bad values
    annos[0]['keypoint'][0, 9, 4, 2] = np.nan                # a second joint
    kp = annos[1]['keypoint']                                 # 3 persons: still, slow, fast
    still, slow, fast = kp[0] * 0 + kp[0, :1], kp[0] + 0.0, kp[0] * 1.5
    annos[1]['keypoint'] = np.stack([fast, still, slow])
    ann_file = write(tmp_path, data)

    with pytest.raises(AnnotationError):
        build(ann_file)  # off by default

    log_file = tmp_path / 'repair.log'
    MMLogger.get_instance('robustness_repair', log_file=str(log_file))
    dataset = build(ann_file, repair=dict(non_finite='zero', max_persons='most_moving'))
    assert dataset.repair_counts == dict(non_finite_samples=1, non_finite_joints=2,
                                         dropped_persons=0, extra_person_samples=1)
    by_name = {dataset.get_data_info(i)['frame_dir']: dataset.get_data_info(i)
               for i in range(len(dataset))}
    fixed = by_name[annos[0]['frame_dir']]['keypoint']
    assert np.isfinite(fixed).all()
    np.testing.assert_array_equal(fixed[0, 5, 3], 0)
    np.testing.assert_array_equal(fixed[0, 9, 4], 0)
    np.testing.assert_array_equal(fixed[0, 5, 2], clean_data['annotations'][
        data['annotations'].index(annos[0])]['keypoint'][0, 5, 2])  # neighbours untouched
    kept = by_name[annos[1]['frame_dir']]['keypoint']
    np.testing.assert_array_equal(kept, np.stack([fast, slow]))  # order kept, still dropped
    text = log_file.read_text()
    assert (f"{ann_file} (split 'xsub_train'): repaired 1 samples with non-finite "
            'coordinates (2 joints set to zero, 0 persons left empty and dropped) and 1 '
            'samples with more than 2 persons (kept the 2 most moving)') in text


def test_a_person_that_is_all_nan_is_dropped(tmp_path, clean_data):
    data = copy.deepcopy(clean_data)
    _, anno = first_train_sample(data)
    anno['keypoint'] = np.concatenate([anno['keypoint'], np.full_like(anno['keypoint'],
                                                                      np.nan)])
    dataset = build(write(tmp_path, data), repair=dict(non_finite='zero'))
    assert dataset.repair_counts['dropped_persons'] == 1
    info = next(dataset.get_data_info(i) for i in range(len(dataset))
                if dataset.get_data_info(i)['frame_dir'] == anno['frame_dir'])
    assert info['keypoint'].shape == (1, 61, 25, 3)


def test_unknown_repair_option():
    with pytest.raises(ValueError, match=r"repair=\{'non_finite': 'drop'\}; expected keys "
                                         r"non_finite \(one of \(None, 'zero'\)\)"):
        build('any.pkl', repair=dict(non_finite='drop'))


# --------------------------------------------------------------------- transforms
def test_transforms_reject_non_finite_and_integer_keypoints():
    kp = np.ones((1, 8, 25, 3), np.float32)
    kp[0, 2, 3, 0] = np.nan
    for transform in (CentreOnFirstFrame(), ValidCropResize(clip_len=8)):
        with pytest.raises(ValueError, match=r"sample 'S7': field \"keypoint\" has 1 "
                                             r'non-finite values \(first: person 0, frame 2\)'):
            transform(dict(keypoint=kp.copy(), frame_dir='S7'))
    with pytest.raises(TypeError, match=r"sample 'S8': field \"keypoint\" must be float "
                                        r'\(metric coordinates\), got dtype int64'):
        CentreOnFirstFrame()(dict(keypoint=np.ones((1, 8, 25, 3), np.int64), frame_dir='S8'))


def test_masking_rejects_clips_shorter_than_its_patches():
    short = dict(keypoint=np.ones((1, 2, 2, 25, 3), np.float32), frame_dir='S9')
    with pytest.raises(ValueError, match=r"sample 'S9': field \"keypoint\" has 2 frames, "
                                         'fewer than 2 patches of 4 frames'):
        MotionAwareTokenMasking(patch_len=4)(short)


def test_pipeline_errors_name_the_file_and_split(tmp_path, clean_data):
    ann_file = write(tmp_path, clean_data)
    pipeline = [dict(type='CentreOnFirstFrame', joint=30)] + PIPELINE[1:]
    dataset = DATASETS.build(dict(type='SkeletonPoseDataset', ann_file=str(ann_file),
                                  split='xsub_train', pipeline=pipeline))
    name = dataset.get_data_info(0)['frame_dir']
    with pytest.raises(ValueError) as info:
        dataset[0]
    assert str(info.value) == (
        f"{ann_file} (split 'xsub_train'): CentreOnFirstFrame: sample {name!r}: origin joint "
        '30 is out of range for field "keypoint" with 25 joints')
