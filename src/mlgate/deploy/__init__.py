"""Continuous delivery, GitOps-style: the pointer file, release, rollback, history, pull-model.

- :mod:`mlgate.deploy.pointer`: the ``deploy/production.yaml`` format (parse, read, write).
- :mod:`mlgate.deploy.remote`: push, check and fetch model objects in the DVC remote.
- :mod:`mlgate.deploy.release`: ``release`` (and re-exports ``rollback``, ``history``, ``status``).
- :mod:`mlgate.deploy.pipeline`: is ``dvc.lock`` up to date at a commit.

Submodules are imported on demand (no DVC import here).
"""
