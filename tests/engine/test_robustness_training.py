"""Training faults through ``tools/train.py`` with the real MMEngine runner: a non-finite
loss, an unwritable work dir, ``--resume`` with another model's checkpoint, and paths
given to load checkpoints. After every failure the checkpoints already written are
byte-identical and loadable."""
import shutil
import subprocess

import pytest
import torch
from mmaction.registry import MODELS

from gfp_mmaction.engine.hooks import NonFiniteLossError
from gfp_mmaction.engine.preflight import ResumeMismatchError, WorkDirError
from gfp_mmaction.models.data_preprocessors import SkeletonPretrainPreprocessor

from robustness_helpers import load_train_tool, snapshot, write_config


@MODELS.register_module(force=True)
class PoisonedPretrainPreprocessor(SkeletonPretrainPreprocessor):
    """Test-only: the real batched augmentation and masking, then a NaN in joint 3 of
    frame 0 of every clip, as a numerical fault inside the model would."""

    def forward(self, data: dict, training: bool = False) -> dict:
        out = super().forward(data, training)
        out['inputs'][..., 0, 3, 0] = float('nan')  # (B, 1, M, T, V, C)
        return out


POISON = ("data_preprocessor = dict(type='PoisonedPretrainPreprocessor', clip_len=48, "
          "min_frames=16)")


@pytest.fixture(scope='module')
def train_tool():
    return load_train_tool()


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: threads only add overhead on a busy machine
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='module')
def trained(tmp_path_factory, train_tool):
    """One epoch of the tiny model: ``(root, ann_file, work dir with epoch_1.pth)``."""
    from gfp_mmaction.testing.synthetic import write_synthetic_ntu
    root = tmp_path_factory.mktemp('robustness_training')
    ann_file = root / 'synthetic.pkl'
    write_synthetic_ntu(ann_file, subjects=2, views=2, reps=1, seed=0)
    work_dir = root / 'trained'
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # (module fixtures start before the function-scoped one)
    try:
        train_tool.main([str(write_config(root, ann_file, epochs=1)), '--work-dir',
                         str(work_dir), '--seed', '0'])
    finally:
        torch.set_num_threads(threads)
    assert (work_dir / 'last_checkpoint').read_text() == str(work_dir / 'epoch_1.pth')
    return root, ann_file, work_dir


def copy_work_dir(trained, tmp_path):
    """A private copy of the trained work dir; ``last_checkpoint`` re-pointed into it."""
    work_dir = tmp_path / 'work'
    shutil.copytree(trained[2], work_dir)
    (work_dir / 'last_checkpoint').write_text(str(work_dir / 'epoch_1.pth'))
    return work_dir


def run_log(work_dir, trained):
    """What the run started in ``work_dir`` logged: every log file there that is not an
    unchanged copy from ``trained``. (Compared by content, not by folder name: a run that
    starts in the same second as the copied one gets the same timestamp folder.)"""
    new_text = []
    for log in work_dir.glob('*/*.log'):
        copied = trained[2] / log.relative_to(work_dir)
        text = log.read_text()
        if not copied.is_file():
            new_text.append(text)
        elif text != copied.read_text():
            old = copied.read_text()
            new_text.append(text[len(old):] if text.startswith(old) else text)
    assert new_text, f'no log of the new run under {work_dir}'
    return '\n'.join(new_text)


def assert_intact(work_dir, before):
    """The files are byte-identical and the checkpoint loads with finite weights."""
    assert snapshot(work_dir) == before
    checkpoint = torch.load(work_dir / 'epoch_1.pth', map_location='cpu', weights_only=False)
    assert checkpoint['meta']['epoch'] == 1
    # (The state dict also holds the data preprocessor's seed, a dict: tensors only.)
    assert all(torch.isfinite(v).all() for v in checkpoint['state_dict'].values()
               if isinstance(v, torch.Tensor) and v.is_floating_point())


