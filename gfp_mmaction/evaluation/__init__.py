from .retrieval_metric import NNRetrievalMetric, nearest_neighbour_accuracy

__all__ = ['NNRetrievalMetric', 'nearest_neighbour_accuracy']
