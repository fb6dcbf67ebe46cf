"""``mlgate comment`` as a subprocess against the loopback GitHub stand-in."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import mlgate
from tests.github_stub import GitHubStub

MARKER = "<!-- mlgate-report -->"


@pytest.fixture
def report(tmp_path: Path) -> Path:
    path = tmp_path / "report.md"
    path.write_text(f"{MARKER}\n## mlgate: pass\n\n| metric | value |\n|---|---|\n| auc | 0.99 |\n")
    return path


@pytest.fixture
def gh_env(env: dict[str, str], github_stub: GitHubStub) -> dict[str, str]:
    github_stub.add_pull(4, head_sha="e" * 40)
    return {**env, **github_stub.env()}


def test_create_then_update_same_comment(
    tmp_path: Path, report: Path, gh_env: dict[str, str], github_stub: GitHubStub
) -> None:
    first = mlgate("comment", str(report), "--pr", "4", cwd=tmp_path, env=gh_env)
    assert first.returncode == 0, first.stderr
    comment_id = github_stub.comments[0]["id"]
    assert first.stdout.startswith(f"created comment {comment_id} on octo/demo#4: https://")

    report.write_text(f"{MARKER}\n## mlgate: fail\n")
    second = mlgate("comment", str(report), "--pr", "4", cwd=tmp_path, env=gh_env)
    assert second.returncode == 0, second.stderr
    assert second.stdout.startswith(f"updated comment {comment_id} on octo/demo#4")
    assert len(github_stub.comments) == 1
    assert github_stub.comments[0]["body"] == f"{MARKER}\n## mlgate: fail\n"


def test_pr_number_from_event_and_outputs(
    tmp_path: Path, report: Path, gh_env: dict[str, str], github_stub: GitHubStub
) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"number": 4, "pull_request": {"number": 4}}))
    output = tmp_path / "output"
    github_stub.rate_limit_next(1, retry_after=0)  # one retry, without waiting
    env = {
        **gh_env,
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_ACTIONS": "true",
        "GITHUB_OUTPUT": str(output),
    }
    proc = mlgate("comment", str(report), cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    comment = github_stub.comments[0]
    assert f"comment-id={comment['id']}\n" in output.read_text()
    assert f"comment-url={comment['html_url']}\n" in output.read_text()


def test_fork_pr_found_from_workflow_run_head_sha(
    tmp_path: Path, report: Path, gh_env: dict[str, str], github_stub: GitHubStub
) -> None:
    github_stub.add_pull(11, head_sha="f" * 40, fork=True)
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"workflow_run": {"head_sha": "f" * 40, "pull_requests": []}}))
    proc = mlgate(
        "comment", str(report), cwd=tmp_path, env={**gh_env, "GITHUB_EVENT_PATH": str(event)}
    )
    assert proc.returncode == 0, proc.stderr
    assert "octo/demo#11" in proc.stdout


def test_bad_token_exit_2_without_leaking_it(
    tmp_path: Path, report: Path, gh_env: dict[str, str], github_stub: GitHubStub
) -> None:
    secret = "ghs_wrong_secret_value"
    proc = mlgate(
        "comment", str(report), "--pr", "4", cwd=tmp_path, env={**gh_env, "GITHUB_TOKEN": secret}
    )
    assert proc.returncode == 2
    assert "401" in proc.stderr and "GITHUB_TOKEN" in proc.stderr
    assert secret not in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr
    assert github_stub.comments == []


@pytest.mark.parametrize(
    ("drop", "args", "expected"),
    [
        ("GITHUB_TOKEN", ["--pr", "4"], "GITHUB_TOKEN is not set"),
        ("GITHUB_REPOSITORY", ["--pr", "4"], "GITHUB_REPOSITORY is not set"),
        (None, [], "no pull request number"),
        (None, ["--pr", "99"], "404"),
    ],
)
def test_usage_errors_exit_2(
    tmp_path: Path,
    report: Path,
    gh_env: dict[str, str],
    drop: str | None,
    args: list[str],
    expected: str,
) -> None:
    env = {k: v for k, v in gh_env.items() if k != drop}
    proc = mlgate("comment", str(report), *args, cwd=tmp_path, env=env)
    assert proc.returncode == 2, proc.stderr
    assert expected in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_unreadable_file_exit_2(tmp_path: Path, gh_env: dict[str, str]) -> None:
    proc = mlgate("comment", str(tmp_path / "nope.md"), "--pr", "4", cwd=tmp_path, env=gh_env)
    assert proc.returncode == 2
    assert "nope.md: file not found" in proc.stderr


def test_a_marker_comment_by_someone_else_is_not_taken_over(
    tmp_path: Path, report: Path, gh_env: dict[str, str], github_stub: GitHubStub
) -> None:
    theirs = github_stub.add_comment(4, f"{MARKER}\nplease merge, the gate passed", user="eve")
    proc = mlgate("comment", str(report), "--pr", "4", cwd=tmp_path, env=gh_env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("created comment")
    assert theirs["body"] == f"{MARKER}\nplease merge, the gate passed"
    assert [c["user"]["login"] for c in github_stub.comments] == ["eve", "github-actions[bot]"]
    assert not any(r.method == "PATCH" for r in github_stub.requests)


def test_a_success_answer_that_is_not_json_is_exit_2(
    tmp_path: Path, report: Path, env: dict[str, str]
) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Html(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<html><body>Sign in to continue</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Html)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        secret = "ghp_not_json_secret_123"
        proc = mlgate(
            "comment",
            str(report),
            "--pr",
            "4",
            cwd=tmp_path,
            env={
                **env,
                "GITHUB_API_URL": f"http://{host!s}:{port}",
                "GITHUB_TOKEN": secret,
                "GITHUB_REPOSITORY": "octo/demo",
            },
            timeout=60,
        )
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    line = proc.stderr.strip()
    assert "\n" not in line and "200" in line and "text/html" in line and "not JSON" in line
    assert secret not in proc.stdout + proc.stderr
