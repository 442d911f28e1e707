"""Data converters (tools/data): small raw files in the real formats, converted and checked
value by value and split by split, loaded through MMAction2's PoseDataset with the stock
and the GFP pipelines, plus every malformed-input case."""
import io
import os
import pickle
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from gfp_mmaction.datasets.raw_skeletons import (
    SkeletonFormatError,
    motion_energy,
    read_pku_split,
    spread_noisy,
)
from gfp_mmaction.datasets.skeleton_io import atomic_pickle_dump
from gfp_mmaction.datasets.validation import validate_annotations

TOOLS = Path(__file__).resolve().parents[2] / 'tools' / 'data'
sys.path.insert(0, str(TOOLS))

import npz_to_pkl  # noqa: E402
import ntu_raw_to_pkl as ntu  # noqa: E402
import pku_mmd_to_pkl as pku  # noqa: E402

PYTHON = sys.executable


def run_tool_cli(script, *args):
    """The converter as a user runs it: its own process."""
    return subprocess.run([PYTHON, str(TOOLS / script), *map(str, args)], capture_output=True,
                          text=True, timeout=120)


def run_tool(script, *args):
    """The converter's ``main(argv)`` in this process (the import of the package costs
    seconds per process), with its exit status and output as ``run_tool_cli`` gives them."""
    module = {'ntu_raw_to_pkl.py': ntu, 'pku_mmd_to_pkl.py': pku,
              'npz_to_pkl.py': npz_to_pkl}[script]
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = module.main([str(a) for a in args])
        except SystemExit as exit_:
            code = exit_.code
            if isinstance(code, str):  # sys.exit('message'): printed, status 1
                print(code, file=err)
                code = 1
    return SimpleNamespace(returncode=code or 0, stdout=out.getvalue(), stderr=err.getvalue())


def load(path):
    with open(path, 'rb') as f:
        return pickle.load(f)


# ------------------------------------------------------------------ synthetic skeletons
def exact(values):
    """Round to 4 decimals through their text form: what the files hold, exactly."""
    return np.vectorize(lambda v: float(f'{v:.4f}'))(values)


_BASE = np.random.default_rng(0).uniform(-1, 1, (25, 3)) * [0.25, 0.8, 0.1] + [0, 0.8, 3.0]


def standing(T, amp, x0=0.0, phase=0.0):
    """A standing person (x-extent ~0.5 m, y-extent ~1.6 m) swaying with amplitude amp:
    (T, 25, 3)."""
    t = np.arange(T)[:, None, None]
    wave = amp * np.sin(0.3 * t + phase + np.arange(25)[None, :, None])
    return exact(_BASE + [x0, 0, 0] + wave)


def flat(T, amp):
    """Wide and flat (x-extent 1.5 m, y-extent 0.1 m): a spread-noise body, (T, 25, 3)."""
    base = np.stack([np.linspace(-0.75, 0.75, 25), np.linspace(0, 0.1, 25), np.full(25, 2.0)], 1)
    t = np.arange(T)[:, None, None]
    return exact(base + amp * np.sin(0.5 * t + np.arange(25)[None, :, None]) * [1, 0.02, 1])


def write_ntu(path, num_frames, bodies):
    """Write a ``.skeleton`` file. bodies: list of (body_id, frames, joints (n, 25, 3))."""
    lines = [str(num_frames)]
    for t in range(num_frames):
        here = [(bid, joints[list(frames).index(t)]) for bid, frames, joints in bodies
                if t in frames]
        lines.append(str(len(here)))
        for bid, joints in here:
            lines.append(f'{bid} 0 1 2 1 2 0 0.01234 -0.2 2')
            lines.append('25')
            for x, y, z in joints:
                xyz = ' '.join(repr(float(v)) for v in (x, y, z))
                lines.append(f'{xyz} 250.5 200.25 900.1 500.75 0.1 0.2 -0.3 0.9 2')
    Path(path).write_text('\n'.join(lines) + '\n')


