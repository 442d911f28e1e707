# PKU-MMD phase I, cross-subject, labelled data for the downstream protocols (51 classes);
# preprocessing as ntu60_xsub_cls.py. Prepare data/skeleton/pku_v1_3d.pkl with
# tools/data/pku_mmd_to_pkl.py (docs/data_preparation.md).
_base_ = ['./ntu60_xsub_cls.py']

ann_file = 'data/skeleton/pku_v1_3d.pkl'
train_dataloader = dict(dataset=dict(ann_file=ann_file, split='xsub_train'))
val_dataloader = dict(dataset=dict(ann_file=ann_file, split='xsub_val'))
test_dataloader = val_dataloader
