"""A ``CheckpointHook`` that makes ``--resume`` continue the interrupted run exactly and
never leaves a broken "latest" checkpoint behind.

What MMEngine's ``CheckpointHook`` + ``Runner.resume`` already restore: model, optimizer,
parameter schedulers, epoch / iteration, message hub. What they miss, and this hook adds:

- Random states. Every rank's Python / numpy / torch (and CUDA) generator states are
  gathered when a checkpoint is written and restored on the same rank at resume, just
  before the first resumed epoch. The data pipeline draws from numpy's global
  generator, so without this the augmentation after a resume differs from the
  uninterrupted run's.
- Sampler seed. The data order is ``f(sampler seed, epoch)``; the seed is restored too, so
  a run started without ``--seed`` (random seed) keeps its order after a resume. The
  seed of MMEngine's dataloader ``worker_init_fn`` is restored alike.
- Validation does not disturb the training random streams: the states are put back
  after every validation epoch, so a checkpoint's states are those the next training
  epoch starts from, whether or not validation ran in between.

Crash safety (a kill at any moment):

- checkpoint files are written with :class:`AtomicLocalBackend` (temporary file + fsync
  + ``os.replace``) when they go to a local folder and no other backend was configured;
- ``last_checkpoint`` (what ``--resume`` reads) is replaced atomically and only after
  the checkpoint it names is complete;
- checkpoints beyond ``max_keep_ckpts`` are deleted only after that, so the file that
  ``last_checkpoint`` names always exists. (MMEngine deletes first and writes
  ``last_checkpoint`` with a plain truncating write.)
- a full disk while a checkpoint is written raises :class:`DiskFullError` naming the
  file, the bytes it needs and the bytes free, and the checkpoint that ``--resume`` will
  continue from; no partial file is left and nothing older is deleted.

Exactness limits: on the batched pre-training path (``SkeletonClipDataset`` +
``SkeletonPretrainPreprocessor``) the workers draw nothing: every augmentation draw is
keyed on (seed, epoch, sample index), so resumption is bitwise exact with any
``num_workers``, persistent or not. A per-sample pipeline's workers keep their own random
states, which live outside the main process; with ``persistent_workers=True`` their
streams restart from the seed at a resume, so such a run is bitwise exact only with
``num_workers=0`` or non-persistent workers (re-seeded identically at every epoch).
Resuming with a different number of processes restores model, optimizer and schedule but
not the random states (a warning says so). In an iteration-based loop MMEngine re-reads
the skipped batches after ``before_train``, which draws again from the restored
generators.
"""
import functools
import os.path as osp
from typing import Optional

from mmaction.registry import HOOKS
from mmengine.dist import all_gather_object, get_dist_info, is_main_process
from mmengine.fileio import LocalBackend, get_file_backend
from mmengine.hooks import CheckpointHook
from mmengine.runner import find_latest_checkpoint

from ...utils.rng_state import get_rng_state, set_rng_state
from ..atomic_backend import DiskFullError, write_or_explain

__all__ = ['ResumableCheckpointHook']

RESUME_STATE_KEY = 'resume_state'
# Checkpoint steps beyond max_keep_ckpts that the run was about to remove when it
# wrote the checkpoint (message hub runtime info, saved with it).
STALE_KEY = 'stale_ckpt_ids'


def _train_sampler(runner):
    """The sampler that orders the training data (behind a batch sampler if any)."""
    loader = runner.train_dataloader
    for sampler in (getattr(loader, 'sampler', None),
                    getattr(getattr(loader, 'batch_sampler', None), 'sampler', None)):
        if sampler is not None and hasattr(sampler, 'seed'):
            return sampler
    return None


def _worker_init_seed(runner) -> Optional[int]:
    init_fn = getattr(runner.train_dataloader, 'worker_init_fn', None)
    if isinstance(init_fn, functools.partial):
        return init_fn.keywords.get('seed')
    return None


def _what_resume_continues_from(runner) -> str:
    """The sentence a checkpoint-writing error ends with: what was kept."""
    last = find_latest_checkpoint(runner.work_dir)
    if last is None:
        return 'No checkpoint had been written yet. Free some space and start again.'
    return (f'The checkpoints already written and `last_checkpoint` were not changed: free '
            f'some space (or choose a --work-dir on a larger disk) and --resume continues '
            f'from {last}.')


