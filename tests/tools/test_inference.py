"""tools/inference.py on one sample: a raw NTU .skeleton, an .npy and a pkl:frame_dir of
the same clip give the scores of MMAction2's own test path (PoseDataset + test pipeline +
test_step) for that clip; a head with known scores prints the hand-computed top-k with
names; wrong inputs, checkpoints and label maps fail naming the file."""
import importlib.util
import math
import pickle
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate

from gfp_mmaction.testing.synthetic import SYNTHETIC_NTU_CLASSES, generate_synthetic_ntu

REPO = Path(__file__).resolve().parents[2]
CONFIG = str(REPO / 'configs/gfp/linear_synthetic_xsub.py')
SMALL = {'model.backbone.embed_dims': 32, 'model.backbone.depth': 1,
         'model.backbone.num_heads': 2, 'model.cls_head.in_channels': 32}
TINY = [f'{key}={value}' for key, value in SMALL.items()]  # the same, as --cfg-options
NUM_CLASSES = 10

spec = importlib.util.spec_from_file_location('gfp_tool_inference', REPO / 'tools/inference.py')
inference = importlib.util.module_from_spec(spec)
spec.loader.exec_module(inference)


def tiny_cfg():
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict(SMALL)
    return cfg


def write_ntu_skeleton(path, joints):
    """NTU's .skeleton text format, one body in every frame; joints ``(T, 25, 3)``."""
    lines = [str(len(joints))]
    for frame in joints:
        lines += ['1', '72057594037931101 0 1 1 1 1 0 0.01 -0.2 2', '25']
        lines += [' '.join(repr(float(v)) for v in xyz) + ' 250.5 200.2 900.1 500.7 0.1 0.2 '
                  '-0.3 0.9 2' for xyz in frame]
    Path(path).write_text('\n'.join(lines) + '\n')


@pytest.fixture(scope='module')
def workspace(tmp_path_factory):
    """A one-person synthetic clip as .skeleton / .npy / .pkl, a tiny linear-probe
    recognizer of configs/gfp/linear_synthetic_xsub.py saved as a checkpoint, and the
    clip's scores through MMAction2's test path (PoseDataset, the test pipeline,
    test_step)."""
    from mmaction.registry import DATASETS, MODELS
    from mmengine.registry import init_default_scope
    root = tmp_path_factory.mktemp('inference')
    data = generate_synthetic_ntu(num_classes=2, subjects=2, views=2, reps=1, seed=3,
                                  max_frames=90, drop_prob=0.0)
    anno = next(a for a in data['annotations'] if a['keypoint'].shape[0] == 1)
    name = anno['frame_dir']
    write_ntu_skeleton(root / f'{name}.skeleton', anno['keypoint'][0])
    np.save(root / 'clip.npy', anno['keypoint'])
    with open(root / 'clips.pkl', 'wb') as f:
        pickle.dump(dict(split=dict(xsub_val=[name]), annotations=[anno]), f)

    init_default_scope('mmaction')
    cfg = tiny_cfg()
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    with torch.no_grad():  # a trained probe's statistics, not the identity
        model.cls_head.norm.running_mean.normal_(0, 0.3)
        model.cls_head.norm.running_var.uniform_(0.5, 2.0)
        model.cls_head.fc.weight.normal_(0, 3.0)
    checkpoint = root / 'linear.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, checkpoint)

    dataset_cfg = dict(cfg.test_dataloader.dataset, ann_file=str(root / 'clips.pkl'),
                       split='xsub_val')
    dataset = DATASETS.build(dataset_cfg)
    model.eval()
    with torch.no_grad():
        reference = model.test_step(pseudo_collate([dataset[0]]))[0].pred_score
    labels = root / 'labels.txt'
    labels.write_text('\n'.join(SYNTHETIC_NTU_CLASSES[:NUM_CLASSES]) + '\n')
    return dict(root=root, name=name, anno=anno, checkpoint=checkpoint, reference=reference,
                labels=labels)


def run(capsys, *args):
    code = inference.main([CONFIG, *map(str, args), '--device', 'cpu', '--cfg-options', *TINY])
    out, err = capsys.readouterr()
    return code, out, err


def printed_top(out):
    """``[(rank, score, class, name)]`` of the printed table."""
    rows = re.findall(r'^\s*(\d+)\. (\d\.\d{4})  class\s+(\d+)(?:  (.*))?$', out, re.M)
    return [(int(r), float(s), int(c), n) for r, s, c, n in rows]