@pytest.fixture
def ntu_dir(tmp_path):
    """Raw NTU folder: one body; two bodies plus a spread-noise and a short body; one
    person under two ids with a lost frame; a missing-skeleton sample; NTU-120 files."""
    raw = tmp_path / 'raw'
    raw.mkdir()
    truth = {}
    # 1 body, recorded from frame 2 on (frames 0, 1 have no body).
    a = standing(20, 0.02)
    write_ntu(raw / 'S001C002P001R001A001.skeleton', 22, [('72057594037931101', range(2, 22), a)])
    truth['S001C002P001R001A001'] = a[None]
    # 2 actors + a flat noise body (most motion, all 30 frames) + a 5-frame flicker.
    low, high = standing(30, 0.01, x0=-0.6), standing(30, 0.1, x0=0.6, phase=1.0)
    write_ntu(raw / 'S002C001P003R002A050.skeleton', 30, [
        ('111', range(30), low), ('222', range(30), high), ('333', range(30), flat(30, 0.5)),
        ('444', range(10, 15), standing(5, 0.6))])
    truth['S002C001P003R002A050'] = np.stack([high, low])  # ordered by motion energy
    # One person whose id changes at frame 15; frame 7 lost (most joints zero).
    p = standing(30, 0.05)
    lost = p.copy()
    lost[7, :20] = 0
    write_ntu(raw / 'S001C003P002R001A010.skeleton', 30, [
        ('7', range(15), lost[:15]), ('8', range(15, 30), lost[15:])])
    truth['S001C003P002R001A010'] = np.delete(p, 7, axis=0)[None]
    # Listed as missing: no body at all.
    Path(raw / 'S001C001P001R001A002.skeleton').write_text('3\n0\n0\n0\n')
    # NTU-120 only (setup 18, action 61), and another NTU-120 setup.
    q = standing(15, 0.03)
    write_ntu(raw / 'S018C001P045R001A061.skeleton', 15, [('9', range(15), q)])
    write_ntu(raw / 'S019C002P044R001A120.skeleton', 15, [('9', range(15), q)])
    truth['S018C001P045R001A061'] = truth['S019C002P044R001A120'] = q[None]
    missing = tmp_path / 'missing.txt'
    missing.write_text('# samples with missing skeletons\nS001C001P001R001A002\n')
    return raw, missing, truth


# ------------------------------------------------------------------ NTU
def test_motion_energy_and_denoise_rules_by_hand():
    j = np.zeros((2, 25, 3))
    j[1, 0, 0] = 2.0  # one coordinate moves 0 -> 2: variance 1
    assert motion_energy(j) == 1.0
    assert spread_noisy(flat(3, 0)).all() and not spread_noisy(standing(3, 0)).any()


def test_ntu60_values_and_splits(ntu_dir):
    raw, missing, truth = ntu_dir
    data, stats = ntu.build_ntu_annotations(str(raw), 'ntu60', ntu.read_missing_list(missing))
    names = ['S001C002P001R001A001', 'S001C003P002R001A010', 'S002C001P003R002A050']
    assert [a['frame_dir'] for a in data['annotations']] == names
    for anno in data['annotations']:
        kp = anno['keypoint']
        assert kp.dtype == np.float32 and kp.shape[2:] == (25, 3)
        np.testing.assert_array_equal(kp, truth[anno['frame_dir']].astype(np.float32))
        assert anno['total_frames'] == kp.shape[1]
        assert anno['label'] == int(anno['frame_dir'][-3:]) - 1
    assert [a['keypoint'].shape[:2] for a in data['annotations']] == [(1, 20), (1, 29), (2, 30)]
    # P001, P002 train; P003 is not an x-sub training subject. Cameras 2, 3 train x-view.
    assert data['split'] == dict(
        xsub_train=names[:2], xsub_val=names[2:],
        xview_train=names[:2], xview_val=names[2:])
    assert stats['missing_skipped'] == 1 and stats['outside_dataset'] == 2
    assert stats['dropped_length'] == 1 and stats['dropped_spread'] == 1
    assert stats['merged'] == 1 and stats['dropped_frames'] == 2 + 1
    assert validate_annotations(data, 'ntu60', num_classes=60) == []


