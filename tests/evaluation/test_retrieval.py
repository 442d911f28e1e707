"""Retrieval: nearest-neighbour accuracy by hand, the metric and the tagged dataset, and
tools/extract_features.py agreeing with the retrieval config run through tools/test.py."""
import pickle

import numpy as np
import pytest
import torch
from mmaction.structures import ActionDataSample

from gfp_mmaction.datasets import AnnotationError, RetrievalPoseDataset
from gfp_mmaction.evaluation import NNRetrievalMetric, nearest_neighbour_accuracy

from protocol_helpers import load_tool, logged_metrics, make_gfp_checkpoint, tiny_options


def test_nearest_neighbour_is_cosine_not_euclidean():
    gallery = np.array([[10.0, 1.0],   # label 0: same direction as the query, far away
                        [0.5, 0.4],    # label 1: near the query, another direction
                        [-1.0, 0.0]])  # label 2
    labels = np.array([0, 1, 2])
    query = np.array([[1.0, 0.0], [-3.0, 0.1], [0.45, 0.4]])
    # cosine: query 0 -> gallery 0 (label 0), query 1 -> 2, query 2 -> 1
    accuracy = nearest_neighbour_accuracy(query, np.array([0, 2, 1]), gallery, labels, (1, 2))
    assert accuracy == {'top1': 1.0, 'top2': 1.0}
    accuracy = nearest_neighbour_accuracy(query, np.array([1, 2, 0]), gallery, labels, (1, 2))
    # query 0: nearest 0 (miss), 2nd 1 (hit); query 1: hit; query 2: nearest 1 (miss),
    # 2nd 0 (hit)
    assert accuracy['top1'] == pytest.approx(1 / 3) and accuracy['top2'] == 1.0


def test_ties_go_to_the_lower_gallery_index_and_zero_vectors_do_not_break():
    gallery = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 0.0]])
    assert nearest_neighbour_accuracy(np.array([[3.0, 0.0]]), np.array([7]), gallery,
                                      np.array([7, 8, 9]))['top1'] == 1.0
    assert nearest_neighbour_accuracy(np.array([[0.0, 0.0]]), np.array([7]), gallery,
                                      np.array([7, 8, 9]))['top1'] == 1.0
    with pytest.raises(ValueError, match='0 queries'):
        nearest_neighbour_accuracy(np.zeros((0, 2)), np.zeros(0), gallery, np.zeros(3))


def sample(feature, label, role, name):
    data = ActionDataSample().set_gt_label(label)
    data.set_metainfo(dict(frame_dir=name, retrieval_role=role))
    data.set_field(torch.tensor(feature, dtype=torch.float32), 'feature')
    return data.to_dict()


def test_metric_splits_queries_from_gallery():
    metric = NNRetrievalMetric(topk=(1, ))
    metric.process(None, [sample([1, 0], 0, 'gallery', 'g0'), sample([0, 1], 1, 'gallery', 'g1'),
                          sample([0.9, 0.1], 0, 'query', 'q0'),
                          sample([0.8, 0.3], 1, 'query', 'q1')])
    assert metric.evaluate(4) == {'retrieval/top1': 0.5}
    with pytest.raises(KeyError, match="'q2'.*retrieval_role"):
        bad = sample([1, 0], 0, 'query', 'q2')
        bad['retrieval_role'] = None
        metric.process(None, [bad])
    with pytest.raises(KeyError, match='PooledFeatureHead'):
        bad = sample([1, 0], 0, 'query', 'q3')
        del bad['feature']
        metric.process(None, [bad])


def test_dataset_tags_both_splits(synthetic_ann_file):
    dataset = RetrievalPoseDataset(gallery_split='xsub_train', query_split='xsub_val',
                                   ann_file=str(synthetic_ann_file), pipeline=[],
                                   test_mode=True)
    with open(synthetic_ann_file, 'rb') as f:
        data = pickle.load(f)
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    gallery = [i['frame_dir'] for i in infos if i['retrieval_role'] == 'gallery']
    query = [i['frame_dir'] for i in infos if i['retrieval_role'] == 'query']
    assert sorted(gallery) == sorted(data['split']['xsub_train'])
    assert sorted(query) == sorted(data['split']['xsub_val'])
    assert [i['retrieval_role'] for i in infos] == ['gallery'] * 20 + ['query'] * 20
    with pytest.raises(AnnotationError, match=r"split 'xset_val' is not in the file; its "
                                              r"splits are: .* \(the query split\)"):
        RetrievalPoseDataset(gallery_split='xsub_train', query_split='xset_val',
                             ann_file=str(synthetic_ann_file), pipeline=[])