def test_three_input_kinds_give_the_test_paths_scores(workspace, capsys):
    ws = workspace
    reference = ws['reference']
    assert math.isclose(float(reference.sum()), 1.0, rel_tol=1e-5)
    order = torch.argsort(reference, descending=True)[:5].tolist()
    assert reference[order[0]] - reference[order[-1]] > 1e-3  # an informative ranking
    expected = [(rank, round(float(reference[c]), 4), c, SYNTHETIC_NTU_CLASSES[c])
                for rank, c in enumerate(order, 1)]
    inputs = [ws['root'] / f'{ws["name"]}.skeleton', ws['root'] / 'clip.npy',
              f'{ws["root"] / "clips.pkl"}:{ws["name"]}']
    for source in inputs:
        code, out, err = run(capsys, ws['checkpoint'], source, '--label-map', ws['labels'])
        assert code == 0, err
        T = ws['anno']['keypoint'].shape[1]
        assert f'1 person(s), {T} frames, 25 joints' in out
        top = printed_top(out)
        assert [(r, c, n) for r, _, c, n in top] == [(r, c, n) for r, _, c, n in expected]
        for (_, score, _, _), (_, want, _, _) in zip(top, expected):
            assert abs(score - want) <= 1e-4, (source, out)
    assert f'true label: {ws["anno"]["label"]} {SYNTHETIC_NTU_CLASSES[ws["anno"]["label"]]}' \
        in out  # the pickle's annotation carries its label


def test_known_head_scores_print_the_hand_computed_top_k(workspace, tmp_path, capsys):
    """fc weights zero and bias log(p): the scores are p for any input."""
    state = torch.load(workspace['checkpoint'], weights_only=True)['state_dict']
    p = torch.tensor([0.02, 0.30, 0.05, 0.08, 0.01, 0.25, 0.04, 0.15, 0.06, 0.04])
    state['cls_head.fc.weight'] = torch.zeros_like(state['cls_head.fc.weight'])
    state['cls_head.fc.bias'] = p.log()
    checkpoint = tmp_path / 'known.pth'
    torch.save({'state_dict': state}, checkpoint)
    code, out, _ = run(capsys, checkpoint, workspace['root'] / 'clip.npy', '--top-k', '3',
                       '--label-map', workspace['labels'])
    assert code == 0
    names = SYNTHETIC_NTU_CLASSES
    assert printed_top(out) == [(1, 0.30, 1, names[1]), (2, 0.25, 5, names[5]),
                                (3, 0.15, 7, names[7])]
    assert 'top-3 of 10 classes:' in out
    code, out, _ = run(capsys, checkpoint, workspace['root'] / 'clip.npy', '--top-k', '2')
    assert printed_top(out) == [(1, 0.30, 1, ''), (2, 0.25, 5, '')]
    assert 'pass --label-map' in out


def test_pku_text_file_and_frames_option(workspace, tmp_path, capsys):
    """A PKU-MMD skeleton file (150 numbers a frame, absent second body zero) cut with
    --frames gives the scores of the .npy of the same frames."""
    kp = workspace['anno']['keypoint']  # (1, T, 25, 3)
    rows = np.concatenate([kp[0].reshape(len(kp[0]), -1), np.zeros((kp.shape[1], 75))], 1)
    pku = tmp_path / '0002-L.txt'
    pku.write_text('\n'.join(' '.join(repr(float(v)) for v in row) for row in rows) + '\n')
    np.save(tmp_path / 'cut.npy', kp[:, 5:45])
    code, out, err = run(capsys, workspace['checkpoint'], pku, '--frames', '5:45')
    assert code == 0, err
    assert 'PKU-MMD skeleton file; 1 person(s), 40 frames' in out
    _, npy_out, _ = run(capsys, workspace['checkpoint'], tmp_path / 'cut.npy')
    assert printed_top(out) == printed_top(npy_out)


