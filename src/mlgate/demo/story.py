"""The demo's steps: release, a pull request with its gate, CT cycles, history, a chart.

Every step calls the same library functions as the commands (``release``, the gate, the
report, ``run_cycle``, ``history``), on a real git repository with a bare ``origin`` and a
real DVC remote; ``console`` (rich) receives the story.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from mlgate.demo.sandbox import Sandbox
    from mlgate.git import Repo

DEMO_IDENTITY = {
    "GIT_AUTHOR_NAME": "mlgate demo",
    "GIT_AUTHOR_EMAIL": "demo@mlgate.invalid",
    "GIT_COMMITTER_NAME": "mlgate demo",
    "GIT_COMMITTER_EMAIL": "demo@mlgate.invalid",
}


@dataclass
class DemoResult:
    """What the demo did: the sandbox, the CT outcomes and the pull requests' gate verdicts in
    order, files written, wall time."""

    root: Path
    outcomes: list[str] = field(default_factory=list)
    verdicts: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    seconds: float = 0.0


class _Story:
    def __init__(self, box: Sandbox, repo: Repo, console: Console, env: dict[str, str]) -> None:
        self.box, self.repo, self.console, self.env = box, repo, console, env
        self.step = 0
        self.result = DemoResult(box.root)

    def title(self, text: str) -> None:
        self.step += 1
        self.console.rule(f"[bold]Step {self.step}: {text}", align="left")

    def say(self, text: str) -> None:
        self.console.print(text, soft_wrap=True, highlight=False)

    def dvc_repro(self) -> None:
        from mlgate.ct.cycle import run_dvc

        started = time.monotonic()
        run_dvc(self.repo.root, "repro", "--quiet")
        self.say(f"  dvc repro: validate -> train -> evaluate ({time.monotonic() - started:.0f} s)")

    def commit_all(self, message: str) -> str:
        self.repo.run("add", "-A")
        return self.repo.commit(message)

    def release(self, tag: str) -> None:
        from mlgate.deploy.release import release

        self.repo.create_tag(tag)
        result = release(self.repo, tag, push=True)
        if result.outcome != "released" or result.pointer is None:
            from mlgate.errors import MlgateError

            raise MlgateError(f"demo: release {tag} did not go through ({result.outcome})")
        m = result.pointer.metrics
        shown = ("rmse", "r2") if "rmse" in m else ("roc_auc", "f1")
        self.say(
            f"  [green]released {tag}[/]: pointer commit 'deploy: {tag}' pushed to origin, model "
            f"in the DVC remote (sha256 {result.pointer.model.sha256[:12]}); "
            + ", ".join(f"{name} {m.get(name, 0):.4f}" for name in shown)
        )

    def set_param(self, key: str, old: str, new: str) -> None:
        path = self.repo.root / "params.yaml"
        text = path.read_text()
        line = f"  {key}: {old}"
        if line not in text:
            from mlgate.errors import ConfigError

            raise ConfigError(f"demo: params.yaml has no line {line!r}")
        path.write_text(text.replace(line, f"  {key}: {new}", 1))

    # -- the steps --------------------------------------------------------------------------
    def first_release(self, model: str = "logistic_regression") -> None:
        self.title("reproduce the pipeline and release v1.0.0")
        self.say(f"  params.yaml train.model: {model}")
        self.dvc_repro()
        self.commit_all("reproduce the pipeline")
        self.release("v1.0.0")

    def gated_branch(self, branch: str, key: str, old: str, new: str, message: str) -> str:
        """Branch off, change one param, reproduce, push; the gate and the PR report of
        ``main`` -> the branch. Returns the verdict."""
        from mlgate.gate import evaluate_revisions
        from mlgate.gate.collect import collect
        from mlgate.report.markdown import render_report
        from mlgate.report.terminal import render_gate

        self.repo.checkout(branch, create=True)
        self.set_param(key, old, new)
        self.say(f"  branch {branch}: params.yaml {key}: {new}")
        self.dvc_repro()
        self.commit_all(message)
        self.repo.push("origin", branch)
        result = evaluate_revisions(self.repo, baseline="main", candidate="HEAD")
        render_gate(self.console, result)
        report = self.box.reports / f"pr-{branch}.md"
        report.write_text(render_report(collect(self.repo, baseline="main", candidate="HEAD")))
        self.result.files.append(report)
        self.result.verdicts.append(result.verdict)
        self.say(f"  gate verdict: [bold]{result.verdict}[/]; PR report: {report}")
        return result.verdict

    def pull_request(self) -> None:
        self.title("a pull request: try a random forest")
        self.gated_branch(
            "try-random-forest",
            "model",
            "logistic_regression",
            "random_forest",
            "train a random forest",
        )

        self.title("merge the pull request and release v1.1.0")
        self.repo.checkout("main")
        self.repo.run(
            "merge", "--quiet", "--no-ff", "-m", "Merge try-random-forest", "try-random-forest"
        )
        self.repo.push("origin", "main")
        from mlgate.ct.cycle import run_dvc

        run_dvc(self.repo.root, "checkout", "--force", "--quiet")
        self.release("v1.1.0")

    def cycle(self, batch: str, story: str) -> str:
        from mlgate.ct.cycle import run_cycle

        self.title(f"continuous training: {batch} arrives ({story})")
        shutil.copy2(self.box.queue / batch, self.box.incoming / batch)
        result = run_cycle(
            self.repo, mode="release", environ=self.env, log=lambda line: self.say(f"  ct: {line}")
        )
        colour = {"released": "green", "rolled_back": "yellow"}.get(result.outcome, "red")
        self.say(f"  [bold {colour}]{result.outcome}[/]: {result.message}")
        report = self.box.reports / f"ct-{self.step:02d}-{batch.rsplit('.', 1)[0]}.md"
        report.write_text(result.report)
        self.result.files.append(report)
        self.result.outcomes.append(result.outcome)
        return result.outcome

    def quarantine(self, batch: str) -> None:
        target = self.box.root / "quarantine"
        target.mkdir(exist_ok=True)
        shutil.move(str(self.box.incoming / batch), target / batch)
        self.say(f"  a person moves {batch} to {target}/ (fix the export, send it again)")

    def back_to_logistic(self) -> None:
        self.title("the team switches back to logistic regression")
        self.set_param("model", "random_forest", "logistic_regression")
        self.repo.commit(
            "train.model: logistic_regression (the forest fails on the new scanner)", "params.yaml"
        )
        self.repo.push("origin", "main")
        self.say("  params.yaml train.model: logistic_regression, committed to main")

    def history(self) -> None:
        from rich.table import Table

        from mlgate.deploy.history import history
        from mlgate.deploy.render import history_rows

        self.title("mlgate history: the deployment log is git history")
        entries = history(self.repo)
        header, rows = history_rows(entries)
        keep = [i for i, name in enumerate(header) if name not in ("model sha256", "date (UTC)")][
            :7
        ]
        table = Table()
        for name in [*[header[i] for i in keep[:3]], "by", *[header[i] for i in keep[3:]]]:
            table.add_column(name, no_wrap=True)
        for row, entry in zip(rows, entries, strict=True):
            # CT's deploys release a "ct: retrain" commit; its rollbacks follow a "ct: monitor"
            made = entry.pointer.commit if entry.kind == "deploy" and entry.pointer else None
            if entry.kind == "rollback":
                made = f"{entry.change_commit}^"
            subject = self.repo.out("log", "-1", "--format=%s", made) if made else ""
            by = "ct" if subject.startswith("ct:") else "person"
            style = {"deploy": "green", "rollback": "yellow"}.get(entry.kind)
            cells = [row[i] for i in keep]
            table.add_row(*cells[:3], by, *cells[3:], style=style)
        self.console.print(table)

    def chart(self) -> None:
        from mlgate.ct.monitoring import MONITORING_PATH, read_log
        from mlgate.demo.chart import terminal_lines, write_png
        from mlgate.extras import has

        self.title("production metrics over the cycles (metrics/monitoring.json)")
        records = read_log(self.repo.root / MONITORING_PATH)
        for line in terminal_lines(records):
            self.say(f"  {line}")
        if not has("demo"):  # the terminal chart above is the whole chart without matplotlib
            # rich markup: a backslash keeps [demo] from being read as a style tag
            self.say("  chart: in the terminal only; pip install 'mlgate\\[demo]' for a PNG")
            return
        png = write_png(records, self.box.root / "production-metrics.png")
        self.result.files.append(png)
        self.say(f"  chart: {png}")


def run_regression(story: _Story) -> None:
    """The regression story: release a ridge model, then two pull requests the gate tells
    apart: a random forest (worse, within the noise of the eval rows: inconclusive, a
    warning) and a ridge regularised 300 times harder (worse beyond the noise: fail)."""
    from mlgate.ct.cycle import run_dvc

    story.first_release("ridge")
    story.title("a pull request: try a random forest (regression gate: rmse, mae, r2)")
    story.gated_branch(
        "try-random-forest", "model", "ridge", "random_forest", "train a random forest"
    )
    story.repo.checkout("main")
    run_dvc(story.repo.root, "checkout", "--force", "--quiet")
    story.title("another pull request: regularise the ridge 300 times harder")
    story.gated_branch(
        "more-regularisation", "alpha", "1.0", "300.0", "train.alpha: 300 (a simpler model)"
    )
    story.repo.checkout("main")
    run_dvc(story.repo.root, "checkout", "--force", "--quiet")
    story.say("  neither is merged: main still serves v1.0.0 (mlgate history)")


def run_demo(
    root: Path,
    *,
    console: Console,
    environ: dict[str, str] | None = None,
    task: str = "binary",
) -> DemoResult:
    """Build the sandbox at ``root`` and run the whole loop; returns what happened.

    ``task`` ``regression``: the regression project and its pull-request story
    (:func:`run_regression`) instead of the classifier's loop with continuous training.
    """
    from mlgate.demo.sandbox import create

    started = time.monotonic()
    env = dict(os.environ if environ is None else environ)
    for key, value in DEMO_IDENTITY.items():
        env.setdefault(key, value)
    env["DVC_NO_ANALYTICS"] = "1"
    box, repo = create(root, repo_env=env, task=task)
    story = _Story(box, repo, console, env)
    if task == "regression":
        story.title("a sandbox: the regression reference project, a bare origin, a DVC remote")
        story.say(f"  project {box.project}\n  origin  {box.origin}")
        run_regression(story)
        return _finish(story, started)
    story.title("a sandbox: the reference project, a bare origin, a DVC remote, new data")
    story.say(f"  project {box.project}\n  origin  {box.origin}\n  batches waiting in {box.queue}")
    story.first_release()
    story.pull_request()
    story.cycle("batch_001.csv", "a new scanner: tumour sizes measure larger")
    story.cycle("batch_002.csv", "a broken export")
    story.quarantine("batch_002.csv")
    story.cycle("batch_003.csv", "more data from the new scanner")
    story.back_to_logistic()
    story.cycle("batch_004.csv", "more data from the new scanner")
    story.history()
    story.chart()
    return _finish(story, started)


def _finish(story: _Story, started: float) -> DemoResult:
    from mlgate.extras import has

    box = story.box
    story.result.seconds = time.monotonic() - started
    story.console.rule("[bold]done", align="left")
    png = box.root / "production-metrics.png"
    chart = f"   chart: {png}" if has("demo") and png.exists() else ""
    story.console.print(
        f"The sandbox stays for you to explore: {box.root}\n"
        f"  cd {box.project} && git log --oneline --graph --all && mlgate history\n"
        f"  reports: {box.reports}{chart}\n"
        f"Finished in {story.result.seconds:.0f} s.",
        highlight=False,
    )
    return story.result


__all__ = ["DemoResult", "run_demo"]
