# Retrieval with frozen GFP features on NTU-60 cross-view (paper: 87.1 top-1): every
# evaluation-split clip queries the training split; top-1 = the share of queries whose
# nearest training clip (cosine similarity of the pooled encoder features) has the same
# label. No training; the checkpoint argument is the pre-training checkpoint:
#   python tools/test.py configs/gfp/retrieval_ntu60_xview.py \
#       work_dirs/gfp_ntu60_xview/epoch_400.pth
_base_ = [
    '../_base_/models/gfp_retrieval.py', '../_base_/datasets/ntu60_xview_cls.py',
    '../_base_/default_runtime.py'
]

retrieval_pipeline = _base_.test_pipeline[:-1] + [
    dict(type='PackActionInputs', meta_keys=('frame_dir', 'retrieval_role'))
]
train_dataloader = None
val_dataloader = None
val_evaluator = None
test_dataloader = dict(
    dataset=dict(
        _delete_=True, type='RetrievalPoseDataset', ann_file=_base_.ann_file,
        gallery_split=_base_.train_dataloader.dataset.split,
        query_split=_base_.val_dataloader.dataset.split, pipeline=retrieval_pipeline,
        test_mode=True))
test_evaluator = [dict(type='NNRetrievalMetric', topk=(1, ))]
test_cfg = dict(type='TestLoop')