def test_exported_features_reproduce_the_retrieval_run(synthetic_ann_file, tmp_path):
    """tools/extract_features.py on both splits, nearest neighbour computed from the
    files, equals the retrieval config's top-1 through tools/test.py."""
    checkpoint = make_gfp_checkpoint(tmp_path / 'gfp_tiny.pth')
    config = 'configs/gfp/retrieval_ntu60_xsub.py'
    options = tiny_options(config, synthetic_ann_file)
    load_tool('test').main([config, str(checkpoint), '--work-dir', str(tmp_path / 'test'),
                            '--cfg-options', *options])
    scores = [r['retrieval/top1'] for r in logged_metrics(tmp_path / 'test')
              if 'retrieval/top1' in r]

    extract = load_tool('extract_features')
    exported = {}
    for split in ('xsub_train', 'xsub_val'):
        out = tmp_path / f'{split}.npz'
        extract.main([config, str(checkpoint), '--split', split, '--out', str(out),
                      '--batch-size', '8', '--num-workers', '0', '--cfg-options', *options])
        exported[split] = np.load(out)
    with open(synthetic_ann_file, 'rb') as f:
        data = pickle.load(f)
    labels = {a['frame_dir']: a['label'] for a in data['annotations']}
    for split, arrays in exported.items():
        assert arrays['features'].shape == (20, 32) and arrays['features'].dtype == np.float32
        assert sorted(arrays['frame_dirs']) == sorted(data['split'][split])
        assert [labels[n] for n in arrays['frame_dirs']] == arrays['labels'].tolist()
        assert str(arrays['split']) == split
    expected = nearest_neighbour_accuracy(
        exported['xsub_val']['features'], exported['xsub_val']['labels'],
        exported['xsub_train']['features'], exported['xsub_train']['labels'])['top1']
    assert scores == [pytest.approx(expected, abs=1e-9)]


def test_extract_features_refuses_a_checkpoint_without_the_encoder(synthetic_ann_file,
                                                                   tmp_path):
    path = tmp_path / 'head_only.pth'
    torch.save({'state_dict': {'cls_head.fc.weight': torch.zeros(2, 2)}, 'meta': {}}, path)
    config = 'configs/gfp/linear_ntu60_xsub.py'
    with pytest.raises(SystemExit, match=r"head_only.pth \(prefix 'backbone.'\) holds no"):
        load_tool('extract_features').main(
            [config, str(path), '--split', 'xsub_val', '--out', str(tmp_path / 'f.npz'),
             '--cfg-options', *tiny_options(config, synthetic_ann_file)])
    assert not (tmp_path / 'f.npz').exists()


def test_test_tool_refuses_a_checkpoint_without_the_encoder(repo_root, synthetic_ann_file,
                                                            tmp_path):
    # MMEngine loads test checkpoints non-strictly: without this check a checkpoint with no
    # encoder weights would be scored with random features.
    import subprocess
    import sys

    import torch
    checkpoint = tmp_path / 'head_only.pth'
    torch.save({'state_dict': {'cls_head.fc.weight': torch.zeros(10, 64)}, 'meta': {}},
               checkpoint)
    out = subprocess.run(
        [sys.executable, 'tools/test.py', 'configs/gfp/retrieval_synthetic_xsub.py',
         str(checkpoint), '--work-dir', str(tmp_path / 'work'), '--cfg-options',
         f'test_dataloader.dataset.ann_file={synthetic_ann_file}'],
        cwd=repo_root, capture_output=True, text=True, timeout=300)
    assert out.returncode == 1
    assert 'Traceback' not in out.stderr
    assert str(checkpoint) in out.stderr and 'backbone.' in out.stderr
