"""DVC for the bot: reproduce one stage, move data to and from the remote, read what a run produced.

Reads go through DVC's Python API in process (opening a repo costs ~0.1 s, the CLI ~0.7 s per call).
`dvc repro` runs as a subprocess instead, because its stage commands write straight to the process's
stdout/stderr: only a child process lets us keep the tail of the log of a failing stage.
DVC is imported inside the methods; importing this module costs nothing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import re
import subprocess
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from bot.adapters.project_env import ProjectEnvError, project_python
from bot.adapters.sandbox import Sandbox, StageTimeout, escaping_links
from bot.core import lockfile
from bot.core.isolation import job_environment, stage_environment
from bot.core.models import Plot, PlotSeries, PlotValue
from bot.core.scrub import scrub

LOG_TAIL_LINES = 60
LOCK_FILE = "dvc.lock"
PARAMS_FILE = "params.yaml"  # DVC's default params file: its keys are shown without a file prefix

# The line DVC prints before it executes a stage command; a stage restored from the run cache or
# skipped as unchanged prints something else. It is how we tell "trained" from "nothing ran".
_RUNNING_STAGE = re.compile(r"^Running stage '(?P<stage>[^']+)'", re.MULTILINE)
_ERROR_LINE = re.compile(r"^ERROR: (?P<message>.+)$", re.MULTILINE)


class DvcError(Exception):
    """DVC could not do what was asked; the message says what and what to do."""


class GitError(DvcError):
    """A git command failed."""


def _echo_to(echo: IO[str] | None) -> Callable[[str], None]:
    def write(line: str) -> None:
        if echo is not None:
            echo.write(line)
            echo.flush()

    return write


class DvcStageError(DvcError):
    """A stage command failed; `log_tail` holds the end of its output."""

    def __init__(self, stage: str, returncode: int, log_tail: str, reason: str = "") -> None:
        self.stage = stage
        self.returncode = returncode
        self.log_tail = log_tail
        self.reason = reason
        detail = f": {reason}" if reason else f" (dvc exited with {returncode})"
        super().__init__(f"stage '{stage}' failed{detail}")


class DvcMissingDataError(DvcError):
    """Files DVC needs are neither in the local cache nor on the remote."""

    def __init__(self, paths: Iterable[str], remote: Remote | None) -> None:
        self.paths = sorted(paths)
        self.remote = remote
        where = (
            f"the DVC remote '{remote.name}' ({remote.url})"
            if remote
            else "any DVC remote (none is configured)"
        )
        super().__init__(
            f"not in the local DVC cache nor in {where}: {', '.join(self.paths)}. "
            "Run `dvc push` where these files were produced, then try again."
        )


class DvcMetricsError(DvcError):
    """A metrics file is missing or cannot be read."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"metrics file {path}: {reason}")


class DvcRemoteError(DvcError):
    """The DVC remote cannot be used (missing plugin, unreachable, refuses writes); one line saying what to do."""


class DvcFileError(DvcError):
    """dvc.yaml or dvc.lock cannot be read by this DVC; the message says which and how to fix it."""


@dataclass(frozen=True)
class Remote:
    name: str
    url: str


@dataclass(frozen=True)
class StageFiles:
    """What dvc.yaml declares for one stage, and the pipeline `dvc repro <stage>` runs."""

    name: str
    deps: tuple[str, ...]  # file dependencies (params are not files here)
    outs: tuple[str, ...]  # every output, metrics and plots included
    metrics: tuple[str, ...]
    plots: tuple[str, ...]
    pipeline: tuple[str, ...]  # this stage and all stages upstream of it, upstream first
    pipeline_outs: tuple[str, ...]  # what `dvc repro <stage>` can rebuild
    params_files: tuple[str, ...] = ()  # the params files the pipeline reads (params.yaml, ...)
    downstream: tuple[str, ...] = ()  # stages that depend on this one's outputs, in pipeline order


@dataclass(frozen=True)
class ReproResult:
    stage: str
    ran: tuple[str, ...]  # stages whose command actually executed (not skipped, not restored from run cache)
    log_tail: str


