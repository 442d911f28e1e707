"""Loading a checkpoint runs no code from the file.

A crafted checkpoint whose unpickling would create a file (``open(path, 'w')``) is
refused on every path that loads checkpoints -- ``tools/test.py``, ``tools/train.py
--resume``, ``load_from``, a backbone's ``init_cfg`` Pretrained, ``tools/extract_features.py``
-- with an error naming the file and the offending global, and the file is never
created. ``GFP_TRUST_CHECKPOINTS=1`` loads it (and the code runs: the opt-in is real).
Checkpoints written by this project's training (message hub, random states), bare
MMEngine checkpoints and plain state dicts load, and a real run resumes.
"""
import io
import itertools
import os
import pickle
import re
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MMLogger
from mmengine.runner.checkpoint import CheckpointLoader, _load_checkpoint

from gfp_mmaction import compat
from gfp_mmaction.compat import TRUST_ENV, UntrustedCheckpointError

from protocol_helpers import load_tool, make_gfp_checkpoint, tiny_options

OPEN = f'{open.__module__}.{open.__name__}'  # how pickle names open(): 'io.open'
RETRIEVAL = 'configs/gfp/retrieval_ntu60_xsub.py'
FINETUNE = 'configs/gfp/finetune_synthetic_xsub.py'  # trains, validates, checkpoints


class Payload:
    """Unpickling this runs ``open(target, 'w')``: creates ``target``."""

    def __init__(self, target: Path):
        self.target = str(target)

    def __reduce__(self):
        return open, (self.target, 'w')


