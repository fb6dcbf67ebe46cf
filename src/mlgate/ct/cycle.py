"""One continuous-training cycle: what ``mlgate ct`` runs.

1. Find the batches in ``ct.source`` that ``data/batches.json`` at HEAD does not list;
   none: outcome ``no_new_data``.
2. Validate each new batch (schema and drift, :mod:`mlgate.data`); violations:
   ``invalid_data`` (exit 1), nothing changes.
3. Monitoring: score the live model (fetched by hash from the pointer) on the held-out
   rows of the newest batch, append to ``metrics/monitoring.json`` and commit that (with the
   new batch files) on the base branch, pushed, so the log is in git whatever comes next.
4. Post-deploy check: when the newest pointer change is a deploy, score its predecessor on
   the same rows and gate live against predecessor; a regression beyond the policy rolls
   back (:func:`mlgate.deploy.rollback.rollback`, pushed): ``rolled_back``.
5. Retrain (``dvc repro``), score the candidate on the same rows and gate it with
   production as the baseline; failing: ``rejected`` (exit 1), the workspace restored.
6. ``pr``: commit on ``ct/<date>-<batch>``, push, open a pull request with the report;
   ``release``: commit on the base branch, tag the next patch version, release it.

``dry_run`` stops before any commit, push, pull request or release, and leaves the tree
and the index as it found them (the retrained pipeline's files are put back).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

from mlgate.ct.batches import MANIFEST_PATH, list_batches, new_batches, read_batch, read_manifest
from mlgate.ct.monitoring import MONITORING_PATH, Record, append, read_log, write_log
from mlgate.ct.params import CtParams, require
from mlgate.ct.result import BatchCheck, CtOutcome, CycleResult, GateSnapshots
from mlgate.errors import DataError, GitError, MlgateError
from mlgate.git import WORKTREE, Repo

if TYPE_CHECKING:
    import pandas as pd

    from mlgate.ci.forge import ForgeClient
    from mlgate.data.result import Thresholds
    from mlgate.deploy.pointer import Pointer
    from mlgate.deploy.release import ReleaseResult
    from mlgate.deploy.rollback import RollbackResult
    from mlgate.gate import GateResult, Policy, Snapshot
    from mlgate.ml.dataset import DataParams
    from mlgate.ml.evaluation import EvaluateParams
    from mlgate.models import Model

#: Gate checks that compare with the baseline: the post-deploy check rolls back only on these
#: (an absolute floor that both models miss on a hard batch is no reason to switch models).
REGRESSION_CHECKS = frozenset({"max_regression", "max_regression_rel", "slice_max_regression"})


__all__ = [
    "BatchCheck",
    "Config",
    "CtOutcome",
    "CycleResult",
    "branch_name",
    "is_regression",
    "next_patch",
    "render",
    "run_cycle",
    "run_dvc",
]


class _Common(TypedDict, total=False):
    """The evidence a cycle gathers step by step; every result after a step carries it."""

    new_batches: tuple[str, ...]
    held_out: str
    held_out_rows: int
    checks: tuple[BatchCheck, ...]
    production: str
    monitoring: Record
    predecessor: str
    post_deploy: GateResult
    gate: GateResult
    snapshots: GateSnapshots


class _Fields(_Common, total=False):
    """:class:`CycleResult`'s optional fields: the evidence and what the last step did."""

    rollback: RollbackResult
    release: ReleaseResult
    pull_request: dict[str, Any]
    branch: str
    tag: str


def _quiet(message: str) -> None:
    """The default progress callback: say nothing."""