class DvcProject:
    """One DVC repository on disk. Use as a context manager, or call `close()`."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        if not (self.root / ".dvc").is_dir():
            raise DvcError(
                f"{self.root} is not a DVC repository (no .dvc folder); run `dvc init` there first"
            )
        self._repo: Any = None

    def __enter__(self) -> DvcProject:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._repo is not None:
            self._repo.close()
            self._repo = None

    @contextlib.contextmanager
    def _api(self) -> Iterator[Any]:
        """The open `dvc.repo.Repo`, with the working directory at the repo root: DVC resolves targets
        and stage names against the current directory."""
        from dvc.repo import Repo
        from dvc.utils.strictyaml import YAMLSyntaxError, YAMLValidationError

        try:
            if self._repo is None:
                self._repo = Repo(str(self.root))
            with contextlib.chdir(self.root):
                yield self._repo
        except (YAMLValidationError, YAMLSyntaxError) as exc:
            raise DvcFileError(_dvc_file_problem(self.root, exc)) from exc

    @contextlib.contextmanager
    def _local_api(self) -> Iterator[Any]:
        """A `dvc.repo.Repo` that knows no remote: DVC opens the default remote's filesystem even for a
        checkout from the cache, which fails when the remote's plugin is not installed."""
        from dvc.repo import Repo

        self.close()
        repo = Repo(str(self.root), config={"core": {"remote": ""}})
        try:
            with contextlib.chdir(self.root):
                yield repo
        finally:
            repo.close()

    # -- configuration -------------------------------------------------------------------------

    def default_remote(self) -> Remote | None:
        with self._api() as repo:
            name = repo.config["core"].get("remote")
            if not name:
                return None
            url = str(repo.config["remote"].get(name, {}).get("url", ""))
            return Remote(name=name, url=url)

    def stage(self, name: str) -> StageFiles:
        import networkx as nx

        with self._api() as repo:
            stages = {s.addressing: s for s in repo.index.stages}
            found = stages.get(name)
            if found is None:
                known = ", ".join(sorted(stages)) or "none"
                raise DvcError(f"no stage '{name}' in dvc.yaml (stages: {known})")
            graph = repo.index.graph
            upstream = list(nx.dfs_postorder_nodes(graph, found))
            later = nx.ancestors(graph, found)  # edges point from a stage to the stages it depends on
            downstream = [s.addressing for s in reversed(list(nx.topological_sort(graph))) if s in later]
            return StageFiles(
                name=name,
                deps=tuple(d.def_path for d in found.deps if not _is_params(d)),
                outs=tuple(o.def_path for o in found.outs),
                metrics=tuple(o.def_path for o in found.outs if o.metric),
                plots=tuple(o.def_path for o in found.outs if o.plot),
                pipeline=tuple(s.addressing for s in upstream),
                pipeline_outs=tuple(o.def_path for s in upstream for o in s.outs),
                params_files=tuple(
                    dict.fromkeys(d.def_path for s in upstream for d in s.deps if _is_params(d))
                ),
                downstream=tuple(downstream),
            )

    def top_level_metrics(self) -> tuple[str, ...]:
        """The files of dvc.yaml's top-level `metrics:` (of every dvc.yaml), relative to the repository root."""
        with self._api() as repo:
            found = getattr(repo.index, "_metrics", {}) or {}
            return tuple(
                dict.fromkeys(
                    self._from_dvcfile(dvcfile, p) for dvcfile, paths in found.items() for p in paths
                )
            )

    def producer(self, path: str) -> str | None:
        """The stage whose outputs hold `path` (the output itself, or a folder output containing it)."""
        with self._api() as repo:
            for stage in repo.index.stages:
                for out in stage.outs:
                    if path == out.def_path or path.startswith(out.def_path.rstrip("/") + "/"):
                        return str(stage.addressing)
        return None

    def _from_dvcfile(self, dvcfile: str, path: str) -> str:
        folder = Path(dvcfile).parent
        full = (folder if folder.is_absolute() else self.root / folder) / path
        return os.path.relpath(os.path.normpath(full), self.root).replace(os.sep, "/")

    # -- running -------------------------------------------------------------------------------

    def status(self, stage: str | None = None) -> dict[str, Any]:
        """`dvc status` of `stage` and its upstream stages (all stages when None); {} when up to date."""
        with self._api() as repo:
            targets = [stage] if stage else None
            return dict(repo.status(targets=targets, with_deps=True))

    def repro(
        self,
        stage: str,
        *,
        targets: Iterable[str] = (),
        echo: IO[str] | None = None,
        sandbox: Sandbox | None = None,
        pass_env: Iterable[str] = (),
        extra_env: Mapping[str, str] | None = None,
        timeout_s: float | None = None,
        requirements: Path | None = None,
    ) -> ReproResult:
        """`dvc repro <stage>` (upstream stages included). Raises DvcStageError with the log tail on failure.

        The stage commands are the repository's code: they run in `sandbox` (by default what the executor
        arranged through the environment) with an allow-listed environment — PATH unchanged, the locale, a
        private HOME/TMPDIR, the variables the config names — and never the bot's credentials.
        """
        self.close()  # the child rewrites dvc.lock; release our handle on the repo first
        sandbox = sandbox or Sandbox.from_environment(os.environ, self.root)
        if timeout_s is not None:  # the repository's own timeout, within the bot's ceiling
            ceiling = sandbox.timeout_s
            sandbox = dataclasses.replace(
                sandbox, timeout_s=min(timeout_s, ceiling) if ceiling else timeout_s
            )
        env = stage_environment(
            os.environ, home=str(sandbox.home), tmp=str(sandbox.tmp), pass_env=pass_env, extra=extra_env
        )
        if requirements is not None:  # the project's own Python first on the stages' PATH
            try:
                venv = project_python(requirements, sandbox, cwd=self.root, env=env, on_line=_echo_to(echo))
            except ProjectEnvError as exc:
                raise DvcStageError(
                    stage, 1, scrub(str(exc), roots=[str(self.root)]), reason=str(exc).split("\n")[0]
                ) from exc
            env["PATH"] = os.pathsep.join([str(venv / "bin"), env.get("PATH", os.defpath)])
            env["VIRTUAL_ENV"] = str(venv)
        tail: deque[str] = deque(maxlen=LOG_TAIL_LINES)
        ran: list[str] = []

        def on_line(line: str) -> None:
            tail.append(line.rstrip("\n"))
            if match := _RUNNING_STAGE.match(line):
                ran.append(match["stage"])
            if echo is not None:
                echo.write(line)
                echo.flush()

        try:
            returncode = sandbox.run(
                [sys.executable, "-m", "dvc", "repro", *(list(targets) or [stage])],
                cwd=self.root,
                env=env,
                on_line=on_line,
            )
        except StageTimeout as exc:
            raise DvcStageError(
                stage, -9, scrub("\n".join(tail), roots=[str(self.root)]), reason=str(exc)
            ) from exc
        # The tail is quoted on the PR's card: no credential, no path of the bot host.
        log_tail = scrub("\n".join(tail), roots=[str(self.root), str(self.root.resolve())])
        if returncode != 0:
            errors = _ERROR_LINE.findall(log_tail)
            raise DvcStageError(stage, returncode, log_tail, reason=errors[-1] if errors else "")
        if escaping := escaping_links(self.root):
            raise DvcStageError(
                stage,
                returncode,
                log_tail,
                reason="the stage left symlinks that point outside the repository, which the bot does not "
                f"follow: {', '.join(escaping[:5])}",
            )
        return ReproResult(stage=stage, ran=tuple(ran), log_tail=log_tail)

    # -- remote --------------------------------------------------------------------------------

    def pull(
        self,
        stage: str | None = None,
        *,
        rebuildable: Iterable[str] = (),
        warn: Callable[[str], None] | None = None,
    ) -> list[str]:
        """Check out the data of `stage` and its upstream stages (everything when None), fetching from the
        default remote only what the local cache lacks: with everything cached, the remote is not touched.

        Files missing from both the cache and the remote are fatal (DvcMissingDataError naming them and
        the remote), except those in `rebuildable`: outputs the caller will reproduce anyway. Those are
        returned. A rebuildable output that a failed run left in the workspace (DVC's "unsaved files")
        is replaced by what dvc.lock pins, so a retry in the same checkout starts clean.

        With `warn`, a remote that cannot be used (unreachable, no credentials, its plugin not installed)
        while every missing file is rebuildable is not fatal: the stages rebuild them, and `warn` gets one
        line saying so.
        """
        allowed = set(rebuildable)
        missing = self._checkout(stage, allowed)
        if missing:
            remote = self.default_remote()
            if remote is not None:
                try:
                    with self._api() as repo, _remote_errors(remote, "dvc pull"):
                        repo.fetch(targets=[stage] if stage else None, with_deps=bool(stage))
                except DvcRemoteError as exc:
                    if warn is None or any(p not in allowed for p in missing):
                        raise
                    warn(
                        f"the stages rebuilt {', '.join(missing[:10])}, which the DVC remote would have given: {exc}"
                    )
                    return missing
                missing = self._checkout(stage, allowed)
        fatal = [p for p in missing if p not in allowed]
        if fatal:
            raise DvcMissingDataError(fatal, self.default_remote())
        return missing

    def _checkout(self, stage: str | None, rebuildable: set[str]) -> list[str]:
        """`dvc checkout` from the local cache alone; the files the cache lacks."""
        from dvc.exceptions import CheckoutError, DvcException

        targets = [stage] if stage else None
        with self._local_api() as repo:
            try:
                try:
                    repo.checkout(targets=targets, with_deps=bool(stage))
                except DvcException as exc:
                    unsaved = _unsaved_files(str(exc), self.root)
                    if unsaved is None:
                        raise
                    kept = [
                        p for p in unsaved if not any(p == o or p.startswith(o + "/") for o in rebuildable)
                    ]
                    if kept:
                        raise DvcError(
                            f"these files differ from dvc.lock and are not in the DVC cache: {', '.join(kept)}; "
                            "`dvc commit` them to keep them, or `dvc checkout --force` to drop them"
                        ) from exc
                    # outputs of the pipeline a failed run left behind: repro rebuilds them anyway
                    repo.checkout(targets=targets, with_deps=bool(stage), force=True)
            except CheckoutError as exc:
                return [str(p) for p in exc.target_infos]
        return []

    def push(self, stage: str | None = None) -> int:
        """Upload the cached data of `stage` and its upstream stages (all when None); how many files went.

        Raises DvcRemoteError (one line: what failed, what to do) when the remote cannot take them.
        """
        remote = self.default_remote()
        if remote is None:
            return 0
        with self._api() as repo, _remote_errors(remote, "dvc push"):
            return int(repo.push(targets=[stage] if stage else None, with_deps=bool(stage)))

    # -- reading results -----------------------------------------------------------------------

    def params(self, stages: Iterable[str] | None = None, rev: str | None = None) -> dict[str, Any]:
        """Parameter values the given stages depend on (all params when None), flattened to dotted keys."""
        with self._api() as repo:
            shown = repo.params.show(
                stages=list(stages) if stages is not None else None,
                deps_only=stages is not None,
                revs=[rev] if rev else None,
                hide_workspace=bool(rev),
            )
        files = _rev_entry(shown, rev).get("data", {})
        flat: dict[str, Any] = {}
        for path, entry in files.items():
            flat.update(_flatten(entry.get("data", {}), prefix=_params_prefix(path)))
        return flat

    def params_diff(self, rev: str, stages: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
        """Changed params between `rev` and the workspace: dotted key -> {"old": .., "new": ..}."""
        with self._api() as repo:
            kwargs: dict[str, Any] = {}
            if stages is not None:
                kwargs = {"stages": list(stages), "deps_only": True}
            diff = repo.params.diff(a_rev=rev, b_rev="workspace", **kwargs).get("diff", {})
        changed: dict[str, dict[str, Any]] = {}
        for path, keys in diff.items():
            prefix = _params_prefix(path)
            for key, change in keys.items():
                changed[prefix + key] = {"old": change.get("old"), "new": change.get("new")}
        return changed

    def metrics(self, paths: Iterable[str], rev: str | None = None) -> dict[str, float]:
        """Numeric metrics in `paths` (workspace, or at `rev`), flattened to dotted keys.

        In the workspace a missing or unreadable file raises DvcMetricsError. At a rev it means that
        commit had no metrics (an older pipeline), so it is skipped.
        """
        targets = list(paths)
        if not targets:
            return {}
        with self._api() as repo:
            shown = repo.metrics.show(targets=targets, revs=[rev] if rev else None, hide_workspace=bool(rev))
        entry = _rev_entry(shown, rev)
        if rev and "error" in entry:
            return {}
        if "error" in entry:
            raise DvcMetricsError(", ".join(targets), _reason(entry["error"]))
        files = entry.get("data", {})
        found: dict[str, dict[str, float]] = {}
        for path in targets:
            item = files.get(path)
            if item is None or "error" in item:
                if rev:
                    continue
                reason = _reason(item["error"]) if item else "DVC did not report it"
                raise DvcMetricsError(path, reason)
            values = {k: float(v) for k, v in _flatten(item.get("data", {})).items() if _is_number(v)}
            if not values and not rev:
                raise DvcMetricsError(path, "it holds no numeric values")
            found[path] = values
        return _merge_namespaced(found)

    def plots(self, stages: Iterable[str], *, top_level: bool, named: Iterable[str] = ()) -> list[Plot]:
        """The plots dvc.yaml defines, read as `dvc plots show` reads them, in dvc.yaml's order: those of the
        outputs of `stages`, the top-level `plots:` when `top_level`, and any whose id or source file is in
        `named` (or under a folder in it).

        Every format DVC reads works (JSON/YAML lists of rows or dicts of lists such as dvclive's
        `{"roc": [...]}`, CSV, TSV), with the definitions' `x`/`y` (several files in one chart), title and
        template. Images are returned as paths. A plot whose file cannot be read carries its error.
        """
        from dvc.render.converter.vega import VegaConverter, _file_field
        from dvc.repo.plots import infer_data_sources
        from dvc.utils.plots import group_definitions_by_id

        wanted_stages = set(stages)
        wanted = [n.rstrip("/") for n in named]
        with self._api() as repo:
            stage_outs = {
                out.def_path
                for stage in repo.index.stages
                if stage.addressing in wanted_stages
                for out in stage.outs
            }
            shown = repo.plots.show()
        workspace = _rev_entry(shown, None)
        definitions = workspace.get("definitions", {}).get("data", {})
        sources = workspace.get("sources", {}).get("data", {})
        plots: list[Plot] = []
        for inner_id, props in group_definitions_by_id(definitions).values():
            files = [str(f) for f in infer_data_sources(inner_id, props)]
            top = _is_top_level(definitions, inner_id)
            picked = (
                _in_outs(files, stage_outs)
                or (top_level and top)
                or any(_within(name, [inner_id, *files]) for name in wanted)
            )
            if not picked:
                continue
            title = str(props.get("title") or inner_id)
            errors = [
                _reason(sources[f]["error"]) for f in files if "error" in sources.get(f, {"error": "missing"})
            ]
            if _is_image(inner_id):
                plots.append(
                    Plot(id=inner_id, title=title, template="image", image=inner_id, error="; ".join(errors))
                )
                continue
            if errors:
                plots.append(
                    Plot(
                        id=inner_id,
                        title=title,
                        template=str(props.get("template", "linear")),
                        error=f"{', '.join(files)}: {errors[0]}",
                    )
                )
                continue
            data = {f: sources[f]["data"] for f in files}
            try:
                converter = VegaConverter(inner_id, data, dict(props))
                datapoints, properties = converter.convert()
                plots.append(_chart(inner_id, title, properties, datapoints, _file_field))
            except Exception as exc:  # a definition DVC itself cannot draw: say so on the card
                plots.append(Plot(id=inner_id, title=title, error=f"DVC cannot draw it: {exc}"))
        return plots

    # -- dvc.lock ------------------------------------------------------------------------------

    def lock_text(self) -> str:
        path = self.root / LOCK_FILE
        return path.read_text() if path.is_file() else ""

    def lock_hash(self) -> str:
        """The id of the whole dvc.lock (bot.core.lockfile.lock_hash); "" when there is no lock file."""
        text = self.lock_text()
        return lockfile.lock_hash(text) if text else ""

    def output_md5(self, stage: str, path: str) -> str:
        """The md5 dvc.lock records for output `path` of `stage`; "" when absent.

        For the model output this hash IS the identity of a trained model.
        """
        return lockfile.output_hash(self.lock_text(), stage, path) or ""

    def input_md5s(self, stages: str | Sequence[str], extra: Iterable[str] = ()) -> dict[str, str]:
        """Lineage: the file deps of `stages` -> md5, leaving out what one of them produces for another (the
        model an evaluate stage reads is not an input), plus each `extra` path wherever dvc.lock records it
        (as an output of an upstream stage or as another stage's dep)."""
        names = [stages] if isinstance(stages, str) else list(stages)
        text = self.lock_text()
        found: dict[str, str] = {}
        for name in names:
            for path, dep_md5 in lockfile.input_hashes(text, name).items():
                if not any(lockfile.output_hash(text, other, path) for other in names):
                    found.setdefault(path, dep_md5)
        stages_in_lock = _lock_stages(text)
        for path in extra:
            for name in stages_in_lock:
                if path in found:
                    break
                md5 = lockfile.output_hash(text, name, path) or lockfile.input_hashes(text, name).get(path)
                if md5:
                    found[path] = md5
        return found


def read_at_rev(root: Path, path: str, rev: str | None, *, mode: str = "r") -> str | bytes:
    """A file as it was at git `rev`, whether git or DVC tracks it (DVC fetches from the remote if needed)."""
    import dvc.api
    from dvc.exceptions import DvcException

    try:
        with dvc.api.open(path, repo=str(root), rev=rev, mode=mode) as handle:
            return handle.read()  # type: ignore[no-any-return]
    except (FileNotFoundError, DvcException) as exc:
        at = f" at {rev}" if rev else ""
        raise DvcError(f"cannot read {path}{at} through DVC: {exc}") from exc


def text_at_rev(root: Path, path: str, rev: str | None) -> io.StringIO:
    """`read_at_rev` as a text stream, for pandas.read_csv and friends."""
    data = read_at_rev(root, path, rev)
    return io.StringIO(data if isinstance(data, str) else data.decode())


def init_repo(root: Path, *, remote: Path | None = None, remote_name: str = "local") -> None:
    """`dvc init` in an existing git repository, analytics off, and `remote` (a folder) as default remote."""
    from dvc.repo import Repo

    repo = Repo.init(str(root))
    try:
        with repo.config.edit() as conf:
            conf["core"]["analytics"] = False
            if remote is not None:
                conf["remote"][remote_name] = {"url": str(Path(remote).resolve())}
                conf["core"]["remote"] = remote_name
    finally:
        repo.close()


def init_sample_project(dest: Path, remote: Path | None = None) -> Path:
    """A new git + DVC repository at `dest` holding the sample project (templates/project), committed on
    `main`, with `remote` (a folder, created if needed) as its default DVC remote. Returns `dest`.

    Used by `mlops-bot demo`, the tests and the benchmark. `dest` must not exist or be empty.
    """
    import shutil

    from bot.resources import template_path

    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()):
        raise DvcError(f"{dest} is not empty; the sample project needs a new folder")
    shutil.copytree(
        template_path("project"),
        dest,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    run_git(dest, "init", "-q", "-b", "main")
    if remote is not None:
        Path(remote).mkdir(parents=True, exist_ok=True)
    init_repo(dest, remote=remote)
    run_git(dest, "add", "-A")
    run_git(dest, "commit", "-q", "-m", "Sample DVC project from mlops-bot", as_bot=True)
    return dest


BOT_GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "mlops-bot",
    "GIT_AUTHOR_EMAIL": "mlops-bot@users.noreply.github.com",
    "GIT_COMMITTER_NAME": "mlops-bot",
    "GIT_COMMITTER_EMAIL": "mlops-bot@users.noreply.github.com",
}


