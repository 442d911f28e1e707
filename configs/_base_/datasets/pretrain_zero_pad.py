# Pre-training data path (MAMP's preprocessing) for datasets that pad a single actor with
# a zero second body (NTU-60, PKU-MMD), motion-aware masking with tau 0.80. Experiment
# configs set only the annotation file and split. Default: NTU-60 cross-subject; prepare
# data/skeleton/ntu60_3d.pkl as described in docs/data_preparation.md.
#
# The batched path: SkeletonClipDataset serves raw clips (MMAction2's PoseDataset reads
# the file and the split is validated at load), a data-loader worker stacks a batch into
# four tensors, and the augmentation and masking run on the training device in
# SkeletonPretrainPreprocessor (MMEngine's top-level `data_preprocessor`, given to the
# model). Every random draw is keyed on (seed, epoch, sample index): the same whatever the
# worker count, GPU count or restarts. The per-sample numpy transforms
# (CentreOnFirstFrame ... MotionAwareTokenMasking) are its tested reference; see
# docs/benchmarks.md for what each path costs.
dataset_type = 'SkeletonClipDataset'
ann_file = 'data/skeleton/ntu60_3d.pkl'
train_split = 'xsub_train'

data_preprocessor = dict(
    type='SkeletonPretrainPreprocessor',
    clip_len=120, p_interval=(0.5, 1.0), min_frames=64,   # valid crop + resize
    max_angle=0.3,                                        # random 3D rotation
    centre_joint=1,                                       # spine-middle of frame 0
    person_pad='zero',                                    # NTU-60: zero second body
    masking='motion_aware', mask_ratio=0.9, tau=0.80, patch_len=4)

train_dataloader = dict(
    batch_size=128,     # per GPU; the paper's recipe is 128 in total
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    drop_last=True,     # static shapes (torch.compile), as MAMP's loader
    collate_fn=dict(type='skeleton_clip_collate'),
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, ann_file=ann_file, split=train_split, num_person=2))