@dataclass(frozen=True)
class Config:
    """Everything a cycle reads from ``params.yaml``: its own ``ct:`` section (and the
    ``gate:`` policy), validated once. ``data`` and ``evaluate`` are built from ``ct:``."""

    ct: CtParams
    data: DataParams
    evaluate: EvaluateParams
    policy: Policy
    schema: str
    profile: str | None
    thresholds: Thresholds

    @classmethod
    def load(cls, repo: Repo) -> Config:
        from mlgate.config import Section, load_params
        from mlgate.data.validate import parse_settings
        from mlgate.gate import Policy, load_policy
        from mlgate.ml.dataset import DataParams
        from mlgate.ml.evaluation import EvaluateParams

        params = load_params(repo.root / "params.yaml")
        section = params.optional_section("ct")
        ct = CtParams.from_section(section)
        if ct.missing():
            require(ct, model=_example_model(repo))
        assert section is not None and ct.holdout is not None  # require() checked them
        assert ct.label is not None and ct.id_column is not None and ct.schema is not None
        scoring = {k: section.data[k] for k in ("threshold", "slices") if k in ct.given}
        drift = section.optional_section("drift")
        if drift is not None:
            drift.check_keys(["psi", "ks", "psi_floor", "columns"])
        gate = params.optional_section("gate")
        return cls(
            ct=ct,
            data=DataParams(
                path=ct.reference or "",
                target=ct.label,
                id_column=ct.id_column,
                eval_fraction=ct.holdout.fraction,
                split_seed=ct.holdout.seed,
            ),
            evaluate=EvaluateParams.from_section(Section(scoring, file=section.file, where="ct")),
            policy=load_policy(gate) if gate is not None else Policy(source="params.yaml"),
            schema=ct.schema,
            profile=ct.profile,
            thresholds=parse_settings(drift).thresholds,
        )


def _example_model(repo: Repo) -> str:
    """The model name to show in the example of a missing ``ct:`` key."""
    from mlgate.models import declared_models

    try:
        models = declared_models(repo)
    except MlgateError:
        return "my-model"
    return models[0].name if models else "my-model"


def next_patch(tags: list[str]) -> str:
    """The next patch version after the highest ``vX.Y.Z`` tag (``v0.1.0`` when none).

    >>> next_patch(["v1.0.0", "v1.1.0", "v1.0.9", "latest"])
    'v1.1.1'
    """
    from mlgate.models import VERSION

    matches = [m for t in tags if (m := VERSION.match(t)) and m[4] is None and m[5] is None]
    versions = [(int(m[1]), int(m[2]), int(m[3])) for m in matches]
    if not versions:
        return "v0.1.0"
    major, minor, patch = max(versions)
    return f"v{major}.{minor}.{patch + 1}"


def branch_name(batch: str, when: datetime) -> str:
    """``ct/<yyyymmdd>-<batch stem>``, safe as a git ref.

    >>> branch_name("batch 3.csv", datetime(2026, 11, 25))
    'ct/20261125-batch-3'
    """
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(batch).stem).strip("-.") or "batch"
    return f"ct/{when:%Y%m%d}-{stem}"


def is_regression(result: GateResult) -> bool:
    """True when a check against the baseline failed (the post-deploy rollback rule)."""
    return any(r.status == "fail" and r.check in REGRESSION_CHECKS for r in result.rules)


def run_dvc(root: Path, *args: str, check: bool = True) -> str | None:
    """Run ``dvc ARGS`` in ``root``; a failure raises with the tail of its output
    (``check=False``: returns None instead)."""
    proc = subprocess.run(
        [sys.executable, "-m", "dvc", *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
        # stages run `python stages/...`: the interpreter mlgate runs in comes first on PATH
        env={
            **os.environ,
            "DVC_NO_ANALYTICS": "1",
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        },
    )
    if proc.returncode != 0:
        if not check:
            return None
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-6:])
        raise DataError(f"dvc {' '.join(args)} failed in {root} (exit {proc.returncode}):\n{tail}")
    return proc.stdout