def run_git(root: Path, *args: str, as_bot: bool = False) -> str:
    """`git <args>` in `root`; its stdout. `as_bot` commits as mlops-bot whatever identity is configured."""
    # A commit needs no credential: the bot's identity on a job step's allow-listed environment.
    env = {**job_environment(os.environ), **BOT_GIT_IDENTITY} if as_bot else None
    done = subprocess.run(["git", *args], cwd=root, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise GitError(
            f"`git {' '.join(args)}` failed in {root}: {done.stderr.strip() or done.stdout.strip()}"
        )
    return done.stdout


# -- pure helpers ------------------------------------------------------------------------------

_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".svg")
_OLD_LOCK_HINT = (
    "dvc.lock is in the format of DVC 1.x, which this DVC (3.x) cannot read. Regenerate it with a current "
    "DVC: delete dvc.lock and run `dvc repro` (or `dvc commit -f` when the outputs are in your workspace), "
    "then commit the new dvc.lock"
)


def _dvc_file_problem(root: Path, exc: Exception) -> str:
    """One line: which DVC file is invalid, why, and what to do. A DVC 1.x lock file has no `schema:` key."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "dvc.lock" in text:
        from ruamel.yaml import YAML

        try:
            lock = YAML(typ="safe").load((root / LOCK_FILE).read_text())
        except Exception:  # unreadable YAML: the generic message below says so
            lock = None
        if isinstance(lock, dict) and "schema" not in lock:
            return _OLD_LOCK_HINT
        return f"{text.rstrip('.')}: fix dvc.lock or regenerate it with `dvc repro`, then commit it"
    inner = getattr(exc, "exc", None) or exc.__cause__
    details = "; ".join(str(e) for e in (getattr(inner, "errors", None) or [])[:3])
    what = f" ({details})" if details else ""
    return f"{text.rstrip('.')}{what}: fix it (`dvc repro --dry` shows the same error)"


# DVC's own words when a remote's filesystem plugin is absent: "gdrive is supported, but requires
# 'dvc-gdrive' to be installed".
_MISSING_PLUGIN = re.compile(r"requires '(?P<package>dvc-[a-z0-9-]+)' to be installed")
_UNSAVED = "Can't remove the following unsaved files without confirmation"


@contextlib.contextmanager
def _remote_errors(remote: Remote, action: str) -> Iterator[None]:
    """A remote that fails becomes one line naming it and the fix, never a traceback."""
    from dvc.exceptions import DvcException

    where = f"the DVC remote '{remote.name}' ({scrub(remote.url)})"
    try:
        yield
    except ImportError as exc:
        match = _MISSING_PLUGIN.search(str(exc))
        if match is None:
            raise
        package = match["package"]
        raise DvcRemoteError(
            f"{action}: {where} needs the DVC plugin {package}, which is not installed: "
            f"`pip install {package}` where mlops-bot runs"
        ) from exc
    except (DvcException, OSError) as exc:
        if isinstance(exc, DvcError):
            raise
        reason = scrub(" ".join(str(exc).split())) or type(exc).__name__
        raise DvcRemoteError(
            f"{action} to {where} failed ({reason[:200]}): check the remote's URL and credentials, "
            f"then run `{action}` by hand"
        ) from exc


def _unsaved_files(message: str, root: Path) -> list[str] | None:
    """The files of DVC's "unsaved files ... Use `--force`" refusal, relative to `root`; None for another error."""
    if _UNSAVED not in message:
        return None
    paths = []
    for line in message.split("\n")[1:]:
        line = line.strip()
        if line:
            path = Path(line)
            paths.append(
                str(path.relative_to(root)) if path.is_absolute() and path.is_relative_to(root) else line
            )
    return paths