def test_ntu120_cli_with_workers(ntu_dir, tmp_path):
    raw, missing, truth = ntu_dir
    out = tmp_path / 'out' / 'ntu120.pkl'
    res = run_tool_cli('ntu_raw_to_pkl.py', '--raw-dir', raw, '--out', out, '--dataset', 'ntu120',
                       '--missing-list', missing, '--workers', '2')
    assert res.returncode == 0, res.stderr
    assert '5 clips from 6 files (1 listed as missing' in res.stdout
    data = load(out)
    names = [a['frame_dir'] for a in data['annotations']]
    assert names == sorted(truth)
    for anno in data['annotations']:
        np.testing.assert_array_equal(anno['keypoint'],
                                      truth[anno['frame_dir']].astype(np.float32))
    # x-sub: P045 trains, P044 does not; x-set: even setups train.
    assert data['split'] == dict(
        xsub_train=['S001C002P001R001A001', 'S001C003P002R001A010', 'S018C001P045R001A061'],
        xsub_val=['S002C001P003R002A050', 'S019C002P044R001A120'],
        xset_train=['S002C001P003R002A050', 'S018C001P045R001A061'],
        xset_val=['S001C002P001R001A001', 'S001C003P002R001A010', 'S019C002P044R001A120'])
    assert [a['label'] for a in data['annotations']][-2:] == [60, 119]
    assert not [p for p in out.parent.iterdir() if p.name != 'ntu120.pkl']  # no temp left


def test_ntu_without_missing_list_fails_naming_the_file(ntu_dir):
    raw, _, _ = ntu_dir
    with pytest.raises(SkeletonFormatError, match=r'S001C001P001R001A002\.skeleton: no body'):
        ntu.build_ntu_annotations(str(raw), 'ntu60')


def _good_ntu(path):
    write_ntu(path, 12, [('1', range(12), standing(12, 0.05))])
    return path.read_text().splitlines()


@pytest.mark.parametrize('case, message', [
    ('truncated', r':(\d+): unexpected end of file, expected 25 joint lines'),
    ('joints', r':4: expected 25 joints in body 1 of frame 1, got 24'),
    ('non_numeric', r':7: field 2 of a joint line of body 1 of frame 1: expected a number, '
                    r"got '0\.1x'"),
    ('fields', r':6: expected 12 fields in a joint line of body 1 of frame 1, got 11'),
    ('frames', r':1: expected an integer frame count, got \'twelve\''),
    ('trailing', r':(\d+): expected end of file after 12 frames'),
])
def test_ntu_malformed_inputs(tmp_path, case, message):
    path = tmp_path / 'S001C001P001R001A001.skeleton'
    lines = _good_ntu(path)
    if case == 'truncated':
        lines = lines[:-10]
    elif case == 'joints':
        lines[3] = '24'
    elif case == 'non_numeric':
        fields = lines[6].split()
        fields[1] = '0.1x'
        lines[6] = ' '.join(fields)
    elif case == 'fields':
        lines[5] = ' '.join(lines[5].split()[:11])
    elif case == 'frames':
        lines[0] = 'twelve'
    else:
        lines.append('1')
    path.write_text('\n'.join(lines) + '\n')
    with pytest.raises(SkeletonFormatError, match=str(path).replace('.', r'\.') + message):
        ntu.convert_file((str(path), 0))


def test_ntu_cli_malformed_fails_atomically_and_skip_bad(ntu_dir, tmp_path):
    raw, missing, truth = ntu_dir
    bad = raw / 'S001C001P005R001A003.skeleton'
    lines = _good_ntu(bad)
    lines[3] = '24'
    bad.write_text('\n'.join(lines) + '\n')
    out = tmp_path / 'ntu60.pkl'
    out.write_bytes(b'previous output')
    args = ['--raw-dir', raw, '--out', out, '--dataset', 'ntu60', '--missing-list', missing]
    res = run_tool('ntu_raw_to_pkl.py', *args)
    assert res.returncode == 1
    assert f'{bad}:4: expected 25 joints in body 1 of frame 1, got 24' in res.stderr
    assert out.read_bytes() == b'previous output'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['missing.txt', 'ntu60.pkl', 'raw']

    res = run_tool('ntu_raw_to_pkl.py', *args, '--skip-bad')
    assert res.returncode == 0, res.stderr
    assert 'warning: skipped' in res.stderr and '1 malformed skipped' in res.stdout
    data = load(out)
    assert len(data['annotations']) == 3
    assert 'S001C001P005R001A003' not in sum(data['split'].values(), [])


