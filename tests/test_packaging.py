"""The distribution: a light agent install, extras for the rest, a CLI that names missing extras."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import requires

from click.testing import CliRunner
from packaging.requirements import Requirement

import inferwatch
from inferwatch.cli import COMMANDS, main, require_extra

HEAVY = {"duckdb", "pandas", "streamlit", "plotly", "pyarrow", "numpy", "scikit-learn", "scipy", "torch"}


def test_plain_install_pulls_in_nothing_heavy():
    base = [Requirement(r) for r in requires("inferwatch")]
    unconditional = {r.name.lower() for r in base if r.marker is None}
    assert unconditional == {"opentelemetry-sdk", "opentelemetry-exporter-otlp", "psutil", "click"}
    assert not unconditional & HEAVY
    extras = {str(r.marker).split('"')[1] for r in base if r.marker is not None}
    assert {"collector", "dashboard", "all", "test"} <= extras


def test_importing_the_agent_loads_no_heavy_module():
    code = ("import sys, inferwatch; inferwatch.observe('m')(lambda: 1)(); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "{'duckdb','pandas','streamlit','plotly','pyarrow','numpy','sklearn','scipy','torch'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


def test_cli_help_lists_commands_and_version():
    runner = CliRunner()
    result = runner.invoke(main, ["-h"])
    assert result.exit_code == 0 and "collector" in result.output and "Examples" in result.output
    result = runner.invoke(main, ["--version"])
    assert inferwatch.__version__ in result.output


def test_a_subcommand_whose_extra_is_missing_names_the_pip_install(monkeypatch):
    monkeypatch.setitem(COMMANDS, "ghost", ("ghost_pkg_that_is_not_installed.cli:ghost", "ghost", "A ghost."))
    result = CliRunner().invoke(main, ["ghost", "--anything"])
    assert result.exit_code == 2
    assert "pip install 'inferwatch[ghost]'" in result.output


def test_require_extra_raises_a_missing_extra_error():
    try:
        require_extra("collector", "module_that_does_not_exist_xyz")
    except inferwatch.MissingExtraError as exc:
        assert "pip install 'inferwatch[collector]'" in str(exc)
    else:
        raise AssertionError("MissingExtraError was not raised")