class _Cycle:
    """The state one cycle carries between its steps (private: use :func:`run_cycle`)."""

    def __init__(
        self,
        repo: Repo,
        *,
        mode: str | None,
        dry_run: bool,
        environ: Mapping[str, str],
        now: Callable[[], datetime],
        log: Callable[[str], None],
        git_remote: str,
        github: Callable[[], ForgeClient] | None,
    ) -> None:
        self.repo, self.root = repo, repo.root
        self.cfg = Config.load(repo)
        from mlgate.models import pick_model

        self.model: Model = pick_model(repo, self.cfg.ct.model)
        self.mode = mode or self.cfg.ct.mode
        self.dry_run, self.environ, self.now, self.log = dry_run, environ, now, log
        self.git_remote = git_remote
        self.github = github
        self.has_origin = repo.has_remote(git_remote)
        self.commits: list[str] = []
        self.base = ""

    # -- helpers ------------------------------------------------------------------------------
    def result(self, outcome: CtOutcome, message: str, **kw: Unpack[_Fields]) -> CycleResult:
        return CycleResult(
            outcome=outcome,
            mode=self.mode,
            dry_run=self.dry_run,
            message=message,
            window=self.cfg.ct.window_label,
            commits=tuple(self.commits),
            **kw,
        )

    def _base_branch(self) -> str:
        if self.cfg.ct.base_branch:
            return self.cfg.ct.base_branch
        return self.repo.default_branch_name() or "main"

    def _check_tree(self) -> None:
        branch = self.repo.current_branch()
        if branch != self.base:
            raise GitError(
                f"on {branch or 'a detached HEAD'}; run `mlgate ct` on {self.base} "
                f"(`git checkout {self.base}`), or set ct.base_branch in params.yaml"
            )
        if not self.dry_run and not self.repo.is_clean():
            raise GitError(
                "the working tree has uncommitted changes; commit or stash them before `mlgate ct`"
            )

    def _push_base(self) -> None:
        if self.has_origin:
            self.repo.push(self.git_remote, f"HEAD:refs/heads/{self.base}")

    def _batch_path(self, name: str) -> str:
        return f"{self.cfg.ct.source}/{name}"

    def _model(self, pointer: Pointer, dest: Path) -> Any:
        from mlgate.ct.scoring import load_model
        from mlgate.deploy.pointer import servable
        from mlgate.deploy.remote import fetch_model

        # a directory model is scored through its one skops file (ConfigError otherwise)
        one = servable(pointer)
        return load_model(fetch_model(self.root, one, dest, remote=self.cfg.ct.remote))

    def _snapshot(self, estimator: Any, rows: pd.DataFrame, rev: str, label: str) -> Snapshot:
        from mlgate.ct.scoring import snapshot

        c = self.cfg
        return snapshot(
            estimator,
            rows,
            data=c.data,
            evaluate=c.evaluate,
            policy=c.policy,
            rev=rev,
            label=label,
        )

    # -- step 2: validation -------------------------------------------------------------------
    def validate(self, new: list[str], frames: dict[str, pd.DataFrame]) -> list[BatchCheck]:
        from mlgate.data.validate import load_inputs, validate_file

        c = self.cfg
        schema, profile = load_inputs(
            str(self.root / c.schema), str(self.root / c.profile) if c.profile else None
        )
        # a batch is a part of the data: the schema's row-count range is for the whole table
        schema = replace(schema, min_rows=None, max_rows=None)
        known = self._training_ids()
        checks = []
        for name in new:
            result = validate_file(
                str(self.root / self._batch_path(name)),
                schema=schema,
                profile=profile,
                thresholds=c.thresholds,
            )
            result = replace(result, source=self._batch_path(name))  # relative, for the report
            ids = frames[name][self.cfg.data.id_column].astype(str)
            overlap = tuple(sorted(set(ids) & known))
            known |= set(ids)
            checks.append(BatchCheck(name, result, overlap))
        return checks

    def _training_ids(self) -> set[str]:
        from mlgate.ml.dataset import read_table

        ids: set[str] = set()
        if self.cfg.data.path:  # ct.reference: the data trained on besides the batches
            table = read_table(str(self.root / self.cfg.data.path))
            ids = set(table[self.cfg.data.id_column].astype(str))
        manifest = read_manifest(self.repo, "HEAD")
        for name in manifest.trained if manifest else ():
            path = self.root / self._batch_path(name)
            if path.is_file():
                ids |= set(read_batch(path)[self.cfg.data.id_column].astype(str))
        return ids

    # -- step 3: monitoring ---------------------------------------------------------------------
    def monitor(
        self, live: Snapshot, pointer: Pointer, batch: str, rows: int, new: list[str]
    ) -> Record:
        from mlgate.deploy.pointer import format_time

        record = Record(
            time=format_time(self.now()),
            version=pointer.version,
            commit=pointer.commit,
            batch=batch,
            rows=rows,
            metrics={k: round(v, 6) for k, v in live.metrics[self.cfg.policy.metrics_file].items()},
        )
        path = self.root / MONITORING_PATH
        records = read_log(path)
        if records and (records[-1].version, records[-1].batch) == (pointer.version, batch):
            return records[-1]  # a rerun of the same cycle (e.g. after a rejection): logged already
        if not self.dry_run:  # a dry run reports the record and writes nothing
            write_log(path, append(records, record))
            paths = [MONITORING_PATH] + [
                self._batch_path(n) for n in new if not self.repo.is_ignored(self._batch_path(n))
            ]
            self.repo.add(*paths)
            self.commits.append(
                self.repo.commit(f"ct: monitor {pointer.version} on {batch}", *paths)
            )
            self._push_base()
        return record

    # -- step 5: retrain ------------------------------------------------------------------------
    def _pipeline_paths(self) -> list[str]:
        source = self.cfg.ct.source + "/"
        return [
            p
            for p in self.repo.changed_paths()
            if p in ("dvc.lock", MANIFEST_PATH) or p.startswith(("metrics/", source))
        ]

    def restore(self) -> None:
        """Put the pipeline's files back as they are at HEAD (after a rejected candidate)."""
        self.repo.restore_paths("HEAD", *self._pipeline_paths())
        self._dvc_checkout()

    def _scratch(self) -> AbstractContextManager[None]:
        """Where ``dvc repro`` runs: a dry run puts every pipeline file back afterwards."""
        if not self.dry_run:
            return nullcontext()
        from mlgate.ct.preserve import pipeline_files, preserved

        return preserved(self.root, pipeline_files(self.root))

    def _dvc_checkout(self) -> None:
        """Outputs back as ``dvc.lock`` at HEAD says, when the DVC cache has them (a fresh CI
        runner that never pulled does not: then only say so)."""
        if run_dvc(self.root, "checkout", "--force", "--quiet", check=False) is None:
            self.log(f"note: DVC outputs differ from {self.base}; `dvc pull` to restore them")

    # -- the cycle ------------------------------------------------------------------------------
    def run(self) -> CycleResult:
        """The steps of the module docstring, in order; each may end the cycle."""
        from mlgate.ct.scoring import held_out_rows
        from mlgate.deploy.pointer import read_pointer

        self.base = self._base_branch()
        self._check_tree()
        source = self.cfg.ct.source
        new = new_batches(list_batches(self.root, source), read_manifest(self.repo, "HEAD"))
        if not new:
            self.log(f"no new data in {source}/")
            return self.result(CtOutcome.NO_NEW_DATA, f"no new data in {source}/")
        newest = new[-1]
        self.log(f"new batches in {source}/: {', '.join(new)}")
        branch = branch_name(newest, self.now())
        if (pending := self._pending(branch, new)) is not None:
            return pending
        client = self._forge_client()

        frames = {n: read_batch(self.root / self._batch_path(n)) for n in new}
        common: _Common = {"new_batches": tuple(new)}
        if (invalid := self._validate_new(new, frames, common)) is not None:
            return invalid

        rows = held_out_rows(frames[newest], self.cfg.data, source=self._batch_path(newest))
        common["held_out"], common["held_out_rows"] = newest, len(rows)
        pointer = read_pointer(self.repo, WORKTREE, path=self.model.pointer)
        live: Snapshot | None = None
        with tempfile.TemporaryDirectory(prefix="mlgate-ct-") as tmp:
            if pointer is None:
                self.log("no model in production yet: the gate uses absolute rules only")
            else:
                live = self._monitor_live(pointer, rows, new, Path(tmp), common)
                rolled = self._post_deploy_check(pointer, live, rows, Path(tmp), common)
                if rolled is not None:
                    return rolled
            candidate = self._retrain(rows)
        return self._decide(
            GateSnapshots(candidate, live), pointer, client, branch=branch, new=new, common=common
        )

    # -- step 1: a CT branch already pushed, the forge client ------------------------------------
    def _pending(self, branch: str, new: list[str]) -> CycleResult | None:
        """``pending`` when a CT branch for the newest batch is already at the remote."""
        if not (self.mode == "pr" and self.has_origin and not self.dry_run):
            return None
        stem = branch.split("-", 1)[1]
        pending = self.repo.remote_heads(self.git_remote, f"ct/*-{stem}")
        if not pending:
            return None
        msg = f"a CT branch for {new[-1]} is already at {self.git_remote}: {pending[0]}"
        self.log(msg)
        return self.result(CtOutcome.PENDING, msg, new_batches=tuple(new), branch=pending[0])

    def _forge_client(self) -> ForgeClient | None:
        """The forge's client when this cycle may open a pull request (built before any work,
        so missing credentials stop the cycle early)."""
        if self.mode != "pr" or self.dry_run:
            return None
        if self.github:
            return self.github()
        from mlgate.ci.forge import client_from_env, detect_forge

        return client_from_env(detect_forge(self.environ), self.environ)

    # -- step 2: validation -----------------------------------------------------------------------
    def _validate_new(
        self, new: list[str], frames: dict[str, pd.DataFrame], common: _Common
    ) -> CycleResult | None:
        """Validate the new batches and log each verdict; ``invalid_data`` when one fails."""
        checks = self.validate(new, frames)
        common["checks"] = tuple(checks)
        for check in checks:
            for line in check.log_lines():
                self.log(line)
        if all(ch.passed for ch in checks):
            return None
        bad = [p for ch in checks for p in ch.problems()]
        msg = bad[0] + (f" (+{len(bad) - 1} more)" if len(bad) > 1 else "")
        return self._finish(self.result(CtOutcome.INVALID_DATA, msg, **common))

    # -- steps 3 and 4: the live model on the new rows ------------------------------------------
    def _monitor_live(
        self, pointer: Pointer, rows: pd.DataFrame, new: list[str], tmp: Path, common: _Common
    ) -> Snapshot:
        """Score the live model on the held-out rows and log (and commit) the record."""
        live = self._snapshot(
            self._model(pointer, tmp / "production.skops"), rows, pointer.commit, pointer.version
        )
        record = self.monitor(live, pointer, new[-1], len(rows), new)
        common["production"], common["monitoring"] = pointer.version, record
        self.log(f"monitoring: {pointer.version} on {new[-1]}: " + _brief(record.metrics))
        return live

    def _post_deploy_check(
        self, pointer: Pointer, live: Snapshot, rows: pd.DataFrame, tmp: Path, common: _Common
    ) -> CycleResult | None:
        """After a deploy: gate live against its predecessor; a regression rolls back."""
        from mlgate.deploy.history import history
        from mlgate.gate import evaluate_snapshots

        entries = history(self.repo, path=self.model.pointer)
        prev = entries[1].pointer if len(entries) > 1 else None
        if not (entries and entries[0].kind == "deploy" and prev and prev != pointer):
            return None
        before = self._snapshot(
            self._model(prev, tmp / "previous.skops"), rows, prev.commit, prev.version
        )
        post = evaluate_snapshots(self.cfg.policy, baseline=before, candidate=live)
        common["predecessor"], common["post_deploy"] = prev.version, post
        if is_regression(post):
            return self._roll_back(pointer.version, prev.version, common)
        self.log(f"post-deploy check: {pointer.version} holds up against {prev.version}")
        return None

    # -- step 5: retrain and gate -----------------------------------------------------------------
    def _retrain(self, rows: pd.DataFrame) -> Snapshot:
        """``dvc repro`` (put back afterwards in a dry run) and the candidate's snapshot."""
        from mlgate.ct.scoring import load_model

        self.log("retraining: dvc repro" + (" (then put back: dry run)" if self.dry_run else ""))
        with self._scratch():
            run_dvc(self.root, "repro", "--quiet")
            return self._snapshot(
                load_model(self.root / self.model.path), rows, WORKTREE, "retrained"
            )

    def _decide(
        self,
        snapshots: GateSnapshots,
        pointer: Pointer | None,
        client: ForgeClient | None,
        *,
        branch: str,
        new: list[str],
        common: _Common,
    ) -> CycleResult:
        """Gate the candidate against production; then reject, report (dry run), open a pull
        request or release (step 6)."""
        from mlgate.gate import evaluate_snapshots

        gate = evaluate_snapshots(
            self.cfg.policy, baseline=snapshots.production, candidate=snapshots.candidate
        )
        common["gate"], common["snapshots"] = gate, snapshots
        self.log(
            f"gate (candidate vs {pointer.version if pointer else 'no baseline'}): {gate.verdict}"
        )
        if not gate.passed:
            if not self.dry_run:
                self.restore()
            fails = "; ".join(r.message for r in gate.failures[:3])
            return self._finish(self.result(CtOutcome.REJECTED, f"gate failed: {fails}", **common))
        if self.dry_run:
            msg = "the retrained model passes the gate; without --dry-run this cycle would " + (
                "open a pull request" if self.mode == "pr" else "release it"
            )
            return self._finish(self.result(CtOutcome.DRY_RUN, msg, **common))
        if self.mode == "pr":
            assert client is not None
            return self._open_pr(client, branch, new, common)
        return self._release(new, gate, common)

    def _roll_back(self, live: str, prev: str, common: _Common) -> CycleResult:
        if self.dry_run:
            msg = f"{live} does worse than {prev}; without --dry-run this cycle would roll back"
            return self._finish(self.result(CtOutcome.ROLLED_BACK, msg, **common))
        from mlgate.deploy.rollback import rollback

        self.log(f"post-deploy check: {live} does worse than {prev}: rolling back")
        rb = rollback(
            self.repo,
            push=self.has_origin,
            remote=self.cfg.ct.remote,
            git_remote=self.git_remote,
            path=self.model.pointer,
        )
        self.commits.append(rb.rollback_commit)
        msg = f"rolled back {live} -> {prev}: {live} does worse than {prev} on new data"
        return self._finish(self.result(CtOutcome.ROLLED_BACK, msg, rollback=rb, **common))

    def _commit_retrain(self, new: list[str]) -> str:
        paths = self._pipeline_paths()
        self.repo.add(*paths)
        message = f"ct: retrain on {', '.join(new)} (window {self.cfg.ct.window_label})"
        sha = self.repo.commit(message, *paths)
        self.commits.append(sha)
        return sha

    def _open_pr(
        self, client: ForgeClient, branch: str, new: list[str], common: _Common
    ) -> CycleResult:
        self.repo.checkout(branch, create=True)
        try:
            self._commit_retrain(new)
            if self.has_origin:
                self.repo.push(self.git_remote, f"{branch}:refs/heads/{branch}")
        finally:
            self.repo.checkout(self.base)
            self._dvc_checkout()
        draft = self.result(CtOutcome.PR_OPENED, "", branch=branch, **common)
        body = render(draft)
        title = f"ct: retrain on {new[-1]}" + (f" (+{len(new) - 1} more)" if len(new) > 1 else "")
        with client:
            pr = client.create_pull_request(head=branch, base=self.base, title=title, body=body)
        msg = f"opened pull request #{pr.get('number')} from {branch}"
        self.log(msg)
        return self._finish(
            self.result(CtOutcome.PR_OPENED, msg, branch=branch, pull_request=pr, **common)
        )

    def _versions(self) -> list[str]:
        """The released versions of this cycle's model (``v1.2.0`` of ``NAME@v1.2.0``)."""
        from mlgate.models import parse_tag

        wanted = None if self.model.single else self.model.name
        tags = [parse_tag(t) for t in self.repo.tags("v*" if self.model.single else "*@v*")]
        return [t.version for t in tags if t is not None and t.name == wanted]

    def _release(self, new: list[str], gate: GateResult, common: _Common) -> CycleResult:
        from mlgate.deploy.release import release

        sha = self._commit_retrain(new)
        tag = self.model.tag(next_patch(self._versions()))
        self.repo.create_tag(tag, sha)
        try:
            rel = release(
                self.repo,
                tag,
                remote=self.cfg.ct.remote,
                push=self.has_origin,
                git_remote=self.git_remote,
                model=self.model.name,
                gate=lambda *_a, **_k: gate,  # already decided on the held-out batch
            )
        except MlgateError:
            self.repo.run("tag", "-d", tag, check=False)
            raise
        if rel.deploy_commit:
            self.commits.append(rel.deploy_commit)
        if self.has_origin:
            self.repo.push(self.git_remote, f"refs/tags/{tag}")
        msg = f"released {tag} (retrained on {', '.join(new)})"
        self.log(msg)
        return self._finish(self.result(CtOutcome.RELEASED, msg, tag=tag, release=rel, **common))

    def _finish(self, result: CycleResult) -> CycleResult:
        return replace(result, report=render(result))


