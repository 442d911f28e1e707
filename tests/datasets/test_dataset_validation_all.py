"""Every dataset class validates its samples at load, through the one path of
SkeletonPoseDataset: the semi-supervised and retrieval datasets fail on a broken sample
with the same error, naming the file, the sample and the field, as SkeletonPoseDataset."""
import copy
import pickle

import numpy as np
import pytest
from mmaction.registry import DATASETS
from mmengine.registry import init_default_scope

from gfp_mmaction.datasets import AnnotationError
from gfp_mmaction.testing.synthetic import generate_synthetic_ntu

# 40 clips of 10 classes; xsub_train and xsub_val hold 20 each, 2 per class.
KINDS = {
    'skeleton': dict(type='SkeletonPoseDataset', split='xsub_train'),
    'semi': dict(type='SemiSupervisedPoseDataset', split='xsub_train', labelled_fraction=0.1,
                 subset_seed=0),
    'retrieval': dict(type='RetrievalPoseDataset', gallery_split='xsub_train',
                      query_split='xsub_val', test_mode=True),
}


@pytest.fixture(scope='module', autouse=True)
def mmaction_scope():
    init_default_scope('mmaction')


@pytest.fixture(scope='module')
def clean_data():
    return generate_synthetic_ntu(subjects=2, views=2, reps=1, seed=0)


def build(kind, ann_file, **kwargs):
    """Through the registry, as a config builds it."""
    return DATASETS.build(dict(KINDS[kind], ann_file=str(ann_file), pipeline=[],
                               num_classes=10, **kwargs))


def write(tmp_path, data, name='ann.pkl'):
    path = tmp_path / name
    with open(path, 'wb') as f:
        pickle.dump(data, f)
    return path


def sample_of(data, split, k=0):
    """The ``k``-th annotation of ``split`` in file order, and its index in the file."""
    names = set(data['split'][split])
    return [(i, a) for i, a in enumerate(data['annotations']) if a['frame_dir'] in names][k]


def break_nan(anno):
    anno['keypoint'][0, 5, 3, 1] = np.nan


def break_label(anno):
    anno['label'] = 10  # 10 classes: 0..9


DEFECTS = {
    'nan': (break_nan, 'field "keypoint": non-finite value (person 0, frame 5)'),
    'label': (break_label, 'field "label": expected 0..9, got 10'),
}


def first_line(error) -> str:
    return str(error.value).splitlines()[0]


def test_clean_file_loads_in_every_kind(tmp_path, clean_data):
    ann_file = write(tmp_path, clean_data)
    assert len(build('skeleton', ann_file)) == 20
    semi = build('semi', ann_file)
    assert len(semi) == 10 and semi.split_size == 20  # 10 % of 20, at least 1 per class
    retrieval = build('retrieval', ann_file)
    roles = [retrieval.get_data_info(i)['retrieval_role'] for i in range(len(retrieval))]
    assert roles == ['gallery'] * 20 + ['query'] * 20


@pytest.mark.parametrize('defect', list(DEFECTS))
@pytest.mark.parametrize('kind', list(KINDS))
def test_a_broken_training_sample_fails_every_kind_with_the_same_error(tmp_path, clean_data,
                                                                      kind, defect):
    data = copy.deepcopy(clean_data)
    index, anno = sample_of(data, 'xsub_train')
    breaker, expected = DEFECTS[defect]
    breaker(anno)
    ann_file = write(tmp_path, data)
    with pytest.raises(AnnotationError) as error:
        build(kind, ann_file)
    assert first_line(error) == \
        f'{ann_file}: sample {anno["frame_dir"]!r} (annotations[{index}]): {expected}'
    assert f'python tools/data/check_skeleton_pkl.py {ann_file}' in str(error.value)


def test_semi_supervised_validates_the_samples_the_draw_leaves_out(tmp_path, clean_data):
    """The whole split is checked, not only the labelled subset: a broken sample must
    not pass because another seed happened to leave it out."""
    labelled = set(build('semi', write(tmp_path, clean_data, 'clean.pkl')).labelled_frame_dirs)
    data = copy.deepcopy(clean_data)
    index, anno = next((i, a) for i, a in enumerate(data['annotations'])
                       if a['frame_dir'] in set(data['split']['xsub_train']) - labelled)
    break_nan(anno)
    ann_file = write(tmp_path, data)
    with pytest.raises(AnnotationError) as error:
        build('semi', ann_file)
    assert first_line(error) == (f'{ann_file}: sample {anno["frame_dir"]!r} '
                                 f'(annotations[{index}]): {DEFECTS["nan"][1]}')