def _is_image(path: str) -> bool:
    return path.lower().endswith(_IMAGE_SUFFIXES)


def _within(name: str, candidates: Iterable[str]) -> bool:
    return any(c == name or c.startswith(name + "/") for c in candidates)


def _in_outs(files: Iterable[str], outs: set[str]) -> bool:
    return any(_within(out.rstrip("/"), [f]) for f in files for out in outs)


def _is_top_level(definitions: Mapping[str, Any], plot_id: str) -> bool:
    """A plot defined in a dvc.yaml's own `plots:` (keyed by that file), not in a stage's outs (keyed "")."""
    return any(key and plot_id in (entry.get("data") or {}) for key, entry in definitions.items())


def _chart(
    plot_id: str,
    title: str,
    properties: Mapping[str, Any],
    datapoints: Mapping[str, list[dict[str, Any]]],
    file_field: Any,
) -> Plot:
    """A chart from DVC's converted data: one series per (file, y field) of the definition, in its order."""
    template = str(properties.get("template") or "linear")
    ys = list(file_field(properties.get("y")))
    xs = list(file_field(properties.get("x"))) if isinstance(properties.get("x"), dict) else []
    as_text = template == "confusion"  # class labels stay as written: "0", not 0.0
    series = []
    for index, (y_file, y_field) in enumerate(ys):
        if len(xs) == len(ys):
            x_file, x_field = xs[index]
        elif xs:
            x_file, x_field = xs[0]
        else:
            x_file, x_field = y_file, "step"
        rows = datapoints.get(y_file, [])
        x_rows = datapoints.get(x_file, [])
        if x_field == "step":
            x_values: list[PlotValue] = [float(i) for i in range(len(rows))]
        else:
            x_values = [_plot_value(r.get(x_field), as_text) for r in x_rows]
        series.append(
            PlotSeries(
                source=y_file,
                x_field=x_field,
                y_field=y_field,
                x=x_values,
                y=[_plot_value(r.get(y_field), as_text) for r in rows],
            )
        )
    return Plot(
        id=plot_id,
        title=title,
        template=template,
        x_label=str(properties.get("x_label") or ""),
        y_label=str(properties.get("y_label") or ""),
        series=series,
    )


