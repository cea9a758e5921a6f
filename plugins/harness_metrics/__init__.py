"""Builtin metrics: ranking and threshold scores for binary anomaly labels.

The metric functions follow scikit-learn's conventions: ``f(y_true, y_score,
*, option=..., sample_weight=None)`` with keyword-only options, ``y_true`` in
{0, 1} where 1 is anomalous, and ``y_score`` where higher is more anomalous.
Every ``*_score`` is better when higher. Degenerate input (an empty set, a
class that a metric needs but that is missing) warns with
:class:`harness.uncertainty.UndefinedMetricWarning` and returns NaN;
malformed input (a non-finite score, a label outside {0, 1}) raises
:class:`ValueError`. Everything is computed in float64 whatever the input
dtype.

- :mod:`harness_metrics._ranking`: ``roc_auc_score``,
  ``average_precision_score``, ``tpr_at_fpr_score``, ``tnr_at_tpr_score``,
  ``positive_recall_at_negative_recall_score``, and ``ranking_metrics``,
  which computes several of them from one sort of the scores.
- :mod:`harness_metrics._classification`: ``precision_score``,
  ``recall_score``, ``f1_score`` and ``matthews_corrcoef`` of the scores
  binarised at a threshold.
- :mod:`harness_metrics.plugin`: registers all of them as metric plugins.
"""
