"""``mlgate demo``: the whole CI/CD/CT loop in a sandbox, in about a minute.

- :mod:`mlgate.demo.sandbox`: copy the reference project, a bare ``origin``, the DVC remote,
  and batches of new data cut from the dataset (a drift injected part-way).
- :mod:`mlgate.demo.story`: the steps, printed with rich.
- :mod:`mlgate.demo.chart`: production metrics over the cycles (PNG and terminal).
"""
