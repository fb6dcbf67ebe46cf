"""Serving the deployed model: a GitOps-reconciling HTTP server with verified hot swaps.

The pointer in git (``deploy/production.yaml``) is the desired state. ``reconcile`` drives
the served model towards it (fetch by hash, verify, probe in a child process, load, swap
one reference); ``app`` answers requests with whatever is served at that instant;
``server`` runs both. Nothing heavy is imported here: a probe host started as its own
interpreter imports this package.

Modules: ``validation`` (request rows against the schema, pure), ``state`` (the swapped
reference), ``probe`` (the checks on a candidate), ``isolation`` (probes in worker
processes: a crash or a hang is a rejection), ``source`` (the followed repository),
``reconcile`` (the loop), ``metrics`` (Prometheus), ``app`` (ASGI), ``server`` (uvicorn).
"""

from __future__ import annotations