# ------------------------------------------------------------------ PKU-MMD
@pytest.fixture
def pku_dir(tmp_path):
    """Two PKU-MMD videos (one actor / two actors), labels and a split file."""
    skel, label = tmp_path / 'skeleton', tmp_path / 'label'
    skel.mkdir()
    label.mkdir()
    one = np.zeros((40, 2, 25, 3))
    one[:, 0] = standing(40, 0.05)
    one[30:, 0] = 0  # the actor leaves at frame 30
    two = np.stack([standing(20, 0.05, x0=-0.5), standing(20, 0.02, x0=0.5)], 1)
    for name, frames in (('0002-L', one), ('0003-M', two)):
        (skel / f'{name}.txt').write_text(
            '\n'.join(' '.join(repr(float(v)) for v in row)
                      for row in frames.reshape(len(frames), -1))
            + '\n')
    (label / '0002-L.txt').write_text('1,0,10,1\n51,10,25,0.5\n\n7,31,38,1\n3,35,50,1\n')
    (label / '0003-M.txt').write_text('12, 2, 18, 1\n')
    split = tmp_path / 'cross-subject.txt'
    split.write_text('Training videos: \n0002-L, 0009-R\nValidataion videos: \n0003-M\n')
    return skel, label, split, dict(one=one, two=two)


def test_pku_values_and_splits(pku_dir):
    skel, label, split, frames = pku_dir
    data, stats = pku.build_pku_annotations(str(skel), str(label), dict(xsub=str(split)))
    got = {a['frame_dir']: a for a in data['annotations']}
    assert list(got) == ['0002-L_0', '0002-L_1', '0003-M_0']
    one, two = frames['one'].astype(np.float32), frames['two'].astype(np.float32)
    expected = {'0002-L_0': (0, one[0:10, :1]), '0002-L_1': (50, one[10:25, :1]),
                '0003-M_0': (11, two[2:18])}
    for name, (lab, clip) in expected.items():
        kp = got[name]['keypoint']
        assert kp.dtype == np.float32 and got[name]['label'] == lab
        np.testing.assert_array_equal(kp, clip.transpose(1, 0, 2, 3))
        assert got[name]['total_frames'] == kp.shape[1]
    assert got['0003-M_0']['keypoint'].shape[0] == 2
    # '7,31,38' lies where the actor has left (all zeros); '3,35,50' is past the end of
    # the 40-frame file: cut to 35..39, also all zeros.
    assert stats['instances'] == 5 and stats['all_zero'] == 2 and stats['truncated'] == 1
    assert data['split'] == dict(xsub_train=['0002-L_0', '0002-L_1'], xsub_val=['0003-M_0'])
    assert stats['xsub_absent_videos'] == 1 and stats['xsub_unlisted_videos'] == 0
    assert validate_annotations(data, 'pku', num_classes=51) == []

    inclusive, _ = pku.build_pku_annotations(str(skel), str(label), dict(xsub=str(split)),
                                            end_inclusive=True)
    assert inclusive['annotations'][0]['total_frames'] == 11


def test_pku_split_file_variants(tmp_path):
    f = tmp_path / 'cross_view_v2.txt'
    f.write_text('Training videos:\nA01N01-M, A01N01-R,\nA02N01-M.txt\n\n'
                 'Validation videos:  \n A01N01-L ,A02N01-L\n')
    assert read_pku_split(str(f)) == (['A01N01-M', 'A01N01-R', 'A02N01-M'],
                                      ['A01N01-L', 'A02N01-L'])
    f.write_text('Training videos: a, b\n')
    with pytest.raises(SkeletonFormatError, match='expected a "Training videos:" section'):
        read_pku_split(str(f))
    f.write_text('Training videos: a, b\nValidataion videos: b\n')
    with pytest.raises(SkeletonFormatError, match=r"both training and validation: \['b'\]"):
        read_pku_split(str(f))