def _plot_value(value: Any, as_text: bool) -> PlotValue:
    if as_text or isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, int | float):
        return float(value)
    number = _number_or_text(value)
    return float(number) if isinstance(number, int | float) else str(number)


def _lock_stages(text: str) -> list[str]:
    from ruamel.yaml import YAML

    data = YAML(typ="safe").load(io.StringIO(text)) if text else None
    stages = data.get("stages") if isinstance(data, dict) else None
    return [str(name) for name in stages] if isinstance(stages, dict) else []


def _is_params(dep: Any) -> bool:
    return type(dep).__name__ == "ParamsDependency"


def _rev_entry(shown: Mapping[str, Any], rev: str | None) -> dict[str, Any]:
    """The entry of `rev` in a params/metrics show result. The workspace is keyed "" by the API
    ("workspace" by some versions); a rev is keyed as given, or by its full sha."""
    if not rev:
        for key in ("", "workspace"):
            if key in shown:
                return dict(shown[key])
        return {}
    if rev in shown:
        return dict(shown[rev])
    others = [v for k, v in shown.items() if k not in ("", "workspace")]
    return dict(others[0]) if len(others) == 1 else {}


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, Mapping):
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(_flatten(value, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: data} if prefix else {}


def _params_prefix(path: str) -> str:
    # MLflow param names allow ':' but the card reads better without a prefix for the usual file.
    return "" if path == PARAMS_FILE else f"{path}:"


def _merge_namespaced(per_file: Mapping[str, dict[str, float]]) -> dict[str, float]:
    """One dict of metrics; a name found in two files keeps its file as a prefix to stay unambiguous."""
    seen: dict[str, int] = {}
    for values in per_file.values():
        for key in values:
            seen[key] = seen.get(key, 0) + 1
    merged: dict[str, float] = {}
    for path, values in per_file.items():
        for key, value in values.items():
            merged[key if seen[key] == 1 else f"{path}:{key}"] = value
    return merged


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number_or_text(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _reason(error: Any) -> str:
    if isinstance(error, FileNotFoundError):
        return "the file does not exist (did the stage write it?)"
    if isinstance(error, BaseException):
        return f"{type(error).__name__}: {error}"
    return str(error)