# --------------------------------------------------------------- non-finite loss
def test_non_finite_loss_stops_the_run_and_keeps_the_last_checkpoint(
        train_tool, trained, tmp_path):
    root, ann_file, _ = trained
    work_dir = copy_work_dir(trained, tmp_path)
    before = snapshot(work_dir)
    assert set(before) == {'epoch_1.pth', 'last_checkpoint'}
    # Resume the 1-epoch run for 3 epochs with poisoned inputs: epoch 2, batch 1 is the
    # first iteration (iteration 3) to see them. (The check is deferred to the logging
    # interval, here every iteration, but names the first bad iteration whatever it is.)
    config = write_config(tmp_path, ann_file, epochs=3, extra=POISON)
    with pytest.raises(NonFiniteLossError) as info:
        train_tool.main([str(config), '--work-dir', str(work_dir), '--resume'])
    assert isinstance(info.value, FloatingPointError)
    first_line = str(info.value).splitlines()[0]
    assert first_line.startswith('Non-finite loss at iteration 3 (epoch 2, batch 1): loss=nan, '
                                 'loss_pred=nan, ')
    assert f'the last checkpoint, {work_dir / "epoch_1.pth"}, was kept' in first_line
    assert not (work_dir / 'epoch_2.pth').exists()
    assert_intact(work_dir, before)
    # The message is in the run's log file too.
    log = run_log(work_dir, trained)
    assert 'Non-finite loss at iteration 3 (epoch 2, batch 1)' in log


# ---------------------------------------------------------- unwritable work dir
def _make_read_only(path):
    """Make ``path`` unwritable even for root (chattr +i), else by its mode bits;
    return the command that undoes it, or None when neither works here."""
    if shutil.which('chattr') and subprocess.run(['chattr', '+i', str(path)],
                                                 capture_output=True).returncode == 0:
        return ['chattr', '-i', str(path)]
    path.chmod(0o555)
    probe = path / '.probe'
    try:
        probe.write_text('x')
    except OSError:
        return ['chmod', '755', str(path)]
    probe.unlink()
    path.chmod(0o755)
    return None


def test_unwritable_work_dir_fails_at_start(train_tool, trained, tmp_path):
    root, ann_file, _ = trained
    config = str(write_config(tmp_path, ann_file, epochs=2))
    # Below a regular file: the dir cannot be created.
    blocker = tmp_path / 'blocker'
    blocker.write_text('a file, not a dir')
    with pytest.raises(WorkDirError) as info:
        train_tool.main([config, '--work-dir', str(blocker / 'work')])
    assert str(info.value).startswith(f'work dir {blocker / "work"} is not writable (Not a '
                                      'directory): logs and checkpoints go there.')
    # An existing dir holding a checkpoint, made read-only: the run stops before the
    # runner starts, the checkpoint stays as it was.
    work_dir = copy_work_dir(trained, tmp_path)
    before = snapshot(work_dir)
    undo = _make_read_only(work_dir)
    if undo is None:
        pytest.skip('cannot make a directory read-only here (no chattr, mode bits ignored)')
    try:
        with pytest.raises(WorkDirError, match=f'^work dir {work_dir} is not writable '
                                               r'\((Operation not permitted|Permission denied)\)'):
            train_tool.main([config, '--work-dir', str(work_dir), '--resume'])
    finally:
        subprocess.run(undo, check=True)
    assert sorted(p.name for p in work_dir.iterdir()) == sorted(
        p.name for p in trained[2].iterdir())  # no log dir: the runner never started
    assert_intact(work_dir, before)


