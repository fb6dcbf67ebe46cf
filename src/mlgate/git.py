"""The one gateway to git: every git command mlgate runs goes through this module.

Files at a revision are read from git objects (``git show REV:PATH``), which is fast and
needs no checkout. ``WORKTREE`` stands for the working tree (the candidate by default).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, NoReturn

from mlgate._record import Record
from mlgate.errors import GitError

if TYPE_CHECKING:
    import subprocess

#: Pseudo-revision meaning "the files in the working tree".
WORKTREE = "workspace"
#: Where DVC keeps experiments, and its queue's stashes (``dvc/repo/experiments/refs.py``).
EXPS_NAMESPACE = "refs/exps"
CELERY_STASH = "refs/exps/celery/stash"
CELERY_FAILED = "refs/exps/celery/failed"


class ExperimentRef(Record):
    """A DVC experiment: its name, ref, commit and the commit it was run from."""

    _fields = ("name", "ref", "sha", "baseline")
    __slots__ = _fields
    name: str
    ref: str
    sha: str
    baseline: str

    def __init__(self, name: str, ref: str, sha: str, baseline: str) -> None:
        self._init(name, ref, sha, baseline)


class Repo(Record):
    """A git repository on disk; ``root`` is its top-level folder."""

    _fields = ("root", "env")
    __slots__ = _fields
    root: Path
    env: Mapping[str, str] | None

    def __init__(self, root: Path, env: Mapping[str, str] | None = None) -> None:
        self._init(root, env)

    @classmethod
    def find(
        cls, start: str | os.PathLike[str] = ".", env: Mapping[str, str] | None = None
    ) -> Repo:
        import subprocess  # here, not at the top: `mlgate diff` spawns its two git processes itself

        try:
            proc = subprocess.run(
                ["git", "rev-parse", "--show-toplevel"],
                cwd=start,
                capture_output=True,
                text=True,
                env=dict(env) if env is not None else None,
                check=False,
            )
        except FileNotFoundError as exc:
            raise GitError("git is not installed or not on PATH; install git") from exc
        except NotADirectoryError as exc:
            raise GitError(f"{start}: not a folder") from exc
        if proc.returncode != 0:
            raise GitError(
                f"{Path(start).resolve()}: not inside a git repository; run `git init` first"
            )
        return cls(Path(proc.stdout.strip()), env)

    @classmethod
    def discover(
        cls, start: str | os.PathLike[str] = ".", env: Mapping[str, str] | None = None
    ) -> Repo:
        """:meth:`find` without a git process in the common case (saves a few ms per command).

        Walks up from ``start`` to the first folder holding a ``.git`` *folder*; anything
        unusual (``GIT_DIR``/``GIT_WORK_TREE``/``GIT_CEILING_DIRECTORIES`` set, a ``.git``
        file of a worktree or submodule, no ``.git`` found) asks git via :meth:`find`.
        """
        environ = os.environ if env is None else env
        if not any(k in environ for k in ("GIT_DIR", "GIT_WORK_TREE", "GIT_CEILING_DIRECTORIES")):
            here = Path(os.path.realpath(start))
            for folder in (here, *here.parents):
                dot_git = folder / ".git"
                if dot_git.is_dir() and (dot_git / "HEAD").is_file():
                    return cls(folder, env)
                if dot_git.exists():
                    break  # a .git file (worktree, submodule): let git resolve it
        return cls.find(start, env)

    # -- plumbing ---------------------------------------------------------------------------
    def run(
        self, *args: str, check: bool = True, input: bytes | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        import subprocess

        proc = subprocess.run(
            ["git", *args],
            cwd=self.root,
            capture_output=True,
            input=input,
            env=dict(self.env) if self.env is not None else None,
            check=False,
        )
        if check and proc.returncode != 0:
            err = proc.stderr.decode(errors="replace").strip().splitlines()
            detail = err[-1] if err else f"exit code {proc.returncode}"
            raise GitError(f"git {' '.join(args[:3])}: {detail}")
        return proc

    def out(self, *args: str, check: bool = True) -> str:
        return self.run(*args, check=check).stdout.decode(errors="replace").strip()

    # -- revisions --------------------------------------------------------------------------
    def is_shallow(self) -> bool:
        return self.out("rev-parse", "--is-shallow-repository") == "true"

    def resolve(self, rev: str) -> str:
        """Full SHA of ``rev``; a clear error for unknown revisions and shallow clones.

        A DVC experiment name (``dvc exp run -n NAME``) resolves as DVC resolves it: see
        :meth:`resolve_experiment`.
        """
        proc = self.run("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False)
        if proc.returncode != 0:
            found = self.resolve_experiment(rev)
            if found is not None:
                return found
            hint = ""
            if self.is_shallow():
                hint = (
                    " (this is a shallow clone: fetch full history, e.g. `git fetch --unshallow`"
                    " or `fetch-depth: 0` in actions/checkout)"
                )
            raise GitError(f"unknown revision {rev!r}{hint}")
        return proc.stdout.decode().strip()

    def head(self) -> str:
        return self.resolve("HEAD")

    # -- DVC experiments (refs/exps/<2>/<38>/<name>) ---------------------------------------------
    def experiment_refs(self) -> list[ExperimentRef]:
        """Every DVC experiment of the repository (queued and running ones are not refs)."""
        text = self.out("for-each-ref", "--format=%(objectname) %(refname)", EXPS_NAMESPACE)
        out = []
        for line in text.splitlines():
            sha, _, ref = line.partition(" ")
            parts = ref.split("/")
            if len(parts) == 5 and len(parts[2]) == 2 and len(parts[3]) == 38:
                out.append(ExperimentRef(parts[4], ref, sha, parts[2] + parts[3]))
        return out

    def resolve_experiment(self, name: str) -> str | None:
        """The commit of experiment ``name`` as DVC resolves it, None when there is none.

        One experiment of that name: it. Several (run from different baselines): the one
        whose baseline is HEAD, else an error listing them. A queued or failed experiment
        is an error that says so.
        """
        if not name or name.startswith("-") or "/" in name:
            return None
        found = [e for e in self.experiment_refs() if e.name == name]
        if len(found) > 1:
            head = self.run("rev-parse", "--verify", "--quiet", "HEAD", check=False)
            mine = [e for e in found if e.baseline == head.stdout.decode().strip()]
            if len(mine) == 1:
                return mine[0].sha
            listed = ", ".join(f"{e.ref} (baseline {e.baseline[:7]})" for e in found)
            raise GitError(f"experiment name {name!r} is ambiguous: {listed}; give its ref")
        if found:
            return found[0].sha
        for stash, state in ((CELERY_STASH, "queued"), (CELERY_FAILED, "failed")):
            log = self.run("log", "-g", "--format=%gs", stash, "--", check=False)
            for message in log.stdout.decode(errors="replace").splitlines():
                if message.rsplit(":", 1)[-1] == name and "dvc-exp:" in message:
                    hint = "run `dvc queue start`" if state == "queued" else "see `dvc queue logs`"
                    raise GitError(f"experiment {name!r} is {state}, not run yet: {hint}")
        return None

    def short(self, rev: str) -> str:
        return self.out("rev-parse", "--short", rev)

    def rev_exists(self, rev: str) -> bool:
        proc = self.run("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False)
        return proc.returncode == 0

    def merge_base(self, a: str, b: str) -> str:
        proc = self.run("merge-base", a, b, check=False)
        if proc.returncode != 0:
            hint = (
                " (shallow clone: check out with full history, e.g. `fetch-depth: 0`)"
                if self.is_shallow()
                else ""
            )
            raise GitError(f"no merge-base between {a!r} and {b!r}{hint}")
        return proc.stdout.decode().strip()

    def default_branch(self) -> str | None:
        """``origin/HEAD``, else ``main``, else ``master``; None when none exists."""
        proc = self.run("symbolic-ref", "--quiet", "refs/remotes/origin/HEAD", check=False)
        if proc.returncode == 0:
            return proc.stdout.decode().strip().removeprefix("refs/remotes/")
        for name in ("main", "master", "origin/main", "origin/master"):
            if self.rev_exists(name):
                return name
        return None

    def default_branch_name(self) -> str | None:
        """:meth:`default_branch` as a local branch name (``main`` for ``origin/main``)."""
        default = self.default_branch()
        return None if default is None else default.removeprefix("origin/")

    def current_branch(self) -> str | None:
        proc = self.run("symbolic-ref", "--quiet", "--short", "HEAD", check=False)
        return proc.stdout.decode().strip() if proc.returncode == 0 else None

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        return (
            self.run("merge-base", "--is-ancestor", ancestor, descendant, check=False).returncode
            == 0
        )

    # -- private clones (serve) ---------------------------------------------------------------
    @classmethod
    def clone(cls, url: str, dest: Path, env: Mapping[str, str] | None = None) -> Repo:
        """``git clone --no-checkout url dest`` (a private copy that only fetches)."""
        import subprocess

        dest.parent.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(
            ["git", "clone", "--quiet", "--no-checkout", "--", url, str(dest)],
            capture_output=True,
            env=dict(env) if env is not None else None,
            check=False,
        )
        if proc.returncode != 0:
            err = proc.stderr.decode(errors="replace").strip().splitlines()
            raise GitError(f"git clone {url}: {err[-1] if err else proc.returncode}")
        return cls(dest, env)

    def fetch(self, remote: str = "origin") -> None:
        """Update every ``remote/*`` branch and tag (forced: rewritten refs are followed too)."""
        self.run(
            "fetch", "--quiet", "--prune", remote,
            f"+refs/heads/*:refs/remotes/{remote}/*", "+refs/tags/*:refs/tags/*",
        )  # fmt: skip

    def checkout_detached(self, rev: str) -> None:
        """Make the working tree ``rev`` exactly (detached HEAD, local edits discarded)."""
        self.run("checkout", "--quiet", "--force", "--detach", rev)

    # -- reading files ------------------------------------------------------------------------
    def show(self, rev: str, path: str) -> bytes | None:
        """Bytes of ``path`` at ``rev`` (``WORKTREE`` reads the working tree); None if absent."""
        if rev == WORKTREE:
            p = self.root / path
            return p.read_bytes() if p.is_file() else None
        proc = self.run("show", f"{rev}:{path}", check=False)
        if proc.returncode == 0:
            return proc.stdout
        self.resolve(rev)  # raises a clear error when the revision itself is unknown
        return None

    def show_many(self, rev: str, paths: Sequence[str]) -> dict[str, bytes | None]:
        """Like :meth:`show` for several paths in one ``git cat-file --batch`` process."""
        if rev == WORKTREE or not paths or any("\n" in p for p in paths):
            return {p: self.show(rev, p) for p in paths}
        answers = self._cat_batch([f"{rev}:{p}" for p in paths])
        out = {
            p: a[1] if a and a[0] == b"blob" else None for p, a in zip(paths, answers, strict=True)
        }
        if all(v is None for v in out.values()):
            self.resolve(rev)  # a clear error when the revision itself is unknown
        return out

    def ls_tree(self, rev: str) -> dict[str, tuple[str, str]]:
        """Every path at ``rev``, folders included: ``{path: (kind, object id)}``.

        ``kind`` is ``blob``, ``tree`` or ``commit`` (a submodule); one ``git ls-tree`` process.
        """
        return self.ls_tree_start(rev)()

    def ls_tree_start(self, rev: str) -> Callable[[], dict[str, tuple[str, str]]]:
        """:meth:`ls_tree` started in the background; call the result to wait for it.

        Lets a caller read other objects (``git cat-file``) while git lists the tree.
        """
        import subprocess

        args = ["git", "ls-tree", "-r", "-t", "-z", "--full-tree", rev]
        env = dict(self.env) if self.env is not None else None
        proc = subprocess.Popen(
            args, cwd=self.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
        )

        def wait() -> dict[str, tuple[str, str]]:
            out, err = proc.communicate()
            if proc.returncode != 0:
                self.resolve(rev)  # a clear error when the revision itself is unknown
                raise GitError(f"git ls-tree {rev}: {err.decode(errors='replace').strip()}")
            listing: dict[str, tuple[str, str]] = {}
            for record in out.decode(errors="surrogateescape").split("\x00"):
                meta, sep, path = record.partition("\t")
                if sep:
                    _mode, kind, oid = meta.split(" ", 2)
                    listing[path] = (kind, oid)
            return listing

        return wait

    def diff_trees(self, pairs: Sequence[tuple[str, str]]) -> dict[str, list[tuple[str, str, str]]]:
        """For each ``(commit, base)``: the files that differ, ``[(status, path, blob id)]``.

        One ``git diff-tree --stdin`` process for all pairs (``status``: ``A``, ``M``, ``D``,
        ``T``; the blob id is the commit's, all zeros for a deleted file).
        """
        if not pairs:
            return {}
        request = "".join(f"{c} {b}\n" for c, b in pairs).encode()
        text = self.run(
            "diff-tree", "--stdin", "-r", "-z", "--no-renames", input=request
        ).stdout.decode(errors="surrogateescape")
        out: dict[str, list[tuple[str, str, str]]] = {c: [] for c, _ in pairs}
        tokens = text.split("\x00")
        current: list[tuple[str, str, str]] | None = None
        i = 0
        while i < len(tokens):
            token = tokens[i]
            if token.startswith(":") and current is not None and i + 1 < len(tokens):
                _old_mode, _new_mode, _old, new, status = token[1:].split(" ", 4)
                current.append((status[:1], tokens[i + 1], new))
                i += 2
                continue
            if token:
                current = out.setdefault(token.split(" ", 1)[0].strip(), [])
            i += 1
        return out

    def ls_worktree(self, *names: str) -> list[str]:
        """Files of the working tree: tracked, plus untracked ones git does not ignore.

        ``names`` keeps only files with those base names (``dvc.yaml``), in any folder.
        """
        return self.ls_worktree_start(*names)()

    def ls_worktree_start(self, *names: str) -> Callable[[], list[str]]:
        """:meth:`ls_worktree` started in the background; call the result to wait for it."""
        globs = [f":(glob)**/{n}" for n in names]
        args = ["ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", *globs]
        proc = _Child(self, args)

        def wait() -> list[str]:
            out = proc.stdout.read()
            code, err = proc.wait()
            if code != 0:
                lines = err.decode(errors="replace").strip().splitlines()
                detail = lines[-1] if lines else f"exit code {code}"
                raise GitError(f"git {' '.join(args[:3])}: {detail}")
            found = out.decode(errors="surrogateescape").split("\x00")
            return list(dict.fromkeys(f for f in found if f))

        return wait

    def cat_file(self) -> CatFile:
        """A :class:`CatFile` reader of this repository (close it, or use it in ``with``)."""
        return CatFile(self)

    # -- working tree ---------------------------------------------------------------------------
    def is_clean(self, paths: Sequence[str] = ()) -> bool:
        return self.out("status", "--porcelain", "--untracked-files=no", "--", *paths) == ""

    def add(self, *paths: str) -> None:
        self.run("add", "--", *paths)

    def commit(self, message: str, *paths: str) -> str:
        self.run("commit", "--quiet", "-m", message, "--", *paths)
        return self.head()

    def tags(self, pattern: str = "*") -> list[str]:
        text = self.out("tag", "--list", pattern)
        return text.splitlines() if text else []

    def push(self, remote: str, *refspecs: str) -> None:
        self.run("push", "--quiet", remote, *refspecs)

    def log_file(self, path: str, fmt: str, *extra: str) -> list[str]:
        """One ``git log`` pass over ``path`` with ``--format=fmt``; records split on NUL."""
        text = self.run("log", f"--format={fmt}%x00", *extra, "--", path).stdout.decode()
        return [rec.strip("\n") for rec in text.split("\x00") if rec.strip("\n")]

    # -- deploy: pointer history, revert, undo ----------------------------------------------------
    def log_raw(self, path: str, fmt: str, *extra: str) -> str:
        """One ``git log --raw --full-diff`` pass over the commits that changed ``path``.

        Each commit is ``fmt`` followed by its ``:old_mode new_mode old_blob new_blob status\\tpath``
        lines for every file it changed (full blob ids, no rename detection).
        """
        args = ("log", f"--format={fmt}", "--raw", "--no-abbrev", "--no-renames", "--full-diff")
        return self.run(*args, *extra, "--", path).stdout.decode(errors="replace")

    def cat_blobs(self, oids: Sequence[str]) -> dict[str, bytes]:
        """Contents of many blobs from one ``git cat-file --batch`` process (missing ones absent)."""
        wanted = list(dict.fromkeys(oids))
        if not wanted:
            return {}
        answers = self._cat_batch(wanted)
        return {o: a[1] for o, a in zip(wanted, answers, strict=True) if a and a[0] == b"blob"}

    def _cat_batch(self, names: Sequence[str]) -> list[tuple[bytes, bytes] | None]:
        """``(kind, content)`` of each object name from one ``git cat-file --batch`` run;
        None where git answers ``missing`` or ``ambiguous``. Names hold no newline.

        Each object is read from git's output straight into its own bytes (never the whole
        output, then a slice of it: a 190 MB blob was held twice)."""
        import subprocess
        import threading

        proc = subprocess.Popen(
            ["git", "cat-file", "--batch"],
            cwd=self.root,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(self.env) if self.env is not None else None,
        )
        stdin, stdout, stderr = proc.stdin, proc.stdout, proc.stderr
        assert stdin is not None and stdout is not None and stderr is not None
        err: list[bytes] = []

        def feed() -> None:  # beside the reads: git answers while it is still asked
            with contextlib.suppress(BrokenPipeError):
                stdin.write("".join(f"{n}\n" for n in names).encode())
            with contextlib.suppress(BrokenPipeError):
                stdin.close()
            err.append(stderr.read())

        writer = threading.Thread(target=feed, daemon=True)
        writer.start()
        out: list[tuple[bytes, bytes] | None] = []
        try:
            for _ in names:
                line = stdout.readline()
                if not line:  # git stopped
                    break
                header = line.split()
                if len(header) == 3 and header[1] in _KINDS:
                    size = int(header[2])
                    content = stdout.read(size)
                    if len(content) != size or stdout.read(1) != b"\n":
                        break
                    out.append((header[1], content))
                else:  # "<object> missing" or "<object> ambiguous"
                    out.append(None)
        finally:
            stdout.close()
            writer.join()
            code = proc.wait()
        if len(out) != len(names) or code != 0:
            lines = b"".join(err).decode(errors="replace").strip().splitlines()
            detail = lines[-1] if lines else f"exit code {code}"
            raise GitError(f"git cat-file --batch: {detail}")
        return out

    def revert_no_commit(self, *commits: str) -> None:
        """``git revert --no-commit`` of ``commits`` (newest first); on conflict abort and raise."""
        proc = self.run("revert", "--no-commit", *commits, check=False)
        if proc.returncode != 0:
            self.run("revert", "--abort", check=False)
            err = proc.stderr.decode(errors="replace").strip().splitlines()
            raise GitError(
                f"git revert {' '.join(c[:12] for c in commits)}: {err[-1] if err else ''}"
            )

    def undo_commit(self, branch: str, new: str, old: str, *paths: str) -> None:
        """Move ``branch`` from ``new`` back to ``old`` and restore ``paths`` as they were at ``old``.

        Only for undoing a commit mlgate itself just made (e.g. when pushing it failed).
        """
        self.run("update-ref", "-m", "mlgate: undo", f"refs/heads/{branch}", old, new)
        self.restore_paths(old, *paths)

    def restore_paths(self, rev: str, *paths: str) -> None:
        """Put ``paths`` in the index and working tree back as they are at ``rev`` (absent: removed)."""
        for path in paths:
            if self.run("cat-file", "-e", f"{rev}:{path}", check=False).returncode == 0:
                self.run("checkout", rev, "--", path)
            else:
                self.run("rm", "--quiet", "--cached", "--ignore-unmatch", "--", path)
                (self.root / path).unlink(missing_ok=True)

    # -- continuous training: branches, tags, remotes ----------------------------------------------
    def checkout(self, branch: str, *, create: bool = False) -> None:
        """Switch to ``branch`` (``create``: a new branch at HEAD, keeping local changes)."""
        self.run("checkout", "--quiet", *(["-b"] if create else []), branch)

    def create_tag(self, name: str, rev: str = "HEAD", message: str | None = None) -> None:
        """A lightweight tag, or an annotated one when ``message`` is given."""
        extra = ["-a", "-m", message] if message else []
        self.run("tag", *extra, name, rev)

    def has_remote(self, name: str) -> bool:
        return name in self.out("remote").splitlines()

    def remote_heads(self, remote: str, pattern: str) -> list[str]:
        """Branch names at ``remote`` matching ``pattern`` (``git ls-remote --heads``)."""
        text = self.out("ls-remote", "--heads", remote, f"refs/heads/{pattern}")
        return [line.split("\trefs/heads/", 1)[1] for line in text.splitlines() if "\t" in line]

    def changed_paths(self) -> list[str]:
        """Paths that differ from HEAD, untracked ones included (``git status --porcelain``)."""
        text = self.run("status", "--porcelain", "-z", "--untracked-files=all").stdout.decode()
        records = text.split("\x00")
        out: list[str] = []
        i = 0
        while i < len(records):
            rec = records[i]
            if len(rec) > 3:
                out.append(rec[3:])
                if rec[0] in "RC":  # a rename or copy: the next record is the old path
                    out.append(records[i + 1])
                    i += 1
            i += 1
        return out

    def is_ignored(self, path: str) -> bool:
        return self.run("check-ignore", "--quiet", "--", path, check=False).returncode == 0


