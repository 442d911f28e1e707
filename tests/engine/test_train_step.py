"""The training step through tools/train.py and MMEngine's runner: bf16 autocast without a
loss scaler (--amp), torch.compile through the runner (--compile / cfg.compile), fused
AdamW on CUDA, and loss terms that reach the host only at the logging interval."""
import json
from pathlib import Path

import pytest
import torch
from mmaction.registry import HOOKS
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from robustness_helpers import load_train_tool, tiny_gfp_config

REPO = Path(__file__).resolve().parents[2]

# The demo's config at a smaller width; 20 training clips, batch 4 -> 5 iterations/epoch.
RUN_HOOKS = """
default_hooks = dict(logger=dict(interval={interval}), checkpoint=dict(interval={epochs}))
custom_hooks = [dict(type='RecordStepHook')]
"""


@HOOKS.register_module(force=True)
class RecordStepHook(Hook):
    """Writes ``steps.json`` to the work dir: per iteration, the loss computed by the step,
    the number of values the message hub held for ``train/loss`` at that moment, the
    autocast dtype seen inside the model and the optimizer wrapper's type."""

    priority = 'LOWEST'  # after every other hook of the iteration

    def before_train(self, runner):
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        self.steps, self.dtypes = [], []
        model.backbone.patch_embed.register_forward_hook(
            lambda module, args, out: self.dtypes.append(str(out.dtype)))

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        history = runner.message_hub.log_scalars.get('train/loss')
        self.steps.append(dict(loss=float(outputs['loss']),
                               logged=0 if history is None else len(history.data[0])))

    def after_train(self, runner):
        wrapper = runner.optim_wrapper
        (Path(runner.work_dir) / 'steps.json').write_text(json.dumps(dict(
            steps=self.steps, dtypes=sorted(set(self.dtypes)),
            wrapper=type(wrapper).__name__, scaler=hasattr(wrapper, 'loss_scaler'),
            logged=list(map(float, runner.message_hub.log_scalars['train/loss'].data[0])),
            loop_stage=runner.message_hub.runtime_info.get('loop_stage', 'removed'))))


@pytest.fixture(scope='module')
def train_tool():
    return load_train_tool()


def train(train_tool, tmp_path, ann_file, *flags, epochs=1, interval=2, name='run'):
    config = tmp_path / f'{name}.py'
    config.write_text(tiny_gfp_config(ann_file, epochs=epochs, batch_size=4,
                                      extra=RUN_HOOKS.format(interval=interval, epochs=epochs)))
    work_dir = tmp_path / name
    train_tool.main([str(config), '--work-dir', str(work_dir), '--seed', '0', *flags])
    return json.loads((work_dir / 'steps.json').read_text()), work_dir


def test_amp_trains_in_bf16_without_a_loss_scaler(train_tool, tmp_path, synthetic_ann_file):
    record, _ = train(train_tool, tmp_path, synthetic_ann_file, '--amp')
    assert record['wrapper'] == 'AutocastOptimWrapper' and not record['scaler']
    assert record['dtypes'] == ['torch.bfloat16']  # the encoder ran under bf16 autocast
    assert all(torch.isfinite(torch.tensor(s['loss'])) for s in record['steps'])
    # The preprocessor switches autocast off: its float32 output fed the bf16 encoder.
    eager, _ = train(train_tool, tmp_path, synthetic_ann_file, name='fp32')
    assert eager['wrapper'] == 'OptimWrapper' and eager['dtypes'] == ['torch.float32']
    # Same data, same initial weights: the first bf16 loss is the fp32 loss to bf16 precision.
    first, ref = record['steps'][0]['loss'], eager['steps'][0]['loss']
    assert first != ref and abs(first - ref) < 0.02 * ref


def test_amp_dtype_float16_keeps_the_scaled_path(train_tool):
    args = train_tool.parse_args(['x.py', '--amp', '--amp-dtype', 'float16'])
    cfg = Config(dict(optim_wrapper=dict(type='OptimWrapper', optimizer=dict(type='AdamW'))))
    cfg = train_tool.merge_args(cfg, args)
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.dtype == 'float16' and cfg.optim_wrapper.loss_scale == 'dynamic'
    args = train_tool.parse_args(['x.py', '--amp', '--compile', 'reduce-overhead'])
    cfg = train_tool.merge_args(Config(dict(optim_wrapper=dict(
        type='OptimWrapper', optimizer=dict(type='AdamW')))), args)
    assert (cfg.optim_wrapper.type == 'AutocastOptimWrapper'
            and cfg.optim_wrapper.dtype == 'bfloat16')
    assert cfg.compile == dict(mode='reduce-overhead')
    # fused AdamW only where CUDA is
    assert ('fused' in cfg.optim_wrapper.optimizer) == torch.cuda.is_available()


def test_compile_through_the_runner_trains_the_demo_config(train_tool, tmp_path,
                                                           synthetic_ann_file):
    """cfg.compile (what --compile sets): MMEngine compiles train_step. The aot_eager
    backend traces forward and backward through Dynamo and AOTAutograd exactly as
    inductor does, without generating C++ (minutes on 2 cores)."""
    eager, _ = train(train_tool, tmp_path, synthetic_ann_file, name='eager')
    compiled, work_dir = train(train_tool, tmp_path, synthetic_ann_file, '--cfg-options',
                               'compile.backend=aot_eager', name='compiled')
    log = next(work_dir.glob('*/*.log')).read_text()
    assert 'Model has been "compiled"' in log
    assert len(compiled['steps']) == len(eager['steps']) == 5
    for a, b in zip(compiled['steps'], eager['steps']):  # the same training, step by step
        assert a['loss'] == pytest.approx(b['loss'], rel=1e-4)


def test_losses_reach_the_message_hub_at_the_logging_interval_only(
        train_tool, tmp_path, synthetic_ann_file):
    record, work_dir = train(train_tool, tmp_path, synthetic_ann_file, epochs=2, interval=2)
    steps = record['steps']
    assert len(steps) == 10  # 5 iterations per epoch
    # Flushed after iterations 2, 4, 5 (end of epoch), 7, 9, 10: nothing in between.
    assert [s['logged'] for s in steps] == [0, 2, 2, 4, 5, 5, 7, 7, 9, 10]
    # ... and the message hub then holds exactly each iteration's loss, in order.
    assert record['logged'] == pytest.approx([s['loss'] for s in steps], rel=1e-6)
    # ... and MMEngine's end-of-training bookkeeping still ran (it drops 'loop_stage').
    assert record['loop_stage'] == 'removed'
    log = next(work_dir.glob('*/*.log')).read_text()
    mean = (steps[0]['loss'] + steps[1]['loss']) / 2  # the logger's window mean
    assert 'Epoch(train) [1][2/5]' in log and f'loss: {mean:.4f}' in log