@pytest.mark.parametrize('case, message', [
    ('skeleton_fields', r'0002-L\.txt:4: expected 150 fields in a frame line, got 149'),
    ('skeleton_truncated', r'0002-L\.txt:40: expected 150 fields in a frame line, got 77'),
    ('skeleton_text', r"0002-L\.txt:2: field 5 of a frame line: expected a number, got 'nan\?'"),
    ('label_fields', r'label/0002-L\.txt:2: expected 4 comma-separated fields'),
    ('label_text', r"label/0002-L\.txt:1: field 2 \(start\): expected a number, got 'zero'"),
    ('label_class', r'label/0002-L\.txt:1: field 1 \(action\): expected 1\.\.51, got 52'),
    ('label_order', r'label/0002-L\.txt:1: expected 0 <= start <= end, got start=9, end=3'),
    ('label_missing', r'label/0002-L\.txt: label file missing'),
])
def test_pku_malformed_inputs(pku_dir, case, message):
    skel, label, split, _ = pku_dir
    s, lab = skel / '0002-L.txt', label / '0002-L.txt'
    rows = s.read_text().splitlines()
    if case == 'skeleton_fields':
        rows[3] = ' '.join(rows[3].split()[:-1])
    elif case == 'skeleton_truncated':
        rows[-1] = ' '.join(rows[-1].split()[:77])
    elif case == 'skeleton_text':
        fields = rows[1].split()
        fields[4] = 'nan?'
        rows[1] = ' '.join(fields)
    elif case == 'label_fields':
        lab.write_text('1,0,10,1\n51,10,25\n')
    elif case == 'label_text':
        lab.write_text('1,zero,10,1\n')
    elif case == 'label_class':
        lab.write_text('52,0,10,1\n')
    elif case == 'label_order':
        lab.write_text('5,9,3,1\n')
    else:
        lab.unlink()
    s.write_text('\n'.join(rows) + '\n')
    with pytest.raises(SkeletonFormatError, match=message):
        pku.build_pku_annotations(str(skel), str(label), dict(xsub=str(split)))


def test_pku_cli(pku_dir, tmp_path):
    skel, label, split, _ = pku_dir
    out = tmp_path / 'pku.pkl'
    res = run_tool('pku_mmd_to_pkl.py', '--skeleton-dir', skel, '--label-dir', label,
                   '--split-file', f'xsub={split}', '--out', out, '--workers', '2')
    assert res.returncode == 0, res.stderr
    assert 'wrote' in res.stdout and 'xsub_train 2, xsub_val 1' in res.stdout
    direct, _ = pku.build_pku_annotations(str(skel), str(label), dict(xsub=str(split)))
    data = load(out)
    assert data['split'] == direct['split']
    for a, b in zip(data['annotations'], direct['annotations']):
        np.testing.assert_array_equal(a['keypoint'], b['keypoint'])

    (label / '0003-M.txt').write_text('12,2,18\n')  # bad: 3 fields
    res = run_tool('pku_mmd_to_pkl.py', '--skeleton-dir', skel, '--label-dir', label,
                   '--split-file', f'xsub={split}', '--out', tmp_path / 'new.pkl')
    assert res.returncode == 1 and '0003-M.txt:1: expected 4 comma-separated' in res.stderr
    assert not (tmp_path / 'new.pkl').exists()
    data, stats = pku.build_pku_annotations(str(skel), str(label), dict(xsub=str(split)),
                                            skip_bad=True)
    assert stats['bad_skipped'] == 1 and data['split']['xsub_val'] == []


# ------------------------------------------------------------------ npz
@pytest.fixture
def npz_file(tmp_path):
    """MAMP / CTR-GCN layout: (N, 300, 150) zero-padded, one-hot labels."""
    x_train = np.zeros((3, 300, 150), np.float32)
    x_train[0, :50, :75] = standing(50, 0.05).reshape(50, 75)              # 1 person
    x_train[1, :64] = np.concatenate([standing(64, 0.05, -0.5), standing(64, 0.02, 0.5)],
                                     axis=1).reshape(64, 150)               # 2 persons
    x_train[2, :30, :75] = standing(30, 0.05).reshape(30, 75)
    x_train[2, 10] = 0  # a zero frame inside the clip stays
    x_test = np.zeros((1, 300, 150), np.float32)
    x_test[0, :300, 75:] = standing(300, 0.05).reshape(300, 75)  # person 0 empty, full length
    y_train, y_test = np.eye(60)[[4, 59, 0]], np.eye(60)[[7]]
    path = tmp_path / 'NTU60_CS.npz'
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return path, x_train, x_test