@HOOKS.register_module()
class ResumableCheckpointHook(CheckpointHook):
    """``CheckpointHook`` (same arguments) with exact resumption and crash-safe writes.

    Adds ``checkpoint['resume_state'] = dict(world_size=int, rng=[state of rank 0, ...],
    sampler_seed=int or None, worker_seed=int or None)`` to every checkpoint it writes
    for resuming (not to ``save_best`` checkpoints, which are for evaluation).
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._pending_state = None   # gathered for the checkpoint being written
        self._loaded_state = None    # (resume_state, meta) of the checkpoint loaded
        self._val_rng = None         # training random state held during validation

    # ------------------------------------------------------------------ writing
    def before_train(self, runner) -> None:
        super().before_train(runner)
        if (self.file_client_args is None and self.backend_args is None
                and isinstance(self.file_backend, LocalBackend)):
            self.backend_args = dict(backend='atomic_local')
            self.file_backend = get_file_backend(self.out_dir, backend_args=self.backend_args)
        # A run killed after writing a checkpoint but before removing the ones beyond
        # max_keep_ckpts recorded them in that checkpoint: they go now.
        stale = runner.message_hub.get_info(STALE_KEY) or []
        if stale and is_main_process():
            self._remove_checkpoints(stale)
        runner.message_hub.update_info(STALE_KEY, [])
        self._restore(runner)

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        # Every rank reaches this point (CheckpointHook decides on counters and on
        # broadcast metrics), so the gather below is a valid collective.
        world_size = get_dist_info()[1]
        sampler = _train_sampler(runner)
        self._pending_state = dict(
            world_size=world_size, rng=all_gather_object(get_rng_state()),
            sampler_seed=getattr(sampler, 'seed', None), worker_seed=_worker_init_seed(runner))

        # MMEngine keeps keep_ckpt_ids only with max_keep_ckpts > 0 (MMAction2's recipes: -1).
        kept_ids = list(getattr(self, 'keep_ckpt_ids', ()))
        stale = []
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids
                                            and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                stale.append(self.keep_ckpt_ids.popleft())
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))
        runner.message_hub.update_info(STALE_KEY, stale)  # recorded in the new checkpoint

        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        try:
            runner.save_checkpoint(
                self.out_dir, ckpt_filename, self.file_client_args,
                save_optimizer=self.save_optimizer,
                save_param_scheduler=self.save_param_scheduler, meta=meta,
                by_epoch=self.by_epoch, backend_args=self.backend_args, **self.args)
        except DiskFullError as error:
            if self.max_keep_ckpts > 0:  # nothing was written, nothing goes
                self.keep_ckpt_ids.clear()
                self.keep_ckpt_ids.extend(kept_ids)
                runner.message_hub.update_info('keep_ckpt_ids', kept_ids)
            raise error.with_note(_what_resume_continues_from(runner)) from error
        finally:
            self._pending_state = None
        if not is_main_process():
            return
        # Only now that the checkpoint is complete does `last_checkpoint` name it, and
        # only then do the checkpoints beyond max_keep_ckpts go.
        try:
            write_or_explain(osp.join(runner.work_dir, 'last_checkpoint'), self.last_ckpt)
        except DiskFullError as error:
            raise error.with_note(
                f'The new checkpoint {self.last_ckpt} is complete, but `last_checkpoint` '
                'still names the one before it; --resume PATH continues from either.'
            ) from error
        self._remove_checkpoints(stale)
        runner.message_hub.update_info(STALE_KEY, [])

    def _remove_checkpoints(self, steps) -> None:
        """Remove the checkpoints of ``steps`` from the output folder (those that exist)."""
        for old_step in steps:
            path = self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(old_step))
            if self.file_backend.isfile(path):
                self.file_backend.remove(path)
            elif self.file_backend.isdir(path):  # checkpoints saved by deepspeed are folders
                self.file_backend.rmtree(path)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self._pending_state is not None:
            checkpoint[RESUME_STATE_KEY] = self._pending_state

    # ------------------------------------------------------- validation in between
    def before_val_epoch(self, runner) -> None:
        self._val_rng = get_rng_state()

    def after_val_epoch(self, runner, metrics) -> None:
        # Put the training streams back first: a save_best re-save of the last
        # checkpoint below then records exactly the states training continues from.
        if self._val_rng is not None:
            set_rng_state(self._val_rng)
            self._val_rng = None
        super().after_val_epoch(runner, metrics)

    # ------------------------------------------------------------------ resuming
    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._loaded_state = (checkpoint.get(RESUME_STATE_KEY), checkpoint.get('meta', {}))

    def _restore(self, runner) -> None:
        """At ``before_train``, after ``Runner.resume`` (which re-seeds), and as the last
        checkpoint-related step before the first resumed epoch draws anything."""
        if self._loaded_state is None:
            return
        state, meta = self._loaded_state
        self._loaded_state = None
        # A `load_from` (weights only, e.g. a pre-trained encoder) leaves the loop at
        # iteration 0; only a resume puts it at the checkpoint's iteration.
        if runner.iter == 0 or runner.iter != meta.get('iter'):
            return
        if state is None:
            runner.logger.warning(
                'The resumed checkpoint has no random states (it was not written by '
                'ResumableCheckpointHook): data augmentation continues from the seed, so '
                'the run will not repeat the interrupted one exactly.')
            return
        sampler = _train_sampler(runner)
        if sampler is not None and state.get('sampler_seed') is not None:
            sampler.seed = state['sampler_seed']
        init_fn = getattr(runner.train_dataloader, 'worker_init_fn', None)
        if isinstance(init_fn, functools.partial) and state.get('worker_seed') is not None \
                and 'seed' in init_fn.keywords:
            runner.train_dataloader.worker_init_fn = functools.partial(
                init_fn.func, *init_fn.args, **{**init_fn.keywords, 'seed': state['worker_seed']})
        rank, world_size = get_dist_info()
        if state['world_size'] != world_size:
            runner.logger.warning(
                f'The checkpoint was written by {state["world_size"]} process(es), this run '
                f'has {world_size}: model, optimizer, schedule and data order are resumed, '
                'the random states are not (augmentation continues from the seed).')
            return
        loader = runner.train_dataloader
        if getattr(loader, 'num_workers', 0) > 0 and getattr(loader, 'persistent_workers', False):
            # Starting a DataLoader's workers draws their base seed from torch's global
            # generator. The uninterrupted run drew it in its first epoch, before the
            # states saved here; start the persistent workers now, before the states are
            # restored, so that the resumed run's stream does not draw it a second time.
            iter(loader)
        set_rng_state(state['rng'][rank])
        note = ''
        if getattr(loader, 'num_workers', 0) > 0 and getattr(loader, 'persistent_workers', False):
            note = (' Persistent data-loader workers restart their own random streams from '
                    'the seed: exact with the batched pre-training path, whose workers draw '
                    'nothing, not with a per-sample random pipeline.')
        runner.logger.info(f'Resumed the random states of {world_size} process(es) and the '
                           f'sampler seed {state.get("sampler_seed")}.' + note)
