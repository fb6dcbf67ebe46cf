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
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate.ct.batches import MANIFEST_PATH, list_batches, new_batches, read_batch, read_manifest
from mlgate.ct.monitoring import MONITORING_PATH, Record, append, read_log, write_log
from mlgate.ct.params import CtParams, require
from mlgate.errors import DataError, GitError, MlgateError
from mlgate.git import WORKTREE, Repo

if TYPE_CHECKING:
    import pandas as pd

    from mlgate.ci.forge import ForgeClient
    from mlgate.data.result import Thresholds
    from mlgate.data.validate import ValidationResult
    from mlgate.deploy.release import ReleaseResult
    from mlgate.deploy.rollback import RollbackResult
    from mlgate.gate import GateResult, Policy, Snapshot
    from mlgate.ml.dataset import DataParams
    from mlgate.ml.evaluation import EvaluateParams
    from mlgate.models import Model

FAILING = ("invalid_data", "rejected")
#: Gate checks that compare with the baseline: the post-deploy check rolls back only on these
#: (an absolute floor that both models miss on a hard batch is no reason to switch models).
REGRESSION_CHECKS = frozenset({"max_regression", "max_regression_rel", "slice_max_regression"})
_SEMVER = re.compile(r"^v(\d+)\.(\d+)\.(\d+)$")


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


@dataclass(frozen=True)
class BatchCheck:
    """The validation of one new batch (and a key overlap with the training data, if any)."""

    name: str
    result: ValidationResult
    overlap: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return self.result.passed and not self.overlap

    def problems(self) -> list[str]:
        """One line per violation: check, column, rows, message."""
        out = [
            f"{self.name}: {f.check} {f.column or ''}: {f.message}".replace("  ", " ")
            for f in self.result.violations
        ]
        if self.overlap:
            out.append(
                f"{self.name}: duplicate row_id: {len(self.overlap)} keys are already in the "
                f"training data (e.g. {', '.join(self.overlap[:5])})"
            )
        return out

    def log_lines(self, *, most: int = 10) -> list[str]:
        """The verdict, then each violation and warning by name (the first ``most``)."""
        problems = [f"violation: {f.describe()}" for f in self.result.violations] + [
            p.split(": ", 1)[1] for p in self.problems()[len(self.result.violations) :]
        ]
        warnings = [f"warning: {f.describe()}" for f in self.result.warnings]
        counts = [
            f"{n} {word}{'s' * (n != 1)}"
            for n, word in ((len(problems), "problem"), (len(warnings), "warning"))
            if n
        ]
        head = f"validate {self.name}: " + ("ok" if self.passed else "failed")
        head += f" ({', '.join(counts)})" if counts else ""
        details = [f"  {line}" for line in (*problems, *warnings)]
        if len(details) > most:
            left = len(details) - most
            details = [*details[:most], f"  (+{left} more: `mlgate ct --report FILE` lists all)"]
        return [head, *details]

    def to_json(self) -> dict[str, Any]:
        return {
            "batch": self.name,
            "passed": self.passed,
            "problems": self.problems(),
            "validation": self.result.to_metrics(),
        }


@dataclass(frozen=True)
class CycleResult:
    """What one cycle found and did; ``outcome`` is one of :data:`OUTCOMES`."""

    outcome: str
    mode: str
    dry_run: bool
    message: str
    new_batches: tuple[str, ...] = ()
    held_out: str | None = None
    held_out_rows: int = 0
    window: str = "all"
    checks: tuple[BatchCheck, ...] = ()
    production: str | None = None
    monitoring: Record | None = None
    predecessor: str | None = None
    post_deploy: GateResult | None = None
    gate: GateResult | None = None
    rollback: RollbackResult | None = None
    release: ReleaseResult | None = None
    pull_request: dict[str, Any] | None = None
    branch: str | None = None
    tag: str | None = None
    commits: tuple[str, ...] = ()
    report: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return 1 if self.outcome in FAILING else 0

    def to_json(self) -> dict[str, Any]:
        """The ``mlgate ct --json`` document (``schema_version`` 1)."""
        pr = self.pull_request or {}
        return {
            "schema_version": 1,
            "outcome": self.outcome,
            "mode": self.mode,
            "dry_run": self.dry_run,
            "message": self.message,
            "new_batches": list(self.new_batches),
            "window": self.window,
            "held_out": {"batch": self.held_out, "rows": self.held_out_rows}
            if self.held_out
            else None,
            "validation": [c.to_json() for c in self.checks],
            "production": self.production,
            "monitoring": self.monitoring.to_json() if self.monitoring else None,
            "post_deploy": {
                "predecessor": self.predecessor,
                "gate": self.post_deploy.to_json(),
            }
            if self.post_deploy is not None
            else None,
            "gate": self.gate.to_json() if self.gate is not None else None,
            "rollback": self.rollback.to_json() if self.rollback else None,
            "release": self.release.to_json() if self.release else None,
            "pull_request": {
                "number": pr.get("number"),
                "url": pr.get("html_url"),
                "branch": self.branch,
            }
            if self.pull_request is not None
            else None,
            "branch": self.branch,
            "tag": self.tag,
            "commits": list(self.commits),
        }


