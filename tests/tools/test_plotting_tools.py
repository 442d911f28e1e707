"""The plotting tools and gfp_mmaction.visualization: each writes a valid, non-empty picture
from a tiny real run."""
import importlib.util
import json

import numpy as np
import pytest
import torch
from mmaction.datasets import PoseDataset
from mmaction.registry import MODELS
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint
from PIL import Image

from gfp_mmaction.testing.synthetic import write_synthetic_ntu
from gfp_mmaction.visualization import knn_accuracy, load_curves, pca_2d, select_keys


def load_tool(repo_root, relative):
    path = repo_root / relative
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def tools(repo_root):
    return {name: load_tool(repo_root, path) for name, path in (
        ('train', 'tools/train.py'), ('curves', 'tools/analysis/plot_curves.py'),
        ('features', 'tools/analysis/plot_features.py'),
        ('masking', 'tools/visualize_masking.py'))}


def check_picture(path, frames=1):
    """A real PNG / GIF that PIL decodes, of a fair size, not one flat colour."""
    assert path.is_file() and path.stat().st_size > 1000
    with Image.open(path) as image:
        assert image.format == ('GIF' if frames > 1 else 'PNG')
        assert image.width > 200 and image.height > 150
        assert getattr(image, 'n_frames', 1) >= frames
        pixels = np.asarray(image.convert('L'))
    assert pixels.std() > 5  # something is drawn
    assert not list(path.parent.glob(f'.{path.name}.*'))  # no temporary file left


@pytest.fixture(scope='module')
def tiny_run(tmp_path_factory, tools, repo_root):
    """The demo's GFP config for 2 epochs of 2 iterations on 6 synthetic clips."""
    root = tmp_path_factory.mktemp('run')
    ann_file = root / 'tiny_ntu.pkl'
    write_synthetic_ntu(str(ann_file), num_classes=3, subjects=2, views=2, reps=1, seed=0,
                        min_frames=40, max_frames=60)
    work_dir = root / 'work'
    tools['train'].main([
        str(repo_root / 'configs/gfp/gfp_synthetic_xsub.py'), '--work-dir', str(work_dir),
        '--seed', '0', '--cfg-options', f'train_dataloader.dataset.ann_file={ann_file}',
        'train_dataloader.batch_size=3', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False', 'train_cfg.max_epochs=2',
        'default_hooks.logger.interval=1', 'default_hooks.checkpoint.interval=2',
        'custom_hooks.0.interval=2'])
    return dict(ann_file=ann_file, work_dir=work_dir, root=root)


def test_plot_curves_from_a_tiny_run(tiny_run, tools):
    curves = load_curves(str(tiny_run['work_dir']))
    # The GFP config turns the collapse monitor on: after iterations 1, 2 and 4.
    assert [x for x, _ in curves['collapse/target0_std']] == [1, 2, 4]
    assert [x for x, _ in curves['loss_pred']] == [1, 2, 3, 4]
    for key in ('loss', 'loss_var', 'loss_cov', 'lr', 'collapse/encoder_erank'):
        assert key in curves

    out = tiny_run['root'] / 'pictures' / 'curves.png'
    # The same run twice, as two overlaid runs (a work dir and its scalars.json).
    log = next(tiny_run['work_dir'].glob('*/vis_data/scalars.json'))
    tools['curves'].main([str(tiny_run['work_dir']), str(log), '--out', str(out),
                          '--labels', 'a', 'b'])
    check_picture(out)
    keys_out = tiny_run['root'] / 'pictures' / 'std.png'
    tools['curves'].main([str(tiny_run['work_dir']), '--out', str(keys_out), '--keys',
                          'collapse/*_std'])
    check_picture(keys_out)


def test_plot_curves_places_records_by_iteration(tmp_path):
    records = [  # MMEngine's three kinds: training, collapse monitor, validation (epoch)
        dict(lr=0.1, loss=3.0, epoch=1, iter=5, step=5),
        {'collapse/target0_std': 0.5, 'step': 5},
        dict(lr=0.1, loss=2.0, epoch=1, iter=10, step=10),
        {'acc/top1': 0.4, 'step': 1},
        dict(lr=0.05, loss=1.0, epoch=2, iter=20, step=20),
        {'acc/top1': 0.6, 'step': 2},
    ]
    log = tmp_path / 'scalars.json'
    log.write_text('\n'.join(json.dumps(r) for r in records) + '\n')
    curves = load_curves(str(log))
    assert curves['loss'] == [(5, 3.0), (10, 2.0), (20, 1.0)]
    assert curves['collapse/target0_std'] == [(5, 0.5)]
    assert curves['acc/top1'] == [(10, 0.4), (20, 0.6)]  # the last iteration of the epoch
    assert 'epoch' not in curves and 'step' not in curves
    assert select_keys(list(curves), None) == [
        'loss', 'lr', 'collapse/target0_std', 'acc/top1']

    log.write_text(json.dumps(records[0]) + '\n{"loss": 1\n')
    with pytest.raises(SystemExit, match=r'scalars.json, line 2: not JSON'):
        load_curves(str(log))
    with pytest.raises(SystemExit, match='no scalar log in'):
        load_curves(str(tmp_path / 'empty'))