#: The kinds of object ``git cat-file --batch`` answers with (anything else: not found).
_KINDS = frozenset((b"blob", b"tree", b"commit", b"tag"))
#: Bytes of requests written before their answers are read: well under a pipe's buffer,
#: so neither git nor mlgate can block on a full pipe while the other waits.
_REQUEST_CHUNK = 16_384


class CatFile:
    """One ``git cat-file --batch`` process kept open: a tree, then its subtrees, then the
    blobs the caller picks are read from it in turn, with no new git process per question.
    """

    def __init__(self, repo: Repo) -> None:
        self._proc = _Child(repo, ["cat-file", "--batch"], stdin=True)
        #: Bytes of an object id (20 for SHA-1, 32 for SHA-256 repositories), seen in answers.
        self.id_width = 20

    def __enter__(self) -> CatFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """End the git process (it exits when its input closes)."""
        self._proc.wait()

    def get(self, names: Sequence[str]) -> list[tuple[str, bytes] | None]:
        """``(kind, content)`` of each object name (an id, ``REV:path``, ``REV^{tree}``);
        None for a name git cannot find (or one holding a newline, which it cannot take)."""
        out: list[tuple[str, bytes] | None] = [None] * len(names)
        stdin, stdout = self._proc.stdin, self._proc.stdout
        assert stdin is not None and stdout is not None
        asked = [i for i, n in enumerate(names) if "\n" not in n]
        start = 0
        while start < len(asked):
            chunk: list[int] = []
            size = 0
            while start < len(asked) and (not chunk or size < _REQUEST_CHUNK):
                chunk.append(asked[start])
                size += len(names[asked[start]]) + 1
                start += 1
            try:
                stdin.write(
                    "".join(f"{names[i]}\n" for i in chunk).encode(errors="surrogateescape")
                )
                stdin.flush()
            except BrokenPipeError:
                self._failed()
            for i in chunk:
                header = stdout.readline()
                if not header:
                    self._failed()
                parts = header.split()
                if len(parts) == 3 and parts[1] in _KINDS:
                    self.id_width = len(parts[0]) // 2
                    size = int(parts[2])
                    data = stdout.read(size)  # not size + 1 and a slice: no second copy
                    if len(data) != size or stdout.read(1) != b"\n":
                        self._failed()
                    out[i] = (parts[1].decode(), data)
        return out

    def _failed(self) -> NoReturn:
        self._proc.kill()
        _, err = self._proc.wait()
        lines = err.decode(errors="replace").strip().splitlines()
        raise GitError(f"git cat-file --batch: {lines[-1] if lines else 'stopped unexpectedly'}")

    def blobs(self, oids: Sequence[str]) -> dict[str, bytes]:
        """As :meth:`Repo.cat_blobs`: contents of the blobs among ``oids`` (others absent)."""
        wanted = list(dict.fromkeys(oids))
        found = self.get(wanted)
        return {o: hit[1] for o, hit in zip(wanted, found, strict=True) if hit and hit[0] == "blob"}

    def ls_tree(self, rev: str) -> dict[str, tuple[str, str]]:
        """As :meth:`Repo.ls_tree` (same paths, kinds, ids and order), read level by level.

        Raises :class:`GitError` when ``rev`` names no tree (for the caller to resolve it
        another way, e.g. as a DVC experiment).
        """
        (root,) = self.get([f"{rev}^{{tree}}"])
        if root is None:
            raise GitError(f"unknown revision {rev!r}")
        width = self.id_width
        contents = {"": _tree_entries(root[1], width)}
        level = [oid for kind, _, oid in contents[""] if kind == "tree"]
        while level:
            todo = list(dict.fromkeys(o for o in level if o not in contents))
            for oid, hit in zip(todo, self.get(todo), strict=True):
                if hit is None or hit[0] != "tree":
                    raise GitError(f"git cat-file: tree {oid} of {rev} is missing; run `git fsck`")
                contents[oid] = _tree_entries(hit[1], width)
            level = [o for t in todo for kind, _, o in contents[t] if kind == "tree"]
        listing: dict[str, tuple[str, str]] = {}

        def emit(prefix: str, entries: list[tuple[str, str, str]]) -> None:
            for kind, name, oid in entries:  # git's order: a folder, then what it holds
                listing[prefix + name] = (kind, oid)
                if kind == "tree":
                    emit(f"{prefix}{name}/", contents[oid])

        emit("", contents[""])
        return listing


