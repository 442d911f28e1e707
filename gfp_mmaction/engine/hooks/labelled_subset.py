"""Record the semi-supervised protocol's labelled subset in the work dir."""
import os.path as osp

from mmaction.registry import HOOKS
from mmengine.dist import is_main_process
from mmengine.hooks import Hook

__all__ = ['LabelledSubsetHook']


@HOOKS.register_module()
class LabelledSubsetHook(Hook):
    """Before training, writes the training set's labelled ``frame_dir``s to
    ``{work_dir}/{filename}`` (main process only).

    Args:
        filename (str): file name inside the work dir. Defaults to
            ``'labelled_subset.txt'``.
    """

    priority = 'VERY_LOW'

    def __init__(self, filename: str = 'labelled_subset.txt') -> None:
        self.filename = filename

    def before_train(self, runner) -> None:
        dataset = runner.train_dataloader.dataset
        while not hasattr(dataset, 'write_subset') and hasattr(dataset, 'dataset'):
            dataset = dataset.dataset  # through RepeatDataset / ClassBalancedDataset
        if not hasattr(dataset, 'write_subset'):
            raise TypeError('LabelledSubsetHook: the training dataset is a '
                            f'{type(dataset).__name__}, not a SemiSupervisedPoseDataset')
        if is_main_process():
            path = osp.join(runner.work_dir, self.filename)
            dataset.write_subset(path)
            runner.logger.info(f'labelled subset written to {path}')
