"""The README's main command, in its quick form: the whole demo path end to end, and
never two kinds of demo run in one work dir."""
import json
import subprocess
import sys

import pytest

from protocol_helpers import load_tool


@pytest.fixture(scope='module')
def demo():
    return load_tool('demo')


def run_demo(repo_root, *args):
    return subprocess.run([sys.executable, 'tools/demo.py', *map(str, args)], cwd=repo_root,
                          capture_output=True, text=True, timeout=900)


def snapshot(folder):
    """Every file under ``folder`` with its size and modification time."""
    return {p.relative_to(folder): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in folder.rglob('*') if p.is_file()}


def test_quick_demo_runs_every_stage_and_full_settings_refuse_its_work_dir(repo_root,
                                                                           tmp_path):
    work_dir = tmp_path / 'demo'
    out = run_demo(repo_root, '--quick', '--work-dir', work_dir)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    table = out.stdout[out.stdout.index('Frozen encoders'):]
    assert 'GFP pre-trained' in table and 'random weights' in table
    assert 'batched (SkeletonClipDataset + SkeletonPretrainPreprocessor) path, seed 0' in table
    summary = json.loads((work_dir / 'summary.json').read_text())
    assert [row['encoder'] for row in summary['encoders']] == ['GFP pre-trained',
                                                               'random weights']
    for row in summary['encoders']:
        assert 0.0 <= row['linear_top1'] <= 1.0 and 0.0 <= row['retrieval_top1'] <= 1.0
    for picture in summary['pictures'].values():
        assert open(picture, 'rb').read(8) == b'\x89PNG\r\n\x1a\n'
    assert (work_dir / 'pretrain' / 'last_checkpoint').is_file()
    recorded = json.loads((work_dir / 'demo_settings.json').read_text())
    assert recorded == summary['settings'] == dict(
        mode='quick', data=dict(subjects=4, views=2, reps=1), pretrain_epochs=2,
        linear_epochs=2, seed=0, pretrain_path='batched')

    # The full demo pointed at the quick run's folder: refused before it writes or reads
    # anything, saying which settings differ and where its own folder is.
    before = snapshot(work_dir)
    out = run_demo(repo_root, '--work-dir', work_dir)
    assert out.returncode == 1
    assert f'demo: {work_dir} holds a demo run with other settings' in out.stderr
    assert "  mode: recorded 'quick', this run 'full'" in out.stderr
    assert ("  data: recorded {'subjects': 4, 'views': 2, 'reps': 1}, this run "
            "{'subjects': 8, 'views': 3, 'reps': 2}") in out.stderr
    assert '  pretrain_epochs: recorded 2, this run None' in out.stderr
    assert 'seed' not in out.stderr.split('Use another')[0]  # equal: not listed
    assert 'the default for this run is work_dirs/demo)' in out.stderr
    assert snapshot(work_dir) == before


def test_each_setting_has_its_own_default_work_dir(demo):
    dirs = {(quick, per_sample, seed): str(demo.default_work_dir(
        demo.demo_settings(quick, per_sample, seed)))
        for quick in (False, True) for per_sample in (False, True) for seed in (0, 3)}
    assert dirs[False, False, 0] == 'work_dirs/demo'  # the README's
    assert dirs[True, False, 0] == 'work_dirs/demo_quick'
    assert dirs[False, True, 0] == 'work_dirs/demo_per_sample'
    assert dirs[True, True, 3] == 'work_dirs/demo_quick_per_sample_seed3'
    assert len(set(dirs.values())) == len(dirs)


def test_quick_settings_refuse_a_full_runs_work_dir(demo, tmp_path):
    """The other direction, without the 6-minute full run: a folder claimed with the full
    settings (what the full demo writes first) is refused by --quick and by
    --per-sample; the same settings reuse it."""
    work_dir = tmp_path / 'demo'
    full = demo.demo_settings(quick=False, per_sample=False, seed=0)
    assert demo.claim_work_dir(work_dir, full) is False  # new: claimed
    assert demo.claim_work_dir(work_dir, full) is True   # same settings: reused
    for argv in (['--quick'], ['--per-sample'], ['--seed', '1']):
        with pytest.raises(SystemExit, match='holds a demo run with other settings'):
            demo.main([*argv, '--work-dir', str(work_dir)])
    assert sorted(p.name for p in work_dir.iterdir()) == ['demo_settings.json']


def test_a_work_dir_without_a_record_is_refused(demo, tmp_path):
    """A folder with files but no demo_settings.json (an older demo's run, anything else)
    is not mixed with a new run; an unreadable record neither."""
    old = tmp_path / 'old'
    old.mkdir()
    (old / 'synthetic_ntu.pkl').write_bytes(b'an older run')
    with pytest.raises(demo.WorkDirMismatch, match='holds files but no demo_settings.json'):
        demo.claim_work_dir(old, demo.demo_settings(True, False, 0))
    (old / 'demo_settings.json').write_text('{not json')
    with pytest.raises(demo.WorkDirMismatch, match='demo_settings.json: cannot be read'):
        demo.claim_work_dir(old, demo.demo_settings(True, False, 0))
    assert (old / 'synthetic_ntu.pkl').read_bytes() == b'an older run'


def test_per_sample_pretraining_config(demo, tmp_path):
    """--per-sample pre-trains the same model from the same data on the numpy path."""
    from mmengine.config import Config
    path = demo.per_sample_pretrain_config(tmp_path)
    assert path == tmp_path / 'gfp_synthetic_xsub_per_sample.py'
    per_sample, batched = Config.fromfile(str(path)), Config.fromfile(str(demo.PRETRAIN_CONFIG))
    assert per_sample.train_dataloader.dataset.type == 'SkeletonPoseDataset'
    assert [t['type'] for t in per_sample.train_dataloader.dataset.pipeline] == [
        'CentreOnFirstFrame', 'ValidCropResize', 'RandomRotation3D', 'FormatGCNInput',
        'MotionAwareTokenMasking', 'PackActionInputs']
    assert per_sample.train_dataloader.collate_fn == dict(type='pseudo_collate')
    assert batched.train_dataloader.dataset.type == 'SkeletonClipDataset'
    assert per_sample.model.backbone == batched.model.backbone
    assert per_sample.optim_wrapper == batched.optim_wrapper