def _tree_entries(data: bytes, width: int) -> list[tuple[str, str, str]]:
    """A raw tree object (``MODE NAME\\0`` + ``width`` id bytes per entry) as
    ``[(kind, name, id)]`` (``git ls-tree``'s kinds: a submodule is a ``commit``)."""
    out: list[tuple[str, str, str]] = []
    pos, end = 0, len(data)
    while pos < end:
        space = data.index(b" ", pos)
        nul = data.index(b"\x00", space)
        mode = data[pos:space]
        oid = data[nul + 1 : nul + 1 + width].hex()
        kind = "tree" if mode == b"40000" else "commit" if mode == b"160000" else "blob"
        out.append((kind, data[space + 1 : nul].decode(errors="surrogateescape"), oid))
        pos = nul + 1 + width
    return out


class _Child:
    """A git process with pipes, started by ``os.posix_spawn``.

    What ``subprocess.Popen`` does for the two processes of ``mlgate diff``, without
    importing ``subprocess`` (and ``threading``, ``selectors``): about 5 ms of its start-up.
    As Popen: git is looked up on the PATH of the environment it gets, runs in the
    repository's root with SIGPIPE at its default, and inherits no other descriptor
    (Python's are not inheritable).
    """

    def __init__(self, repo: Repo, args: Sequence[str], *, stdin: bool = False) -> None:
        import signal

        env: Mapping[str, str] = repo.env if repo.env is not None else os.environ
        program = next(
            (
                found
                for folder in os.get_exec_path(dict(env))
                if os.access(found := os.path.join(folder, "git"), os.X_OK)
                and os.path.isfile(found)
            ),
            None,
        )
        if program is None:
            raise GitError("git is not installed or not on PATH; install git")
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        in_r, in_w = os.pipe() if stdin else (-1, -1)
        actions: list[tuple[int, ...] | tuple[int, int, str, int, int]] = [
            (os.POSIX_SPAWN_DUP2, out_w, 1),
            (os.POSIX_SPAWN_DUP2, err_w, 2),
        ]
        if stdin:
            actions.append((os.POSIX_SPAWN_DUP2, in_r, 0))
        else:
            actions.append((os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0))
        try:
            self.pid = os.posix_spawn(
                program,
                ["git", "-C", str(repo.root), *args],
                env,
                file_actions=actions,
                setsigdef=(signal.SIGPIPE,),
            )
        except OSError:
            for fd in (out_r, err_r, in_w):
                if fd >= 0:
                    os.close(fd)
            raise
        finally:
            for fd in (out_w, err_w, in_r):
                if fd >= 0:
                    os.close(fd)
        self.stdout: BinaryIO = open(out_r, "rb")  # noqa: SIM115 (closed by wait)
        self.stdin: BinaryIO | None = open(in_w, "wb") if stdin else None  # noqa: SIM115
        self._stderr = err_r
        self._code: int | None = None
        self._err = b""

    def kill(self) -> None:
        if self._code is None:
            import signal

            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)

    def wait(self) -> tuple[int, bytes]:
        """Close the input, drain the output, reap the process: (exit code, its stderr)."""
        if self._code is not None:
            return self._code, self._err
        if self.stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                self.stdin.close()
        self.stdout.close()
        chunks = []
        while chunk := os.read(self._stderr, 65536):
            chunks.append(chunk)
        os.close(self._stderr)
        _, status = os.waitpid(self.pid, 0)
        self._code, self._err = os.waitstatus_to_exitcode(status), b"".join(chunks)
        return self._code, self._err