def test_npz_values_and_splits(npz_file):
    path, x_train, x_test = npz_file
    data, stats = npz_to_pkl.build_npz_annotations(str(path), 'xsub')
    assert not stats['compressed']
    annos = data['annotations']
    assert [a['frame_dir'] for a in annos] == ['xsub_train_000000', 'xsub_train_000001',
                                               'xsub_train_000002', 'xsub_val_000000']
    assert [a['label'] for a in annos] == [4, 59, 0, 7]
    assert [a['total_frames'] for a in annos] == [50, 64, 30, 300]
    assert [a['keypoint'].shape[0] for a in annos] == [1, 2, 1, 1]
    as_mtvc = lambda x, T: x[:T].reshape(T, 2, 25, 3).transpose(1, 0, 2, 3)  # noqa: E731
    np.testing.assert_array_equal(annos[0]['keypoint'], as_mtvc(x_train[0], 50)[:1])
    np.testing.assert_array_equal(annos[1]['keypoint'], as_mtvc(x_train[1], 64))
    np.testing.assert_array_equal(annos[2]['keypoint'], as_mtvc(x_train[2], 30)[:1])
    assert not annos[2]['keypoint'][0, 10].any()
    np.testing.assert_array_equal(annos[3]['keypoint'], as_mtvc(x_test[0], 300)[1:])
    assert data['split'] == dict(xsub_train=[a['frame_dir'] for a in annos[:3]],
                                 xsub_val=['xsub_val_000000'])
    assert validate_annotations(data, 'npz', num_classes=60) == []


def test_npz_cli_and_compressed(npz_file, tmp_path):
    path, x_train, x_test = npz_file
    out = tmp_path / 'ntu60_xsub.pkl'
    res = run_tool('npz_to_pkl.py', '--npz', path, '--split', 'xsub', '--out', out,
                   '--workers', '2')
    assert res.returncode == 0, res.stderr
    direct, _ = npz_to_pkl.build_npz_annotations(str(path), 'xsub')
    data = load(out)
    assert data['split'] == direct['split']
    for a, b in zip(data['annotations'], direct['annotations']):
        np.testing.assert_array_equal(a['keypoint'], b['keypoint'])

    packed = tmp_path / 'packed.npz'
    with np.load(path) as z:
        np.savez_compressed(packed, **z)
    comp, stats = npz_to_pkl.build_npz_annotations(str(packed), 'xsub')
    assert stats['compressed']
    for a, b in zip(comp['annotations'], direct['annotations']):
        np.testing.assert_array_equal(a['keypoint'], b['keypoint'])


def test_npz_malformed_inputs(npz_file, tmp_path):
    path, x_train, x_test = npz_file
    cut = tmp_path / 'cut.npz'
    cut.write_bytes(path.read_bytes()[:100000])
    with pytest.raises(SkeletonFormatError, match=r'cut\.npz: not a readable \.npz'):
        npz_to_pkl.build_npz_annotations(str(cut), 'xsub')

    def variant(name, **arrays):
        p = tmp_path / name
        base = dict(x_train=x_train, y_train=np.eye(60)[[4, 59, 0]], x_test=x_test,
                    y_test=np.eye(60)[[7]])
        base.update(arrays)
        np.savez(p, **{k: v for k, v in base.items() if v is not None})
        return str(p)

    with pytest.raises(SkeletonFormatError, match=r"expected an array 'y_test'"):
        npz_to_pkl.build_npz_annotations(variant('a.npz', y_test=None), 'xsub')
    with pytest.raises(SkeletonFormatError, match=r'x_train: expected shape \(N, T, M \* 75\), '
                                                   r'got \(3, 300, 149\)'):
        npz_to_pkl.build_npz_annotations(variant('b.npz', x_train=x_train[..., :149]), 'xsub')
    bad = x_train.copy()
    bad[1, 5, 3] = np.nan
    with pytest.raises(SkeletonFormatError, match='x_train row 1: non-finite value in frame 5'):
        npz_to_pkl.build_npz_annotations(variant('c.npz', x_train=bad), 'xsub')
    y = np.eye(60)[[4, 59, 0]]
    y[2, 3] = 1
    p = variant('d.npz', y_train=y)
    with pytest.raises(SkeletonFormatError, match=r'y_train row 2: expected a one-hot vector'):
        npz_to_pkl.build_npz_annotations(p, 'xsub')
    data, stats = npz_to_pkl.build_npz_annotations(p, 'xsub', skip_bad=True)
    assert stats['bad_skipped'] == 1
    assert data['split']['xsub_train'] == ['xsub_train_000000', 'xsub_train_000001']

    ints, _ = npz_to_pkl.build_npz_annotations(variant('e.npz', y_train=np.array([4, 59, 0])),
                                               'xsub')
    assert [a['label'] for a in ints['annotations']] == [4, 59, 0, 7]
    with pytest.raises(SkeletonFormatError, match=r'y_train row 1: expected an integer label'):
        npz_to_pkl.build_npz_annotations(variant('f.npz', y_train=np.array([4, 1.5, 0])), 'xsub')

    res = run_tool('npz_to_pkl.py', '--npz', cut, '--split', 'xsub', '--out', tmp_path / 'o.pkl')
    assert res.returncode == 1 and 'cut.npz: not a readable .npz' in res.stderr
    assert not (tmp_path / 'o.pkl').exists()


