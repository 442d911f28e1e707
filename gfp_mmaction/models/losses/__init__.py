from .multi_level_mse import MultiLevelMSELoss
from .variance_covariance import (
    VarianceCovarianceLoss,
    all_reduce_sum,
    batch_covariances,
    covariance_loss,
    variance_loss,
)
from .weighting import expand_row_weight, weighted_mean

__all__ = [
    'MultiLevelMSELoss', 'VarianceCovarianceLoss', 'all_reduce_sum', 'batch_covariances',
    'covariance_loss', 'variance_loss', 'expand_row_weight', 'weighted_mean'
]