def export_features(config, checkpoint, ann_file, out):
    """Mean-pooled encoder features of the validation clips, in the exported format."""
    init_default_scope('mmaction')
    model = MODELS.build(Config.fromfile(config).model).eval()
    if checkpoint is not None:
        load_checkpoint(model, str(checkpoint), map_location='cpu', logger='silent')
    dataset = PoseDataset(str(ann_file), split='xsub_val', pipeline=[
        dict(type='CentreOnFirstFrame', joint=1),
        dict(type='ValidCropResize', clip_len=120, p_interval=(0.95, )),
        dict(type='FormatGCNInput', num_person=2, mode='zero'),
        dict(type='PackActionInputs')])
    features, labels, names = [], [], []
    with torch.no_grad():
        for index in range(len(dataset)):
            item = dataset[index]
            latent = model.extract_feat(item['inputs'][None].float())  # (1, M, D, T_e, V)
            features.append(latent[0, 0].mean(dim=(1, 2)).numpy())
            labels.append(item['data_samples'].gt_label.item())
            names.append(dataset.get_data_info(index)['frame_dir'])
    np.savez(out, features=np.stack(features), labels=np.array(labels),
             frame_dirs=np.array(names))
    return out


def test_plot_features_from_a_tiny_run(tiny_run, tools, repo_root):
    config = repo_root / 'configs/gfp/gfp_synthetic_xsub.py'
    checkpoint = (tiny_run['work_dir'] / 'last_checkpoint').read_text().strip()
    trained = export_features(config, checkpoint, tiny_run['ann_file'],
                              tiny_run['root'] / 'pretrained.npz')
    torch.manual_seed(0)
    random = export_features(config, None, tiny_run['ann_file'],
                             tiny_run['root'] / 'random.npz')
    out = tiny_run['root'] / 'pictures' / 'features.png'
    # 'auto' is t-SNE with scikit-learn and PCA without: both must work.
    tools['features'].main([str(trained), str(random), '--out', str(out), '--titles',
                            'pre-trained', 'random'])
    check_picture(out)
    pca_out = out.with_name('features_pca.png')
    tools['features'].main([str(trained), '--out', str(pca_out), '--method', 'pca'])
    check_picture(pca_out)


def test_plot_features_maths_and_errors(tmp_path, tools):
    plot = tools['features']
    # Points on the line y = 2x: one component explains everything.
    t = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
    coords, share = pca_2d(np.stack([t, 2 * t], axis=1) + 7.0)
    assert share == pytest.approx([1.0, 0.0], abs=1e-12)
    assert np.abs(coords[:, 0]) == pytest.approx(np.sqrt(5) * np.abs(t))
    assert coords[:, 1] == pytest.approx(np.zeros(5), abs=1e-9)
    # k-NN by hand: two tight groups by direction, one point labelled against its group.
    features = np.array([[1, 0.1], [1, 0.2], [1, 0.0], [1, -0.1],
                         [0.1, 1], [0.2, 1], [0.0, 1], [-0.1, 1]])
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 0])
    assert knn_accuracy(features, labels, k=3) == pytest.approx(7 / 8)

    bad = tmp_path / 'bad.npz'
    np.savez(bad, features=np.zeros((4, 3)))
    with pytest.raises(SystemExit, match=r'bad.npz has no field "labels"'):
        plot.main([str(bad), '--out', str(tmp_path / 'x.png')])
    np.savez(bad, features=np.zeros((4, 3)), labels=np.zeros(3, dtype=int))
    with pytest.raises(SystemExit, match=r'bad.npz: field "labels" must be \(4,\)'):
        plot.main([str(bad), '--out', str(tmp_path / 'x.png')])
    with pytest.raises(SystemExit, match='ending in .png'):
        plot.main([str(bad), '--out', str(tmp_path / 'x.jpg')])


def test_visualize_masking_png_and_gif(tiny_run, tools, repo_root, capsys):
    config = str(repo_root / 'configs/gfp/gfp_synthetic_xsub.py')
    png = tiny_run['root'] / 'pictures' / 'masking.png'
    tools['masking'].main([config, '--synthetic', '--index', '0', '--compare', '--out',
                           str(png)])
    check_picture(png)
    printed = capsys.readouterr().out
    # The waving clip: motion-aware masking keeps the still tokens visible.
    ratios = [float(line.split('they move ')[1].split('x')[0])
              for line in printed.splitlines() if 'they move' in line]
    assert len(ratios) == 2 and ratios[0] < 0.7 < ratios[1]
    assert 'motion-aware masking (mask_ratio=0.9, tau=0.8' in printed

    gif = png.with_suffix('.gif')
    tools['masking'].main([config, '--ann-file', str(tiny_run['ann_file']), '--index', '1',
                           '--out', str(gif), '--gif-step', '12'])
    check_picture(gif, frames=10)
    with pytest.raises(SystemExit, match=r"--index 99 is out of range: split 'xsub_train'"):
        tools['masking'].main([config, '--ann-file', str(tiny_run['ann_file']), '--index',
                               '99', '--out', str(png)])