def next_patch(tags: list[str]) -> str:
    """The next patch version after the highest ``vX.Y.Z`` tag (``v0.1.0`` when none).

    >>> next_patch(["v1.0.0", "v1.1.0", "v1.0.9", "latest"])
    'v1.1.1'
    """
    versions = [tuple(int(x) for x in m.groups()) for t in tags if (m := _SEMVER.match(t))]
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
    def result(self, outcome: str, message: str, **kw: Any) -> CycleResult:
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
        default = self.repo.default_branch() or "main"
        return default.split("/", 1)[1] if default.startswith("origin/") else default

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

    def _model(self, pointer: Any, dest: Path) -> Any:
        from mlgate.ct.scoring import load_model
        from mlgate.deploy.remote import fetch_model

        return load_model(fetch_model(self.root, pointer, dest, remote=self.cfg.ct.remote))

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
        self, live: Snapshot, pointer: Any, batch: str, rows: int, new: list[str]
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
        from mlgate.deploy.history import history
        from mlgate.deploy.pointer import read_pointer
        from mlgate.gate import evaluate_snapshots

        c = self.cfg
        self.base = self._base_branch()
        self._check_tree()
        new = new_batches(list_batches(self.root, c.ct.source), read_manifest(self.repo, "HEAD"))
        if not new:
            self.log(f"no new data in {c.ct.source}/")
            return self.result("no_new_data", f"no new data in {c.ct.source}/")
        newest = new[-1]
        self.log(f"new batches in {c.ct.source}/: {', '.join(new)}")
        branch = branch_name(newest, self.now())
        if self.mode == "pr" and self.has_origin and not self.dry_run:
            stem = branch.split("-", 1)[1]
            pending = self.repo.remote_heads(self.git_remote, f"ct/*-{stem}")
            if pending:
                msg = f"a CT branch for {newest} is already at {self.git_remote}: {pending[0]}"
                self.log(msg)
                return self.result("pending", msg, new_batches=tuple(new), branch=pending[0])
        client = None
        if self.mode == "pr" and not self.dry_run:
            from mlgate.ci.forge import client_from_env, detect_forge

            client = (
                self.github()
                if self.github
                else client_from_env(detect_forge(self.environ), self.environ)
            )

        frames = {n: read_batch(self.root / self._batch_path(n)) for n in new}
        checks = self.validate(new, frames)
        common: dict[str, Any] = {"new_batches": tuple(new), "checks": tuple(checks)}
        for check in checks:
            for line in check.log_lines():
                self.log(line)
        if not all(ch.passed for ch in checks):
            bad = [p for ch in checks for p in ch.problems()]
            msg = bad[0] + (f" (+{len(bad) - 1} more)" if len(bad) > 1 else "")
            return self._finish(self.result("invalid_data", msg, **common))

        from mlgate.ct.scoring import held_out_rows

        rows = held_out_rows(frames[newest], c.data, source=self._batch_path(newest))
        common.update(held_out=newest, held_out_rows=len(rows))
        pointer = read_pointer(self.repo, WORKTREE, path=self.model.pointer)
        live: Snapshot | None = None
        with tempfile.TemporaryDirectory(prefix="mlgate-ct-") as tmp:
            if pointer is None:
                self.log("no model in production yet: the gate uses absolute rules only")
            else:
                live = self._snapshot(
                    self._model(pointer, Path(tmp) / "production.skops"),
                    rows,
                    pointer.commit,
                    pointer.version,
                )
                record = self.monitor(live, pointer, newest, len(rows), new)
                common.update(production=pointer.version, monitoring=record)
                self.log(f"monitoring: {pointer.version} on {newest}: " + _brief(record.metrics))

                entries = history(self.repo, path=self.model.pointer)
                prev = entries[1].pointer if len(entries) > 1 else None
                if entries and entries[0].kind == "deploy" and prev and prev != pointer:
                    before = self._snapshot(
                        self._model(prev, Path(tmp) / "previous.skops"),
                        rows,
                        prev.commit,
                        prev.version,
                    )
                    post = evaluate_snapshots(c.policy, baseline=before, candidate=live)
                    common.update(predecessor=prev.version, post_deploy=post)
                    if is_regression(post):
                        return self._roll_back(pointer.version, prev.version, common)
                    self.log(
                        f"post-deploy check: {pointer.version} holds up against {prev.version}"
                    )

            self.log(
                "retraining: dvc repro" + (" (then put back: dry run)" if self.dry_run else "")
            )
            with self._scratch():
                run_dvc(self.root, "repro", "--quiet")
                from mlgate.ct.scoring import load_model

                candidate = self._snapshot(
                    load_model(self.root / self.model.path), rows, WORKTREE, "retrained"
                )
        gate = evaluate_snapshots(c.policy, baseline=live, candidate=candidate)
        common.update(gate=gate, extra={"candidate": candidate, "production": live})
        self.log(
            f"gate (candidate vs {pointer.version if pointer else 'no baseline'}): {gate.verdict}"
        )
        if not gate.passed:
            if not self.dry_run:
                self.restore()
            fails = "; ".join(r.message for r in gate.failures[:3])
            return self._finish(self.result("rejected", f"gate failed: {fails}", **common))
        if self.dry_run:
            return self._finish(
                self.result(
                    "dry_run",
                    "the retrained model passes the gate; without --dry-run this cycle would "
                    + ("open a pull request" if self.mode == "pr" else "release it"),
                    **common,
                )
            )
        if self.mode == "pr":
            assert client is not None
            return self._open_pr(client, branch, new, common)
        return self._release(new, common)

    def _roll_back(self, live: str, prev: str, common: dict[str, Any]) -> CycleResult:
        if self.dry_run:
            msg = f"{live} does worse than {prev}; without --dry-run this cycle would roll back"
            return self._finish(self.result("rolled_back", msg, **common))
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
        return self._finish(self.result("rolled_back", msg, rollback=rb, **common))

    def _commit_retrain(self, new: list[str]) -> str:
        paths = self._pipeline_paths()
        self.repo.add(*paths)
        message = f"ct: retrain on {', '.join(new)} (window {self.cfg.ct.window_label})"
        sha = self.repo.commit(message, *paths)
        self.commits.append(sha)
        return sha

    def _open_pr(
        self, client: ForgeClient, branch: str, new: list[str], common: dict[str, Any]
    ) -> CycleResult:
        self.repo.checkout(branch, create=True)
        try:
            self._commit_retrain(new)
            if self.has_origin:
                self.repo.push(self.git_remote, f"{branch}:refs/heads/{branch}")
        finally:
            self.repo.checkout(self.base)
            self._dvc_checkout()
        draft = self.result("pr_opened", "", branch=branch, **common)
        body = render(draft)
        title = f"ct: retrain on {new[-1]}" + (f" (+{len(new) - 1} more)" if len(new) > 1 else "")
        with client:
            pr = client.create_pull_request(head=branch, base=self.base, title=title, body=body)
        msg = f"opened pull request #{pr.get('number')} from {branch}"
        self.log(msg)
        return self._finish(self.result("pr_opened", msg, branch=branch, pull_request=pr, **common))

    def _versions(self) -> list[str]:
        """The released versions of this cycle's model (``v1.2.0`` of ``NAME@v1.2.0``)."""
        from mlgate.models import parse_tag

        wanted = None if self.model.single else self.model.name
        tags = [parse_tag(t) for t in self.repo.tags("v*" if self.model.single else "*@v*")]
        return [t.version for t in tags if t is not None and t.name == wanted]

    def _release(self, new: list[str], common: dict[str, Any]) -> CycleResult:
        from mlgate.deploy.release import release

        sha = self._commit_retrain(new)
        tag = self.model.tag(next_patch(self._versions()))
        self.repo.create_tag(tag, sha)
        gate = common["gate"]
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
        return self._finish(self.result("released", msg, tag=tag, release=rel, **common))

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
