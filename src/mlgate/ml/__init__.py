"""Machine-learning pieces the pipeline stages call: dataset, split, estimators, evaluation."""