# ------------------------------------------------------------- mismatched resume
def test_resume_with_another_models_checkpoint_names_the_keys(train_tool, trained, tmp_path):
    root, ann_file, _ = trained
    work_dir = copy_work_dir(trained, tmp_path)
    before = snapshot(work_dir)
    # Wider encoder: same keys, other shapes.
    wide = write_config(tmp_path, ann_file, width=48, epochs=2)
    with pytest.raises(ResumeMismatchError) as info:
        train_tool.main([str(wide), '--work-dir', str(work_dir), '--resume'])
    lines = str(info.value).splitlines()
    assert lines[0] == (f'Cannot resume: checkpoint {work_dir / "epoch_1.pth"} was not made '
                        f'by the model of {wide} (19 shape mismatches)')
    assert lines[1].startswith('  shape mismatch: backbone.blocks.0.attn.proj.bias (32,) in '
                               'the checkpoint, (48,) in the model, ')
    assert lines[1].endswith('(+14 more)')
    assert_intact(work_dir, before)
    # Deeper encoder, the checkpoint named explicitly: missing keys.
    deep = write_config(tmp_path, ann_file, depth=2, epochs=2)
    checkpoint = work_dir / 'epoch_1.pth'
    with pytest.raises(ResumeMismatchError) as info:
        train_tool.main([str(deep), '--work-dir', str(work_dir), '--resume', str(checkpoint)])
    lines = str(info.value).splitlines()
    assert lines[0] == (f'Cannot resume: checkpoint {checkpoint} was not made by the model of '
                        f'{deep} (12 missing keys)')
    assert lines[1] == ('  missing (in the model, not in the checkpoint): '
                        'backbone.blocks.1.attn.proj.bias, backbone.blocks.1.attn.proj.weight, '
                        'backbone.blocks.1.attn.qkv.bias, backbone.blocks.1.attn.qkv.weight, '
                        'backbone.blocks.1.mlp.0.bias (+7 more)')
    assert_intact(work_dir, before)


def test_resume_with_the_same_model_passes_the_check(train_tool, trained, tmp_path):
    root, ann_file, _ = trained
    work_dir = copy_work_dir(trained, tmp_path)
    # max_epochs=1 = the checkpoint's epoch: resumes, then has nothing left to train.
    train_tool.main([str(write_config(tmp_path, ann_file, epochs=1)), '--work-dir',
                     str(work_dir), '--resume'])
    log = run_log(work_dir, trained)
    assert 'resumed epoch: 1, iter: 2' in log


# ---------------------------------------------------- paths that load checkpoints
def test_checkpoint_paths_are_only_ever_loaded_as_files(train_tool, trained, tmp_path):
    """A path given to load a checkpoint is a path: never evaluated or imported, only
    handed to MMEngine's checkpoint loader (torch.load for a local file)."""
    root, ann_file, _ = trained
    marker = tmp_path / 'executed'
    code = f"__import__('pathlib').Path('{marker}').touch()"
    with pytest.raises(FileNotFoundError, match=r'--resume: checkpoint .*__import__.* not found'):
        train_tool.main([str(write_config(tmp_path, ann_file)), '--work-dir',
                         str(tmp_path / 'a'), '--resume', code])
    with pytest.raises(FileNotFoundError, match=r'__import__.* can not be found'):
        train_tool.main([str(write_config(tmp_path, ann_file)), '--work-dir',
                         str(tmp_path / 'b'), '--cfg-options', f'load_from={code}'])
    assert not marker.exists()


# ---------------------------------------------------------- untrusted checkpoint
def test_untrusted_checkpoint_is_refused_and_nothing_is_written(train_tool, trained, tmp_path):
    """``--resume`` from a checkpoint holding a global outside the allowlist stops with
    ``UntrustedCheckpointError`` (printed as one ``error:`` line) before any of it is
    loaded; the work dir's checkpoints stay as they were."""
    import io

    from gfp_mmaction.compat import UntrustedCheckpointError
    root, ann_file, _ = trained
    work_dir = copy_work_dir(trained, tmp_path)
    before = snapshot(work_dir)
    checkpoint = torch.load(work_dir / 'epoch_1.pth', map_location='cpu', weights_only=False)
    checkpoint['meta']['opener'] = io.open  # pickled as the global io.open
    crafted = tmp_path / 'crafted.pth'
    torch.save(checkpoint, crafted)
    with pytest.raises(UntrustedCheckpointError) as info:
        train_tool.main([str(write_config(tmp_path, ann_file, epochs=2)), '--work-dir',
                         str(work_dir), '--resume', str(crafted)])
    assert str(info.value).startswith(f'Refused to load checkpoint {crafted}: it holds the '
                                      'global(s) io.open, which are not on the checkpoint '
                                      'allowlist.')
    assert UntrustedCheckpointError in train_tool.CLEAR_ERRORS
    assert_intact(work_dir, before)
    assert not (work_dir / 'train.lock').exists()
