"""Repository configuration: `.github/mlops-bot.yml`, always read from the default branch.

The model is pydantic; the file is read with ruamel.yaml so an error can name the line of the
offending key. `load_config(text, path)` is the one entry point.
"""

from __future__ import annotations

import io
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.core.permissions import Permission

CONFIG_PATH = ".github/mlops-bot.yml"

Direction = Literal["higher", "lower"]
PermissionName = Literal["none", "read", "triage", "write", "maintain", "admin"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MetricSpec(_Strict):
    """A metric the card shows and the promotion gate judges."""

    name: str
    direction: Direction = "higher"
    tolerance: float = Field(0.0, ge=0, description="How much worse than the champion is still allowed.")
    min: float | None = Field(None, description="Absolute floor (higher is better) the candidate must reach.")
    max: float | None = Field(
        None, description="Absolute ceiling (lower is better) the candidate must stay under."
    )

    def better(self, candidate: float, reference: float) -> bool:
        return candidate > reference if self.direction == "higher" else candidate < reference


class DriftRetrain(_Strict):
    """How a retrain PR changes the repository: YAML keys set in one file."""

    file: str = "params.yaml"
    set: dict[str, Any] = Field(default_factory=dict, description="Dotted key -> new value.")


class DriftSpec(_Strict):
    current: str = Field(
        ..., description="Production data: a path, a glob or a DVC-tracked file (CSV/Parquet)."
    )
    reference: str = Field(
        ..., description="Training data path in the repository, resolved at the champion's sha."
    )
    columns: list[str] | None = None
    numerical_columns: list[str] | None = None
    categorical_columns: list[str] | None = None
    method: str | None = None
    threshold: float | None = None
    per_column_method: dict[str, str] = Field(default_factory=dict)
    per_column_threshold: dict[str, float] = Field(default_factory=dict)
    drift_share: float = Field(0.5, gt=0, le=1)
    consecutive: int = Field(2, ge=1, description="Breaching checks in a row before drift counts.")
    sample_cap: int = Field(200_000, ge=100)
    reopen: Literal["reopen", "replace"] = "reopen"
    close_when_clear: bool = False
    retrain: DriftRetrain = Field(default_factory=DriftRetrain)


class ModelSpec(_Strict):
    name: str = Field(..., pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    stage: str = Field(..., description="The DVC stage that trains this model.")
    output: str = Field(..., description="The model file the stage writes (a DVC out).")
    flavor: Literal["sklearn"] = "sklearn"
    metrics: list[MetricSpec] = Field(default_factory=list)
    intended_use: str = ""
    caveats: list[str] = Field(default_factory=list)
    training_data: list[str] = Field(default_factory=list, description="Input paths shown as lineage.")
    drift: DriftSpec | None = None

    def metric(self, name: str) -> MetricSpec | None:
        return next((m for m in self.metrics if m.name == name), None)


class Aliases(_Strict):
    champion: str = "champion"
    previous: str = "previous"


class Promotion(_Strict):
    on_merge: bool = True
    missing_candidate: Literal["refuse", "train"] = "refuse"
    allow_on_open_pr: bool = False
    required_approvals: int = Field(0, ge=0)
    required_checks: list[str] = Field(default_factory=list)
    environment: str = "production"


class Permissions(_Strict):
    """Minimum repository permission for each command."""

    train: PermissionName = "write"
    card: PermissionName = "read"
    promote: PermissionName = "maintain"
    rollback: PermissionName = "maintain"
    drift: PermissionName = "write"
    ok_to_test: PermissionName = Field("write", alias="ok-to-test")
    help: PermissionName = "read"

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    def required(self, verb: str) -> Permission:
        value = getattr(self, verb.replace("-", "_"), "admin")
        return Permission.parse(value)


class RepoConfig(_Strict):
    version: Literal[1] = 1
    models: list[ModelSpec] = Field(default_factory=list)
    aliases: Aliases = Field(default_factory=Aliases)
    promotion: Promotion = Field(default_factory=Promotion)
    permissions: Permissions = Field(default_factory=Permissions)
    reconcile: Literal["report", "correct"] = "report"
    card_template: str | None = Field(None, description="Repository path of a Jinja2 card template.")
    mlflow_experiment: str = "mlops-bot"

    @field_validator("models")
    @classmethod
    def _unique_names(cls, models: list[ModelSpec]) -> list[ModelSpec]:
        names = [m.name for m in models]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"model names must be unique; repeated: {', '.join(dupes)}")
        return models

    def model(self, name: str | None) -> ModelSpec | None:
        """The named model, or the only one when no name is given."""
        if name is None:
            return self.models[0] if len(self.models) == 1 else None
        return next((m for m in self.models if m.name == name), None)


class ConfigError(Exception):
    """A config file that cannot be used; the message names the file, line and key."""

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__(f"{path}: " + "; ".join(problems))


def load_config(text: str, path: str = CONFIG_PATH) -> RepoConfig:
    """Parse and validate a config file. An empty file gives the defaults."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    yaml = YAML(typ="rt")
    try:
        data = yaml.load(io.StringIO(text))
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "somewhere"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(path, [f"{where}: not valid YAML: {problem}"]) from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(path, ["line 1: the top level must be a mapping (key: value)"])
    try:
        return RepoConfig.model_validate(_plain(data))
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = [str(p) for p in err["loc"]]
            line = _line_of(data, err["loc"])
            where = f"line {line}: " if line else ""
            problems.append(f"{where}{'.'.join(loc) or '(top level)'}: {err['msg']}")
        raise ConfigError(path, problems) from exc


def config_schema() -> dict[str, Any]:
    """JSON Schema of the config file, for editors."""
    schema = RepoConfig.model_json_schema(by_alias=True)
    schema["title"] = "mlops-bot repository configuration (.github/mlops-bot.yml)"
    return schema


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def _line_of(data: Any, loc: tuple[Any, ...]) -> int | None:
    """1-based line of the deepest key of `loc` that exists in the ruamel tree."""
    node, line = data, None
    for part in loc:
        lc = getattr(node, "lc", None)
        try:
            if isinstance(node, dict) and part in node:
                if lc is not None:
                    line = lc.key(part)[0] + 1
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and part < len(node):
                if lc is not None:
                    line = lc.item(part)[0] + 1
                node = node[part]
            else:
                break
        except (KeyError, IndexError, TypeError):
            break
    return line
