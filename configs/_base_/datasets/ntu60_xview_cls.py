# NTU RGB+D 60, cross-view (cameras 2 and 3 train, camera 1 evaluates), labelled data for
# the downstream protocols; preprocessing as ntu60_xsub_cls.py.
_base_ = ['./ntu60_xsub_cls.py']

train_dataloader = dict(dataset=dict(split='xview_train'))
val_dataloader = dict(dataset=dict(split='xview_val'))
test_dataloader = val_dataloader