def test_command_line(workspace):
    """The script itself, as a user runs it."""
    ws = workspace
    res = subprocess.run(
        [sys.executable, str(REPO / 'tools/inference.py'), CONFIG, str(ws['checkpoint']),
         str(ws['root'] / f'{ws["name"]}.skeleton'), '--top-k', '2', '--label-map',
         str(ws['labels']), '--device', 'cpu', '--cfg-options', *TINY],
        capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert 'NTU RGB+D .skeleton, denoised' in res.stdout
    assert len(printed_top(res.stdout)) == 2


def test_wrong_inputs_fail_naming_the_file_and_what_was_expected(workspace, tmp_path, capsys):
    ws = workspace
    cases = []
    video = tmp_path / 'clip.mp4'
    video.write_bytes(b'\x00')
    cases.append((video, f'INPUT {video}: expected an NTU RGB+D .skeleton file, a PKU-MMD '
                  'skeleton .txt file, an .npy array (M, T, V, C) or FILE.pkl:frame_dir'))
    flat = tmp_path / 'flat.npy'
    np.save(flat, np.zeros((120, 25, 3), np.float32))
    cases.append((flat, f'{flat}: expected a numeric array of shape (M, T, V, C) (persons, '
                  'frames, joints, coordinates), got float32 (120, 25, 3)'))
    bad = tmp_path / 'S001C001P001R001A001.skeleton'
    bad.write_text('2\n1\n')
    cases.append((bad, f'{bad}:3: unexpected end of file, expected the info line of body 1 '
                  'of frame 1'))
    label_file = tmp_path / '0002-L_label.txt'
    label_file.write_text('3,10,50,1\n')
    cases.append((label_file, f'{label_file}:1: expected 150 fields in a frame line, got 1'))
    cases.append((f'{ws["root"] / "clips.pkl"}:S999', f'{ws["root"] / "clips.pkl"}: no '
                  "annotation with frame_dir 'S999' among its 1"))
    cases.append((ws['root'] / 'clips.pkl', 'a pickle holds many samples; name one as'))
    cases.append((tmp_path / 'absent.npy', f'INPUT {tmp_path / "absent.npy"} does not exist'))
    joints17 = tmp_path / 'coco17.npy'
    coco = np.random.default_rng(0).normal(size=(1, 60, 17, 3))
    np.save(joints17, coco.astype(np.float32))
    cases.append((joints17, 'SkeletonTransformer expects 25 joints x 3 coordinates'))
    for source, message in cases:
        code, out, err = run(capsys, ws['checkpoint'], source)
        assert code == 1 and out == ''
        assert message in err, (source, err)


def test_wrong_checkpoint_and_label_map_fail_clearly(workspace, tmp_path, capsys):
    ws = workspace
    pretrain = tmp_path / 'epoch_400.pth'
    state = torch.load(ws['checkpoint'], weights_only=True)['state_dict']
    torch.save({'state_dict': {k: v for k, v in state.items() if k.startswith('backbone.')}},
               pretrain)
    code, _, err = run(capsys, pretrain, ws['root'] / 'clip.npy')
    assert code == 1
    assert f'checkpoint {pretrain} has no classifier weights (cls_head.*)' in err
    code, _, err = run(capsys, ws['checkpoint'], ws['root'] / 'clip.npy', '--label-map',
                       REPO / 'tools/data/label_map/ntu60.txt')
    assert code == 1
    assert "ntu60.txt: expected one name per line for the model's 10 classes, got 60 lines" \
        in err
    code, _, err = run(capsys, ws['checkpoint'], ws['root'] / 'clip.npy', '--frames', '900:950')
    assert code == 1
    T = ws['anno']['keypoint'].shape[1]
    assert f"--frames 900:950: {ws['root'] / 'clip.npy'} has only {T} frames" in err
    code, _, err = run(capsys, ws['checkpoint'], ws['root'] / 'clip.npy', '--frames', '9-50')
    assert code == 1 and '--frames 9-50: expected START:END with 0 <= START < END' in err


def test_label_maps_shipped():
    folder = REPO / 'tools/data/label_map'
    ntu60 = (folder / 'ntu60.txt').read_text(encoding='utf-8').splitlines()
    ntu120 = (folder / 'ntu120.txt').read_text(encoding='utf-8').splitlines()
    pku = (folder / 'pku_mmd.txt').read_text(encoding='utf-8').splitlines()
    assert (len(ntu60), len(ntu120), len(pku)) == (60, 120, 51)
    assert ntu120[:60] == ntu60
    for names in (ntu60, ntu120, pku):
        assert all(n and n == n.strip() and n.isascii() for n in names)
        assert len(set(names)) == len(names)
    # Spot checks against the official lists (NTU's A1, A60, A61, A120; PKU-MMD's 1, 51).
    assert (ntu60[0], ntu60[59]) == ('drink water', 'walking apart from each other')
    assert (ntu120[60], ntu120[119]) == ('put on headphone',
                                         'finger-guessing game (playing rock-paper-scissors)')
    assert (pku[0], pku[7], pku[50]) == ('bow', 'drink water', 'writing')
