"""The semi-supervised subset: stratified by hand, and a function of the seed and the data
only (the same in two processes with different global random states and hash seeds,
whatever the file order; another seed, another subset)."""
import json
import os
import pickle
import random
import subprocess
import sys

import numpy as np
import pytest

from gfp_mmaction.datasets.semi_supervised import (
    SemiSupervisedPoseDataset,
    read_subset,
    stratified_subset,
)

from protocol_helpers import REPO

PIPELINE = []  # the data infos are what is compared


def test_stratified_counts_by_hand():
    # 10 % of 20 + 10 + 3 + 1 = 34 samples -> round(3.4) = 3 in total is below one per
    # class: every class keeps 1 (floor 2 / 1 / 0 / 0, at least 1 each: 2 + 1 + 1 + 1 = 5).
    labels = [0] * 20 + [1] * 10 + [2] * 3 + [3]
    names = [f'clip{i:02d}' for i in range(len(labels))]
    chosen = stratified_subset(names, labels, 0.1, seed=0)
    per_class = np.bincount([labels[names.index(n)] for n in chosen], minlength=4)
    assert per_class.tolist() == [2, 1, 1, 1]
    # 25 % of 12 + 8 = 20 -> 5: floors 3 / 2 = 5, nothing left over.
    labels = [0] * 12 + [1] * 8
    names = [f'c{i}' for i in range(20)]
    per_class = np.bincount([labels[names.index(n)] for n in
                             stratified_subset(names, labels, 0.25, seed=3)])
    assert per_class.tolist() == [3, 2]
    # 30 % of 5 + 5 = 10 -> 3: floors 1 / 1, the one left goes to the larger remainder,
    # here equal (0.5 / 0.5) -> the lower class id.
    labels = [0] * 5 + [1] * 5
    names = [f'c{i}' for i in range(10)]
    per_class = np.bincount([labels[names.index(n)] for n in
                             stratified_subset(names, labels, 0.3, seed=1)])
    assert per_class.tolist() == [2, 1]
    # The whole split at fraction 1; sorted output.
    assert stratified_subset(names, labels, 1.0, seed=5) == sorted(names)


def test_subset_depends_on_seed_and_data_not_order():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 6, size=300).tolist()
    names = [f'S{i:03d}' for i in range(300)]
    chosen = stratified_subset(names, labels, 0.1, seed=7)
    order = rng.permutation(300)
    assert stratified_subset([names[i] for i in order], [labels[i] for i in order],
                             0.1, seed=7) == chosen
    assert stratified_subset(names, labels, 0.1, seed=8) != chosen
    assert len(chosen) == 30 and set(chosen) <= set(names)


@pytest.mark.parametrize('fraction, seed, error', [
    (0.0, 0, 'labelled_fraction'), (1.5, 0, 'labelled_fraction'), (0.1, -1, 'subset_seed')])
def test_bad_arguments(fraction, seed, error):
    with pytest.raises(ValueError, match=error):
        stratified_subset(['a', 'b'], [0, 1], fraction, seed)
    with pytest.raises(ValueError, match='not unique'):
        stratified_subset(['a', 'a'], [0, 1], 0.5, 0)
    with pytest.raises(ValueError, match="sample 'b'"):
        stratified_subset(['a', 'b'], [0, -1], 0.5, 0)


def test_dataset_keeps_the_subset_and_writes_it(synthetic_ann_file, tmp_path):
    dataset = SemiSupervisedPoseDataset(labelled_fraction=0.1, subset_seed=0,
                                        ann_file=str(synthetic_ann_file), split='xsub_train',
                                        pipeline=PIPELINE)
    with open(synthetic_ann_file, 'rb') as f:
        data = pickle.load(f)
    train = set(data['split']['xsub_train'])
    annos = [a for a in data['annotations'] if a['frame_dir'] in train]
    assert dataset.split_size == len(annos) == 20
    names = [dataset.get_data_info(i)['frame_dir'] for i in range(len(dataset))]
    assert sorted(names) == dataset.labelled_frame_dirs
    labels = {dataset.get_data_info(i)['label'] for i in range(len(dataset))}
    assert labels == set(range(10))  # 2 clips per class, at least one kept each
    assert len(names) == 10 and set(names) <= train
    dataset.write_subset(str(tmp_path / 'sub' / 'subset.txt'))
    assert read_subset(tmp_path / 'sub' / 'subset.txt') == dataset.labelled_frame_dirs


DRAW = """
import json, random, sys
import numpy as np, torch
sys.path.insert(0, {repo!r})
import gfp_mmaction
from gfp_mmaction.datasets.semi_supervised import SemiSupervisedPoseDataset
noise = int(sys.argv[1])  # a different global random state in every process
random.seed(noise); np.random.seed(noise); torch.manual_seed(noise)
result = {{}}
for seed in (0, 1):
    dataset = SemiSupervisedPoseDataset(labelled_fraction=0.3, subset_seed=seed,
                                        ann_file={ann_file!r}, split='xsub_train',
                                        pipeline=[])
    result[seed] = dataset.labelled_frame_dirs
print('SUBSETS' + json.dumps(result))
"""


def test_same_subset_in_two_processes_and_two_runs(synthetic_ann_file, tmp_path):
    """Two concurrent processes (standing for two ranks, or two runs) with different
    global random states and hash seeds, one of them reading the annotations in reverse
    order, draw the same subset for a seed, and another subset for another seed."""
    with open(synthetic_ann_file, 'rb') as f:
        data = pickle.load(f)
    data['annotations'] = data['annotations'][::-1]
    reversed_file = tmp_path / 'reversed.pkl'
    with open(reversed_file, 'wb') as f:
        pickle.dump(data, f)
    processes = []
    for noise, ann_file in ((1, synthetic_ann_file), (2, reversed_file)):
        script = tmp_path / f'draw{noise}.py'
        script.write_text(DRAW.format(repo=str(REPO), ann_file=str(ann_file)))
        env = dict(os.environ, PYTHONHASHSEED=str(noise), OMP_NUM_THREADS='1')
        processes.append(subprocess.Popen([sys.executable, str(script), str(noise)],
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                          text=True, env=env, cwd=tmp_path))
    results = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err[-2000:]
        line = next(row for row in out.splitlines() if row.startswith('SUBSETS'))
        results.append(json.loads(line[len('SUBSETS'):]))
    first, second = results
    assert first['0'] == second['0'] and first['1'] == second['1']
    assert first['0'] != first['1']
    assert len(first['0']) == 10  # round(0.3 * 20) = 6 < one per class for 10 classes
    # And the same as in this process, whose global random state is yet another.
    random.seed(99)
    np.random.seed(99)
    here = SemiSupervisedPoseDataset(labelled_fraction=0.3, subset_seed=0,
                                     ann_file=str(synthetic_ann_file), split='xsub_train',
                                     pipeline=PIPELINE)
    assert here.labelled_frame_dirs == first['0']