def test_retrieval_validates_the_query_split_too(tmp_path, clean_data):
    data = copy.deepcopy(clean_data)
    index, anno = sample_of(data, 'xsub_val', k=3)
    break_label(anno)
    ann_file = write(tmp_path, data)
    with pytest.raises(AnnotationError) as error:
        build('retrieval', ann_file)
    assert first_line(error) == (f'{ann_file}: sample {anno["frame_dir"]!r} '
                                 f'(annotations[{index}]): {DEFECTS["label"][1]}')
    # A query split naming a sample the file does not hold.
    data = copy.deepcopy(clean_data)
    data['split']['xsub_val'].append('S999C001P001R001A001')
    ann_file = write(tmp_path, data, 'unknown.pkl')
    with pytest.raises(AnnotationError, match=r"split 'xsub_val': 1 samples not in "
                                              r"\"annotations\": 'S999C001P001R001A001'"):
        build('retrieval', ann_file)


def test_two_problems_are_listed_with_the_split(tmp_path, clean_data):
    data = copy.deepcopy(clean_data)
    (_, first), (_, second) = sample_of(data, 'xsub_train', 0), sample_of(data, 'xsub_train', 1)
    break_nan(first)
    break_label(second)
    ann_file = write(tmp_path, data)
    for kind in ('semi', 'retrieval'):
        with pytest.raises(AnnotationError) as error:
            build(kind, ann_file)
        lines = str(error.value).splitlines()
        assert first['frame_dir'] in lines[0] and 'non-finite' in lines[0]
        assert lines[1].startswith(f"2 problems in {ann_file} (split 'xsub_train')")
        assert second['frame_dir'] in lines[3] and 'expected 0..9, got 10' in lines[3]
        assert "repair=dict(non_finite='zero')" in str(error.value)


def test_repair_works_for_every_kind_and_counts_a_shared_sample_once(tmp_path, clean_data):
    data = copy.deepcopy(clean_data)
    _, anno = sample_of(data, 'xsub_train')
    break_nan(anno)
    ann_file = write(tmp_path, data)
    repair = dict(non_finite='zero')
    semi = build('semi', ann_file, repair=repair)
    assert semi.repair_counts['non_finite_samples'] == 1
    # Gallery and query the same split: every sample is in both, repaired once.
    retrieval = DATASETS.build(dict(type='RetrievalPoseDataset', ann_file=str(ann_file),
                                    gallery_split='xsub_train', query_split='xsub_train',
                                    pipeline=[], num_classes=10, repair=repair))
    assert len(retrieval) == 40
    assert retrieval.repair_counts == dict(non_finite_samples=1, non_finite_joints=1,
                                           dropped_persons=0, extra_person_samples=0)
    infos = [retrieval.get_data_info(i) for i in range(len(retrieval))]
    repaired = [i['keypoint'] for i in infos if i['frame_dir'] == anno['frame_dir']]
    assert len(repaired) == 2
    for keypoint in repaired:
        assert np.isfinite(keypoint).all() and (keypoint[0, 5, 3] == 0).all()


def test_retrieval_split_errors_name_the_role(tmp_path, clean_data):
    ann_file = write(tmp_path, clean_data)
    with pytest.raises(AnnotationError) as error:
        DATASETS.build(dict(type='RetrievalPoseDataset', ann_file=str(ann_file), pipeline=[],
                            gallery_split='xset_train', query_split='xsub_val'))
    assert str(error.value) == (
        f"{ann_file}: split 'xset_train' is not in the file; its splits are: 'xsub_train', "
        "'xsub_val', 'xview_train', 'xview_val' (the gallery split)")
    with pytest.raises(ValueError, match='query_split must be a split name, got None'):
        DATASETS.build(dict(type='RetrievalPoseDataset', ann_file=str(ann_file), pipeline=[],
                            gallery_split='xsub_train', query_split=None))