class Reduce:
    """Unpickling this calls ``func(*args)``."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


@pytest.fixture(autouse=True)
def untrusted(monkeypatch):
    monkeypatch.delenv(TRUST_ENV, raising=False)


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: threads only add overhead
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='module')
def gfp_checkpoint(tmp_path_factory):
    """A tiny GFP pre-training checkpoint of the encoder that ``tiny_options`` builds."""
    return make_gfp_checkpoint(tmp_path_factory.mktemp('gfp') / 'gfp.pth')


@pytest.fixture(scope='module')
def gfp_state(gfp_checkpoint):
    return torch.load(gfp_checkpoint, weights_only=True)['state_dict']


@pytest.fixture
def crafted(tmp_path, gfp_state):
    """``(checkpoint, target)``: real GFP weights plus a payload creating ``target``."""
    target = tmp_path / 'created_by_unpickling'
    checkpoint = tmp_path / 'crafted.pth'
    torch.save({'state_dict': gfp_state, 'meta': {'note': Payload(target)}}, checkpoint)
    return checkpoint, target


_RUNS = itertools.count()


def train_argv(work_dir, ann_file, gfp_checkpoint, *extra, epochs=1):
    """``tools/train.py`` arguments: the synthetic fine-tuning config shrunk to 8 clips,
    the encoder initialised from ``gfp_checkpoint`` (init_cfg Pretrained)."""
    # A name used once: MMEngine names a run's logger after the experiment, and runs of
    # this process started in the same second would otherwise share one log file.
    return [FINETUNE, '--work-dir', str(work_dir), *extra, '--cfg-options',
            *tiny_options(FINETUNE, ann_file, gfp_checkpoint),
            f'train_cfg.max_epochs={epochs}', f'experiment_name=safety_run_{next(_RUNS)}']


@pytest.fixture(scope='module')
def trained(tmp_path_factory, synthetic_ann_file, gfp_checkpoint):
    """One epoch of tiny fine-tuning through tools/train.py (ResumableCheckpointHook: the
    message hub with logged and validation scalars, random states):
    ``(ann_file, gfp_checkpoint, epoch_1.pth)``."""
    work_dir = tmp_path_factory.mktemp('checkpoint_safety') / 'trained'
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        load_tool('train').main(train_argv(work_dir, synthetic_ann_file, gfp_checkpoint,
                                           '--seed', '0'))
    finally:
        torch.set_num_threads(threads)
    return synthetic_ann_file, gfp_checkpoint, work_dir / 'epoch_1.pth'


def refusal(path, *names) -> str:
    """The start of the refusal message for ``path`` holding the globals ``names``."""
    return (f'Refused to load checkpoint {path}: it holds the global(s) {", ".join(names)}, '
            'which are not on the checkpoint allowlist')


def run_logs(work_dir: Path) -> str:
    return '\n'.join(p.read_text() for p in sorted(Path(work_dir).rglob('*.log')))


# ------------------------------------------------------------------ the loader itself
def test_crafted_checkpoint_is_refused_naming_file_and_global(crafted):
    checkpoint, target = crafted
    with pytest.raises(UntrustedCheckpointError) as error:
        _load_checkpoint(str(checkpoint), map_location='cpu')
    message = str(error.value)
    assert message.startswith(refusal(checkpoint, OPEN) + '. Unpickling it could run code')
    assert f'{TRUST_ENV}=1' in message and 'docs/robustness.md' in message
    assert isinstance(error.value, pickle.UnpicklingError)
    assert not target.exists()
    # The loader MMEngine logs as "Loads checkpoint by local backend" is this one.
    loader = CheckpointLoader._get_checkpoint_loader(str(checkpoint))
    assert loader is compat.load_from_local and loader.__name__[10:] == 'local'


def test_opt_in_loads_the_file_and_runs_its_code(crafted, monkeypatch, tmp_path):
    checkpoint, target = crafted
    monkeypatch.setenv(TRUST_ENV, '1')
    log_file = tmp_path / 'opt_in.log'
    logger = MMLogger.get_instance(f'opt_in_{tmp_path.name}', log_file=str(log_file))
    loaded = _load_checkpoint(str(checkpoint), map_location='cpu')
    assert target.exists()  # the payload ran: the opt-in is full unpickling
    for handler in logger.handlers:
        handler.flush()
    assert (f'Checkpoint {checkpoint}: it holds the global(s) {OPEN}, which are not on the '
            'checkpoint allowlist; loading it with full unpickling because '
            f'{TRUST_ENV}=1 (this runs code from the file)') in log_file.read_text()
    assert isinstance(loaded['meta']['note'], io.TextIOWrapper)
    loaded['meta']['note'].close()
    assert 'backbone.patch_embed.weight' in loaded['state_dict']


@pytest.mark.parametrize('value', ['0', ''])
def test_opt_in_off_values(crafted, monkeypatch, value):
    checkpoint, target = crafted
    monkeypatch.setenv(TRUST_ENV, value)
    with pytest.raises(UntrustedCheckpointError):
        _load_checkpoint(str(checkpoint))
    assert not target.exists()


def test_opt_in_with_another_value_is_an_error(crafted, monkeypatch):
    checkpoint, target = crafted
    monkeypatch.setenv(TRUST_ENV, 'yes')
    with pytest.raises(ValueError, match=r"GFP_TRUST_CHECKPOINTS='yes': expected 1 .* or 0"):
        _load_checkpoint(str(checkpoint))
    assert not target.exists()


def test_legacy_format_is_refused_too(tmp_path):
    target = tmp_path / 'created'
    checkpoint = tmp_path / 'legacy.pth'
    torch.save({'meta': Payload(target)}, checkpoint, _use_new_zipfile_serialization=False)
    with pytest.raises(UntrustedCheckpointError, match=re.escape(refusal(checkpoint, OPEN))):
        _load_checkpoint(str(checkpoint))
    assert not target.exists()


def test_allowed_classes_cannot_be_used_to_reach_other_attributes(tmp_path):
    """``getattr`` is allowed only as ``HistoryBuffer``'s state uses it; object arrays and
    other dtypes that are not plain numbers stay refused."""
    checkpoint = tmp_path / 'getattr.pth'
    torch.save({'meta': Reduce(getattr, HistoryBuffer, 'update')}, checkpoint)
    with pytest.raises(UntrustedCheckpointError) as error:
        _load_checkpoint(str(checkpoint))
    assert str(error.value).startswith(
        f"Refused to load checkpoint {checkpoint}: the weights-only unpickler refused it: "
        "getattr(HistoryBuffer, 'update') is not allowed: a checkpoint may only name the "
        "statistics methods ('min', 'max', 'current', 'mean') of "
        "mmengine.logging.HistoryBuffer. ")
    torch.save({'meta': Reduce(getattr, np.ndarray, 'tofile')}, checkpoint)
    with pytest.raises(UntrustedCheckpointError, match=r"getattr\(ndarray, 'tofile'\) is not"):
        _load_checkpoint(str(checkpoint))
    torch.save({'meta': np.array([1, 'a'], dtype=object)}, checkpoint)
    with pytest.raises(UntrustedCheckpointError, match='ObjectDType'):
        _load_checkpoint(str(checkpoint))
    # What HistoryBuffer's state does use loads: getattr(HistoryBuffer, 'mean').
    torch.save({'meta': Reduce(getattr, HistoryBuffer, 'mean')}, checkpoint)
    assert _load_checkpoint(str(checkpoint))['meta'] is HistoryBuffer.mean


def test_plain_state_dicts_and_bare_mmengine_checkpoints_load(tmp_path, gfp_state):
    from gfp_mmaction.models.backbones.skeleton_transformer import (
        SkeletonTransformer,
        load_encoder_state,
    )
    encoder = SkeletonTransformer(embed_dims=32, depth=1, num_heads=2)
    plain = tmp_path / 'plain.pth'
    torch.save(encoder.state_dict(), plain)  # an OrderedDict of tensors
    assert load_encoder_state(encoder, str(plain)).keys() == encoder.state_dict().keys()
    bare = tmp_path / 'bare.pth'
    torch.save({'state_dict': gfp_state, 'meta': {'epoch': 3, 'note': 'x'}}, bare)
    loaded = _load_checkpoint(str(bare))
    assert loaded['meta'] == {'epoch': 3, 'note': 'x'}
    assert all(torch.equal(loaded['state_dict'][k], v) for k, v in gfp_state.items())


def test_loading_leaves_torchs_safe_globals_as_they_were(tmp_path, trained):
    before = torch.serialization.get_safe_globals()
    torch.serialization.add_safe_globals([HistoryBuffer])  # the process's own choice
    try:
        _load_checkpoint(str(trained[2]))
        assert HistoryBuffer in torch.serialization.get_safe_globals()  # not removed
    finally:
        torch.serialization.clear_safe_globals()
        torch.serialization.add_safe_globals(before)
    _load_checkpoint(str(trained[2]))
    assert set(map(str, torch.serialization.get_safe_globals())) == set(map(str, before))


# ------------------------------------------------------------------- real checkpoints
def test_real_checkpoint_needs_every_allowed_global(trained):
    """The globals of a checkpoint of this project's training that torch alone refuses are
    exactly the allowlisted ones (under this numpy's module name), and it loads."""
    checkpoint = trained[2]
    numpy_core = np.zeros(1).__reduce__()[0].__module__  # numpy._core.multiarray on numpy 2
    assert sorted(torch.serialization.get_unsafe_globals_in_checkpoint(str(checkpoint))) == \
        sorted(['builtins.getattr', 'mmengine.logging.history_buffer.HistoryBuffer',
                'numpy.dtype', 'numpy.ndarray', f'{numpy_core}._reconstruct',
                f'{numpy_core}.scalar'])
    with pytest.raises(pickle.UnpicklingError):
        torch.load(checkpoint, weights_only=True)  # torch alone
    loaded = _load_checkpoint(str(checkpoint))
    assert isinstance(loaded['message_hub']['log_scalars']['train/loss'], HistoryBuffer)
    rng = loaded['resume_state']['rng'][0]
    assert rng['numpy'][1].dtype == np.uint32 and rng['torch'].dtype == torch.uint8
    assert isinstance(loaded['message_hub']['runtime_info']['eta'], np.float64)


def test_checkpoint_written_with_numpy_1_names_loads(trained, tmp_path):
    """numpy 1.x pickles its reconstructors as ``numpy.core.multiarray.*``."""
    source = trained[2]
    renamed = tmp_path / 'numpy1.pth'
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(renamed, 'w') as zout:
        for item in zin.infolist():
            data = zin.read(item)
            if item.filename.endswith('/data.pkl'):
                assert b'numpy._core.multiarray\n' in data
                data = data.replace(b'numpy._core.multiarray\n', b'numpy.core.multiarray\n')
                assert b'numpy._core' not in data
            zout.writestr(item, data)
    expected = _load_checkpoint(str(source))
    loaded = _load_checkpoint(str(renamed))
    assert np.array_equal(loaded['resume_state']['rng'][0]['numpy'][1],
                          expected['resume_state']['rng'][0]['numpy'][1])
    assert loaded['message_hub']['runtime_info']['eta'] == \
        expected['message_hub']['runtime_info']['eta']


def test_a_real_run_resumes_and_a_tampered_copy_only_with_the_opt_in(trained, tmp_path,
                                                                     monkeypatch):
    ann_file, gfp_checkpoint, checkpoint = trained
    train = load_tool('train')
    # The real checkpoint: resumes through check_resume and Runner.resume.
    work_dir = tmp_path / 'resumed'
    train.main(train_argv(work_dir, ann_file, gfp_checkpoint, '--resume', str(checkpoint),
                          epochs=2))
    log = run_logs(work_dir)
    assert 'resumed epoch: 1, iter: 1' in log  # 8 clips, batches of 8
    assert 'Resumed the random states of 1 process(es) and the sampler seed 0' in log
    assert _load_checkpoint(str(work_dir / 'epoch_2.pth'))['meta']['epoch'] == 2

    # The same checkpoint with a payload added: refused, then resumed with the opt-in.
    tampered = tmp_path / 'tampered.pth'
    target = tmp_path / 'created_by_unpickling'
    content = torch.load(checkpoint, weights_only=False)  # our own file: trusted
    content['meta']['note'] = Payload(target)
    torch.save(content, tampered)
    with pytest.raises(UntrustedCheckpointError, match=re.escape(refusal(tampered, OPEN))):
        train.main(train_argv(tmp_path / 'refused', ann_file, gfp_checkpoint, '--resume',
                              str(tampered), epochs=2))
    assert not target.exists()
    assert not list((tmp_path / 'refused').glob('*.pth'))
    monkeypatch.setenv(TRUST_ENV, '1')
    trusted_dir = tmp_path / 'trusted'
    train.main(train_argv(trusted_dir, ann_file, gfp_checkpoint, '--resume', str(tampered),
                          epochs=2))
    assert target.exists()
    assert 'resumed epoch: 1, iter: 1' in run_logs(trusted_dir)
    assert (trusted_dir / 'epoch_2.pth').is_file()


# ------------------------------------------------------- every path that loads one
def test_train_load_from_refuses(crafted, synthetic_ann_file, gfp_checkpoint, tmp_path):
    checkpoint, target = crafted
    argv = train_argv(tmp_path / 'work', synthetic_ann_file, gfp_checkpoint)
    with pytest.raises(UntrustedCheckpointError, match=re.escape(refusal(checkpoint, OPEN))):
        load_tool('train').main(argv + [f'load_from={checkpoint}'])
    assert not target.exists()
    assert not list((tmp_path / 'work').glob('*.pth'))


def test_train_resume_refuses(crafted, synthetic_ann_file, gfp_checkpoint, tmp_path):
    checkpoint, target = crafted
    argv = train_argv(tmp_path / 'work', synthetic_ann_file, gfp_checkpoint, '--resume',
                      str(checkpoint))
    with pytest.raises(UntrustedCheckpointError, match=re.escape(refusal(checkpoint, OPEN))):
        load_tool('train').main(argv)
    assert not target.exists()


def test_train_init_cfg_pretrained_refuses(crafted, synthetic_ann_file, tmp_path):
    """The fine-tuning config's encoder initialised from the crafted checkpoint."""
    checkpoint, target = crafted
    with pytest.raises(UntrustedCheckpointError, match=re.escape(refusal(checkpoint, OPEN))):
        load_tool('train').main(train_argv(tmp_path / 'work', synthetic_ann_file, checkpoint))
    assert not target.exists()


def test_backbone_init_cfg_pretrained_refuses(crafted):
    from mmaction.registry import MODELS
    checkpoint, target = crafted
    encoder = MODELS.build(dict(
        type='SkeletonTransformer', embed_dims=32, depth=1, num_heads=2,
        init_cfg=dict(type='Pretrained', checkpoint=str(checkpoint), prefix='backbone.')))
    with pytest.raises(UntrustedCheckpointError, match=re.escape(refusal(checkpoint, OPEN))):
        encoder.init_weights()
    assert not target.exists()


def test_test_tool_refuses_then_runs_with_the_opt_in(crafted, synthetic_ann_file, tmp_path,
                                                      monkeypatch):
    checkpoint, target = crafted
    argv = [RETRIEVAL, str(checkpoint), '--work-dir', str(tmp_path / 'test'),
            '--cfg-options', *tiny_options(RETRIEVAL, synthetic_ann_file)]
    with pytest.raises(SystemExit) as error:
        load_tool('test').main(argv)
    assert str(error.value.code).startswith('error: ' + refusal(checkpoint, OPEN))
    assert not target.exists()
    monkeypatch.setenv(TRUST_ENV, '1')
    load_tool('test').main(argv)  # scores the checkpoint's (real) encoder
    assert target.exists()


def test_extract_features_refuses(crafted, synthetic_ann_file, tmp_path):
    checkpoint, target = crafted
    out = tmp_path / 'features.npz'
    with pytest.raises(SystemExit) as error:
        load_tool('extract_features').main(
            [RETRIEVAL, str(checkpoint), '--split', 'xsub_val', '--out', str(out),
             '--num-workers', '0', '--cfg-options',
             *tiny_options(RETRIEVAL, synthetic_ann_file)])
    assert str(error.value.code).startswith('error: ' + refusal(checkpoint, OPEN))
    assert not target.exists() and not out.exists()


def test_test_tool_process_prints_the_refusal_without_a_traceback(crafted, repo_root,
                                                                   synthetic_ann_file,
                                                                   tmp_path):
    """The command line as a user runs it: exit status 1, one clear line."""
    import subprocess
    import sys
    checkpoint, target = crafted
    out = subprocess.run(
        [sys.executable, 'tools/test.py', 'configs/gfp/retrieval_synthetic_xsub.py',
         str(checkpoint), '--work-dir', str(tmp_path / 'work'), '--cfg-options',
         f'test_dataloader.dataset.ann_file={synthetic_ann_file}'],
        cwd=repo_root, capture_output=True, text=True, timeout=300,
        env={k: v for k, v in os.environ.items() if k != TRUST_ENV})
    assert out.returncode == 1, out.stderr[-2000:]
    assert 'Traceback' not in out.stderr
    assert refusal(checkpoint, OPEN) in out.stderr
    assert not target.exists()
    shutil.rmtree(tmp_path / 'work', ignore_errors=True)
