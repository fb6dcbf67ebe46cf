"""Continuous training: new labeled batches -> validation -> monitoring -> retrain -> gate.

- :mod:`mlgate.ct.params`: the ``ct:`` section of ``params.yaml``.
- :mod:`mlgate.ct.batches`: batch discovery, the training window and the manifest of the
  batches the pipeline trained on (``data/batches.json``, written by the validate stage).
- :mod:`mlgate.ct.monitoring`: the production-performance log ``metrics/monitoring.json``.
- :mod:`mlgate.ct.cycle`: one cycle of ``mlgate ct`` (imports DVC and scikit-learn on demand).

Submodules are imported on demand.
"""
