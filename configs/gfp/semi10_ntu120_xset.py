# Semi-supervised evaluation of GFP on NTU-120 cross-setup:
# fine-tuning (finetune_ntu120_xset.py) on 10 % of the labelled training split. The subset is
# drawn once per `subset_seed`, stratified (every class keeps at least one sample), from
# the seed and the data only: the same on every rank and in every run with that seed.
# Its frame_dirs are written to WORK_DIR/labelled_subset.txt. Another draw:
#   --cfg-options train_dataloader.dataset.subset_seed=1
_base_ = ['./finetune_ntu120_xset.py']

labelled_fraction = 0.1
subset_seed = 0
train_dataloader = dict(
    dataset=dict(type='SemiSupervisedPoseDataset', labelled_fraction=labelled_fraction,
                 subset_seed=subset_seed))
custom_hooks = [dict(type='LabelledSubsetHook', filename='labelled_subset.txt')]
