# Pre-training data path (MAMP's preprocessing) for NTU-120, which duplicates a single
# actor into the second body, motion-aware masking with tau 0.75. Experiment configs set
# the split. Prepare data/skeleton/ntu120_3d.pkl as described in docs/data_preparation.md.
# The batched path as in pretrain_zero_pad.py.
_base_ = ['./pretrain_zero_pad.py']

ann_file = 'data/skeleton/ntu120_3d.pkl'
data_preprocessor = dict(person_pad='loop', tau=0.75)   # NTU-120: the actor is duplicated
train_dataloader = dict(dataset=dict(ann_file=ann_file))