# ------------------------------------------------------------------ atomic write
class Unpicklable:
    def __reduce__(self):
        raise RuntimeError('cannot pickle this')


def test_atomic_write_leaves_old_output_on_failure(tmp_path):
    out = tmp_path / 'data.pkl'
    out.write_bytes(b'old')
    with pytest.raises(RuntimeError, match='cannot pickle this'):
        atomic_pickle_dump(dict(big=np.zeros(10**6), bad=Unpicklable()), str(out))
    assert out.read_bytes() == b'old' and os.listdir(tmp_path) == ['data.pkl']
    atomic_pickle_dump(dict(a=1), str(out))
    assert load(out) == dict(a=1) and os.listdir(tmp_path) == ['data.pkl']


# ------------------------------------------------------------------ PoseDataset + pipelines
def stock_pipeline():
    return [dict(type='UniformSampleFrames', clip_len=32), dict(type='PoseDecode'),
            dict(type='FormatGCNInput', num_person=2), dict(type='PackActionInputs')]


def gfp_pipeline():
    return [dict(type='CentreOnFirstFrame'),
            dict(type='ValidCropResize', clip_len=32, p_interval=(0.5, 1.0), min_frames=8),
            dict(type='RandomRotation3D', max_angle=0.3),
            dict(type='FormatGCNInput', num_person=2),
            dict(type='MotionAwareTokenMasking', mask_ratio=0.9, tau=0.8, patch_len=4),
            dict(type='PackActionInputs', algorithm_keys=('token_mask', ))]


def test_converted_pickles_load_through_pose_dataset(ntu_dir, pku_dir, npz_file, tmp_path):
    from mmaction.datasets import PoseDataset
    from mmengine.registry import init_default_scope
    init_default_scope('mmaction')
    raw, missing, _ = ntu_dir
    skel, label, split, _ = pku_dir
    npz_path = npz_file[0]
    built = {
        'ntu60': (ntu.build_ntu_annotations(str(raw), 'ntu60', ['S001C001P001R001A002'])[0],
                  'xsub_val'),
        'pku': (pku.build_pku_annotations(str(skel), str(label), dict(xsub=str(split)))[0],
                'xsub_train'),
        'npz': (npz_to_pkl.build_npz_annotations(str(npz_path), 'xsub')[0], 'xsub_train'),
    }
    for name, (data, split_name) in built.items():
        ann_file = str(tmp_path / f'{name}.pkl')
        atomic_pickle_dump(data, ann_file)
        stock = PoseDataset(ann_file, pipeline=stock_pipeline(), split=split_name)
        assert len(stock) == len(data['split'][split_name])
        first = next(a for a in data['annotations']
                     if a['frame_dir'] == data['split'][split_name][0])
        item = stock[0]
        assert item['inputs'].shape == (1, 2, 32, 25, 3)
        assert int(item['data_samples'].gt_label) == first['label']
        gfp = PoseDataset(ann_file, pipeline=gfp_pipeline(), split=split_name)
        item = gfp[0]
        assert item['inputs'].shape == (1, 2, 32, 25, 3)
        mask = item['data_samples'].token_mask
        assert mask.shape == (1, 2, 8 * 25) and (~mask).sum(-1).tolist() == [[20, 20]]
        assert np.isfinite(item['inputs'].numpy()).all()
