"""DVC parses dvc.yaml and dvc.lock some 40 times per `mlops-bot train`: with ruamel.yaml's C parser installed
(ruamel.yaml 0.19 no longer brings it) that is 0.24 s of a no-op push instead of 3.8 s (issue 12)."""

from __future__ import annotations

import platform

import pytest


@pytest.mark.skipif(platform.python_implementation() != "CPython", reason="the C parser is for CPython")
def test_the_safe_yaml_loads_dvc_makes_use_the_c_parser() -> None:
    from dvc.utils.serialize._yaml import parse_yaml
    from ruamel.yaml import YAML

    assert YAML(typ="safe").Parser.__name__ == "CParser", (
        "ruamel.yaml.clib is not installed (pyproject: dvc extra)"
    )
    assert parse_yaml("stages:\n  train:\n    cmd: python train.py\n", "dvc.yaml") == {
        "stages": {"train": {"cmd": "python train.py"}}
    }
