"""A training hook that watches the representations for collapse while GFP trains.

Self-supervised pre-training can fail without the loss saying so: the targets (or the
encoder) may map every input to nearly the same vector, and the prediction loss is then
easy to drive down. The hook measures, every ``interval`` iterations on the batch just
trained on, how much the features spread (:func:`feature_std`) and in how many
directions (:func:`effective_rank`).
"""
from typing import Dict, Optional

import torch
from mmaction.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.hooks.hook import DATA_BATCH
from mmengine.model import is_model_wrapper

from ...evaluation.feature_stats import effective_rank, feature_std

__all__ = ['CollapseMonitorHook']


@HOOKS.register_module()
class CollapseMonitorHook(Hook):
    """Logs the spread and effective rank of targets and encoder features during training.

    Every ``interval`` iterations (and after the first one, as the starting point) the hook
    runs, under ``torch.no_grad`` and in eval mode (so no random draw of training is
    consumed), the model's data preprocessor, target generator and encoder on the batch
    just trained on, and measures:

    * ``target{k}``: target level ``k`` of the target generator, ``(B, n_k, C_t)`` ->
      ``B * n_k`` rows (GFP's default: levels 0-2 are the local levels of 150 / 75 / 25
      tokens per person, level 3 the global one); models without a target generator
      (MAMP) have none;
    * ``encoder``: the encoder output on the visible tokens, ``(B, L_vis, D)`` ->
      ``B * L_vis`` rows;
    * ``encoder_pooled``: the same averaged over each person's tokens -> ``B`` rows.

    Rows of persons padded with zeros are left out. For each name it writes
    ``{prefix}/{name}_std`` and ``{prefix}/{name}_erank`` to every visualisation backend
    of the runner's visualizer (``vis_data/scalars.json``, TensorBoard, ...) at step
    ``iter + 1``, as MMEngine's ``LoggerHook`` does, and one line to the logger. The first
    time a name's std falls below ``std_threshold`` it logs a loud warning (once per name).
    In data-parallel training each process measures its own share of the batch (the
    model wrapper is taken off); rank 0's values are the ones logged.

    Args:
        interval (int): iterations between measurements. Defaults to 50.
        std_threshold (float): mean per-dimension std below which a feature set counts
            as collapsed (absolute, in feature units). On the synthetic demo the targets
            stay above 0.08 with the variance regulariser and fall to 0.01-0.02 without.
            Defaults to 0.05.
        prefix (str): tag prefix of the logged scalars. Defaults to ``'collapse'``.
    """

    priority = 'NORMAL'  # before LoggerHook (BELOW_NORMAL): its line follows ours

    def __init__(self, interval: int = 50, std_threshold: float = 0.05,
                 prefix: str = 'collapse'):
        if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
            raise ValueError(f'CollapseMonitorHook: interval must be an int >= 1, '
                             f'got {interval!r}')
        if not isinstance(std_threshold, (int, float)) or not std_threshold >= 0:
            raise ValueError(f'CollapseMonitorHook: std_threshold must be a number >= 0, '
                             f'got {std_threshold!r}')
        self.interval = interval
        self.std_threshold = float(std_threshold)
        self.prefix = prefix
        self.warned = set()

    @staticmethod
    def _unwrap(runner) -> torch.nn.Module:
        model = runner.model
        return model.module if is_model_wrapper(model) else model

    def before_train(self, runner) -> None:
        model = self._unwrap(runner)
        needs = ('data_preprocessor', 'masked_batch', 'backbone')
        missing = [name for name in needs if not hasattr(model, name)]
        if missing or not hasattr(model.backbone, 'forward_visible'):
            raise TypeError(
                f'CollapseMonitorHook watches masked skeleton pre-training models (GFP, '
                f'MAMP); {type(model).__name__} has no '
                f'{", ".join(missing) or "backbone.forward_visible"}. Remove the hook from '
                'custom_hooks for this model.')

    def after_train_iter(self, runner, batch_idx: int, data_batch: DATA_BATCH = None,
                         outputs: Optional[dict] = None) -> None:
        if data_batch is None or not (runner.iter == 0
                                      or self.every_n_train_iters(runner, self.interval)):
            return
        stats = self.measure(self._unwrap(runner), data_batch)
        step = runner.iter + 1
        scalars = {f'{self.prefix}/{name}_{key}': values[key]
                   for name, values in stats.items() for key in ('std', 'erank')}
        runner.visualizer.add_scalars(scalars, step=step)
        runner.logger.info(f'Collapse monitor (iter {step}): ' + ' | '.join(
            f'{name} std {v["std"]:.4g} erank {v["erank"]:.1f}/{v["dims"]}'
            for name, v in stats.items()))
        for name, values in stats.items():
            if values['std'] < self.std_threshold and name not in self.warned:
                self.warned.add(name)
                runner.logger.warning(self._warning(name, values, step))

    @torch.no_grad()
    def measure(self, model: torch.nn.Module, data_batch: dict) -> Dict[str, Dict[str, float]]:
        """Statistics of one batch.

        Args:
            model (torch.nn.Module): the unwrapped pre-training model.
            data_batch (dict): a batch as the train dataloader yields it.

        Returns:
            dict[str, dict[str, float]]: ``{name: dict(std=float, erank=float, dims=int)}``
            in the order target levels, ``encoder``, ``encoder_pooled``.
        """
        was_training = model.training
        model.eval()
        try:
            data = model.data_preprocessor(data_batch, True)
            joints, person_weight, mask, num_visible = model.masked_batch(
                data['inputs'], data['data_samples'])
            present = person_weight > 0
            features = {}
            generator = getattr(model, 'target_generator', None)
            if generator is not None:
                for k, level in enumerate(generator(joints)):  # (B, n_k, C_t)
                    features[f'target{k}'] = level[present].flatten(0, 1)
            latent, _ = model.backbone.forward_visible(joints, mask, num_visible)
            features['encoder'] = latent[present].flatten(0, 1)  # (B' * L_vis, D)
            features['encoder_pooled'] = latent[present].mean(dim=1)  # (B', D)
        finally:
            model.train(was_training)
        return {name: dict(std=feature_std(rows), erank=effective_rank(rows),
                           dims=rows.shape[1])
                for name, rows in features.items() if rows.shape[0] >= 2}

    def _warning(self, name: str, values: Dict[str, float], step: int) -> str:
        bar = '!' * 88
        what = ('the encoder output' if name.startswith('encoder')
                else f'target level {name[len("target"):]}')
        return '\n'.join([
            bar,
            f'COLLAPSE WARNING (iter {step}): {what} ({name}) has a mean per-dimension std '
            f'of {values["std"]:.3g}, below the threshold {self.std_threshold:g} '
            f'(effective rank {values["erank"]:.2f} of {values["dims"]} dims).',
            'Its features barely vary across the batch, so predicting them teaches the '
            'encoder little, however low the loss goes.',
            'Check the variance / covariance regulariser (model.head.regularizer and its '
            'weights), the learning rate and the data (are the clips all alike or all zero?).',
            f'This warning is shown once for {name}; its values keep being logged as '
            f'{self.prefix}/{name}_std and {self.prefix}/{name}_erank.',
            bar])