def _brief(metrics: Mapping[str, float]) -> str:
    keys = [k for k in ("roc_auc", "f1", "accuracy", "log_loss") if k in metrics]
    return ", ".join(f"{k} {metrics[k]:.4f}" for k in keys)


def run_cycle(
    repo: Repo,
    *,
    mode: str | None = None,
    dry_run: bool = False,
    environ: Mapping[str, str] | None = None,
    now: Callable[[], datetime] | None = None,
    log: Callable[[str], None] = _quiet,
    git_remote: str = "origin",
    github: Callable[[], ForgeClient] | None = None,
) -> CycleResult:
    """Run one CT cycle in ``repo`` (see the module docstring); returns what happened.

    ``mode`` overrides ``ct.mode``; ``github`` builds the forge's client (default: from
    ``environ``, see :mod:`mlgate.ci.forge`: GitHub's GITHUB_TOKEN, GITHUB_REPOSITORY and
    GITHUB_API_URL, or in GitLab CI GITLAB_TOKEN, CI_PROJECT_ID, CI_API_V4_URL); ``log``
    receives one line per step. Results (no new data, invalid data, rejected, ...) are
    returned; broken input, git or remote failures raise :class:`~mlgate.errors.MlgateError`.
    """
    cycle = _Cycle(
        repo,
        mode=mode,
        dry_run=dry_run,
        environ=os.environ if environ is None else environ,
        now=now or (lambda: datetime.now(UTC)),
        log=log,
        git_remote=git_remote,
        github=github,
    )
    return cycle.run()


def render(result: CycleResult) -> str:
    """The Markdown report of a cycle (imported here to keep one public entry point)."""
    from mlgate.ct.report import render_markdown

    return render_markdown(result)
