"""The skeleton pickle checker: gfp_mmaction.datasets.validation and
tools/data/check_skeleton_pkl.py (exit codes 0 valid, 1 errors, 2 unreadable)."""
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gfp_mmaction.datasets.validation import summarize_annotations, validate_annotations

TOOL = Path(__file__).resolve().parents[2] / 'tools' / 'data' / 'check_skeleton_pkl.py'
sys.path.insert(0, str(TOOL.parent))
import check_skeleton_pkl  # noqa: E402


def clip(M, T, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (M, T, 25, 3)).astype(np.float32)


def valid_data():
    annos = [dict(frame_dir=f's{i}', label=i % 3, total_frames=T, keypoint=clip(M, T, i))
             for i, (M, T) in enumerate([(1, 20), (2, 40), (1, 100), (2, 300)])]
    return dict(split=dict(xsub_train=['s0', 's1', 's2'], xsub_val=['s3']), annotations=annos)


def test_valid_data_and_summary():
    data = valid_data()
    assert validate_annotations(data, 'a.pkl', num_classes=3) == []
    assert validate_annotations(data['annotations'], 'a.pkl') == []  # a bare list
    summary = summarize_annotations(data)
    assert 'clips: 4' in summary
    assert 'splits: xsub_train 3, xsub_val 1' in summary
    assert 'classes: 3 (labels 0..2; clips per class 1..2)' in summary
    assert ('frames: min 20, mean 115.0, max 300; histogram 1-32: 1, 33-64: 1, 65-128: 1, '
            '129-256: 0, 257-512: 1, >512: 0') in summary
    assert 'persons per clip: 1: 2, 2: 2' in summary
    assert 'keypoint dtype: float32 (4)' in summary


def _break(data, case):
    a = data['annotations']
    if case == 'missing_field':
        del a[1]['total_frames']
    elif case == 'shape':
        a[1]['keypoint'] = a[1]['keypoint'][..., :2]
    elif case == 'dtype':
        a[1]['keypoint'] = a[1]['keypoint'].astype(np.int32)
    elif case == 'nonfinite':
        a[1]['keypoint'][1, 7, 3, 0] = np.inf
    elif case == 'label_range':
        a[1]['label'] = 3
    elif case == 'label_type':
        a[1]['label'] = 1.0
    elif case == 'total_frames':
        a[1]['total_frames'] = 41
    elif case == 'empty_clip':
        a[1]['keypoint'] = np.zeros((2, 0, 25, 3), np.float32)
        a[1]['total_frames'] = 1
    elif case == 'persons':
        a[1]['keypoint'] = clip(3, 40)
    elif case == 'zero_person':
        a[1]['keypoint'][1] = 0
    elif case == 'duplicate':
        a[2]['frame_dir'] = 's1'
    elif case == 'split_unknown':
        data['split']['xsub_val'].append('nope')
    elif case == 'split_overlap':
        data['split']['xsub_val'].append('s0')
    elif case == 'split_repeat':
        data['split']['xsub_train'].append('s0')
    elif case == 'score':
        a[1]['keypoint_score'] = np.ones((2, 39, 25), np.float32)
    return data


CASES = {
    'missing_field': "sample 's1' (annotations[1]): missing field \"total_frames\"",
    'shape': "sample 's1' (annotations[1]): field \"keypoint\": expected shape (M, T, 25, 3), "
             'got (2, 40, 25, 2)',
    'dtype': "sample 's1' (annotations[1]): field \"keypoint\": expected a float dtype "
             '(float32), got int32',
    'nonfinite': "sample 's1' (annotations[1]): field \"keypoint\": non-finite value (person 1, "
                 'frame 7)',
    'label_range': "sample 's1' (annotations[1]): field \"label\": expected 0..2, got 3",
    'label_type': "sample 's1' (annotations[1]): field \"label\": expected an int, got float 1.0",
    'total_frames': "sample 's1' (annotations[1]): field \"total_frames\": expected 40 (frames "
                    'in "keypoint"), got 41',
    'empty_clip': "sample 's1' (annotations[1]): field \"keypoint\": empty clip, shape "
                  '(2, 0, 25, 3)',
    'persons': "sample 's1' (annotations[1]): field \"keypoint\": expected at most 2 persons, "
               'got 3',
    'zero_person': "sample 's1' (annotations[1]): field \"keypoint\": person(s) [1] all zeros",
    'duplicate': "sample 's1' (annotations[2]): field \"frame_dir\": duplicate of "
                 'annotations[1]',
    'split_unknown': "split 'xsub_val': 1 samples not in \"annotations\": 'nope'",
    'split_overlap': "splits 'xsub_train' and 'xsub_val' share 1 samples: 's0'",
    'split_repeat': "split 'xsub_train': 1 samples listed twice: 's0'",
    'score': "sample 's1' (annotations[1]): field \"keypoint_score\": expected shape "
             '(2, 40, 25), got (2, 39, 25)',
}


# Cases that also break a second check: the empty clip's total_frames (1 != 0 frames);
# the renamed sample 's2' is still listed in xsub_train.
SECOND_ERROR = dict(empty_clip='field "total_frames": expected 0',
                    duplicate="split 'xsub_train': 1 samples not in \"annotations\": 's2'")


@pytest.mark.parametrize('case', sorted(CASES))
def test_each_error_names_file_sample_and_field(case):
    errors = validate_annotations(_break(valid_data(), case), 'b.pkl', num_classes=3)
    assert errors[0].startswith(f'b.pkl: {CASES[case]}'), errors
    assert len(errors) == 1 + (case in SECOND_ERROR), errors
    if case in SECOND_ERROR:
        assert SECOND_ERROR[case] in errors[1]


def test_structure_errors():
    assert validate_annotations(5, 'c.pkl') == [
        'c.pkl: expected a dict with "split" and "annotations" or a list of annotations, got int']
    assert validate_annotations(dict(split={}), 'c.pkl') == [
        'c.pkl: missing key "annotations" (found [\'split\'])']
    assert validate_annotations(dict(annotations=[3]), 'c.pkl') == [
        'c.pkl: annotations[0]: expected a dict, got int']
    errors = validate_annotations(dict(annotations=[], split=['x']), 'c.pkl')
    assert errors == ['c.pkl: "split": expected a dict of lists, got list']


def test_cli_exit_codes(tmp_path, capsys):
    good = tmp_path / 'good.pkl'
    good.write_bytes(pickle.dumps(valid_data()))
    assert check_skeleton_pkl.main([str(good), '--num-classes', '3']) == 0
    assert 'OK: no errors' in capsys.readouterr().out

    junk = tmp_path / 'junk.pkl'
    junk.write_bytes(b'not a pickle at all')
    assert check_skeleton_pkl.main([str(junk)]) == 2
    assert f'cannot read {junk}' in capsys.readouterr().err
    assert check_skeleton_pkl.main([str(tmp_path / 'absent.pkl')]) == 2

    bad = tmp_path / 'bad.pkl'
    data = _break(_break(valid_data(), 'nonfinite'), 'label_range')
    bad.write_bytes(pickle.dumps(data))
    res = subprocess.run([sys.executable, str(TOOL), str(bad), '--num-classes', '3'],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 1
    assert f"error: {bad}: {CASES['nonfinite']}" in res.stdout
    assert f"error: {bad}: {CASES['label_range']}" in res.stdout
    assert 'splits: xsub_train 3, xsub_val 1' in res.stdout and 'FAILED: 2 errors' in res.stdout
