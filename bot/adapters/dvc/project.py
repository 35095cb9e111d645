"""One DVC repository on disk, through DVC's Python API in process (opening a repo costs ~0.1 s, the CLI
~0.7 s per call): its configuration and pipeline (dvc.yaml, dvc.lock, params), `dvc repro`, the remote,
and what a run produced."""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from bot.adapters.dvc.errors import (
    DvcError,
    DvcFileError,
    DvcMissingDataError,
    DvcRemoteError,
    dvc_file_problem,
)
from bot.adapters.dvc.remote import checkout_from_cache, remote_errors
from bot.adapters.dvc.repro import run_repro
from bot.adapters.dvc.results import metrics_from_show, params_from_diff, params_from_show, plots_from_show
from bot.adapters.dvc.values import LOCK_FILE, Remote, ReproResult, StageFiles
from bot.adapters.sandbox import Sandbox
from bot.core import lockfile
from bot.core.models import Plot


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
            raise DvcFileError(dvc_file_problem(self.root, exc)) from exc

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
        return run_repro(
            self.root,
            stage,
            targets=targets,
            echo=echo,
            sandbox=sandbox,
            pass_env=pass_env,
            extra_env=extra_env,
            timeout_s=timeout_s,
            requirements=requirements,
        )

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
                    with self._api() as repo, remote_errors(remote, "dvc pull"):
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
        with self._local_api() as repo:
            return checkout_from_cache(repo, self.root, stage, rebuildable)

    def push(self, stage: str | None = None) -> int:
        """Upload the cached data of `stage` and its upstream stages (all when None); how many files went.

        Raises DvcRemoteError (one line: what failed, what to do) when the remote cannot take them.
        """
        remote = self.default_remote()
        if remote is None:
            return 0
        with self._api() as repo, remote_errors(remote, "dvc push"):
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
        return params_from_show(shown, rev)

    def params_diff(self, rev: str, stages: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
        """Changed params between `rev` and the workspace: dotted key -> {"old": .., "new": ..}."""
        with self._api() as repo:
            kwargs: dict[str, Any] = {}
            if stages is not None:
                kwargs = {"stages": list(stages), "deps_only": True}
            diff = repo.params.diff(a_rev=rev, b_rev="workspace", **kwargs).get("diff", {})
        return params_from_diff(diff)

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
        return metrics_from_show(shown, targets, rev)

    def plots(self, stages: Iterable[str], *, top_level: bool, named: Iterable[str] = ()) -> list[Plot]:
        """The plots dvc.yaml defines, read as `dvc plots show` reads them, in dvc.yaml's order: those of the
        outputs of `stages`, the top-level `plots:` when `top_level`, and any whose id or source file is in
        `named` (or under a folder in it).

        Every format DVC reads works (JSON/YAML lists of rows or dicts of lists such as dvclive's
        `{"roc": [...]}`, CSV, TSV), with the definitions' `x`/`y` (several files in one chart), title and
        template. Images are returned as paths. A plot whose file cannot be read carries its error.
        """
        wanted_stages = set(stages)
        with self._api() as repo:
            stage_outs = {
                out.def_path
                for stage in repo.index.stages
                if stage.addressing in wanted_stages
                for out in stage.outs
            }
            shown = repo.plots.show()
        return plots_from_show(shown, stage_outs, top_level=top_level, named=named)

    # -- dvc.lock ------------------------------------------------------------------------------

    def lock_text(self) -> str:
        path = self.root / LOCK_FILE
        return path.read_text() if path.is_file() else ""

    def has_commit(self, sha: str) -> bool:
        """Whether the clone holds commit `sha` (a shallow clone may lack the PR's base)."""
        from bot.adapters.dvc.repo import run_git

        try:
            run_git(self.root, "cat-file", "-e", f"{sha}^{{commit}}")
        except DvcError:
            return False
        return True

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


def _lock_stages(text: str) -> list[str]:
    from ruamel.yaml import YAML

    data = YAML(typ="safe").load(io.StringIO(text)) if text else None
    stages = data.get("stages") if isinstance(data, dict) else None
    return [str(name) for name in stages] if isinstance(stages, dict) else []


def _is_params(dep: Any) -> bool:
    return type(dep).__name__ == "ParamsDependency"
