"""Thresholds: defaults, per-model overrides from TOML/YAML, CLI-style overrides, clear errors."""

from __future__ import annotations

import pytest

from inferwatch.errors import ConfigurationError
from inferwatch.regressions import Thresholds, load_thresholds

GOOD_TOML = """
alpha = 0.05
correction = "bh"

[latency]
threshold = 0.15
quantiles = [0.5, 0.95]

[memory]
peak_threshold = 0.2

[models.digits.errors]
threshold = 0.01
"""


def test_defaults_are_the_documented_ones():
    th = Thresholds()
    d = th.for_model("anything")
    assert (th.alpha, th.correction, th.power) == (0.01, "holm", 0.8)
    assert d.latency.threshold == 0.10 and d.latency.quantiles == (0.5, 0.95, 0.99)
    assert d.errors.threshold == 0.005
    assert d.confidence.mean_threshold == 0.02 and d.confidence.p05_threshold == 0.02
    assert d.memory.avg_threshold == 0.10 and d.memory.peak_threshold == 0.10


def test_toml_file_sets_defaults_and_per_model_overrides_inherit_them(tmp_path):
    path = tmp_path / "thresholds.toml"
    path.write_text(GOOD_TOML)
    th = load_thresholds(path)
    assert th.alpha == 0.05 and th.correction == "bh"
    other, digits = th.for_model("other"), th.for_model("digits")
    assert other.latency.threshold == 0.15 and other.latency.quantiles == (0.5, 0.95)
    assert other.errors.threshold == 0.005 and other.memory.peak_threshold == 0.2
    assert digits.errors.threshold == 0.01 and digits.latency.threshold == 0.15


def test_yaml_file_reads_the_same_settings(tmp_path):
    pytest.importorskip("yaml")
    path = tmp_path / "thresholds.yaml"
    path.write_text(
        "alpha: 0.02\nlatency:\n  threshold: 0.2\nmodels:\n  digits:\n    memory:\n      min_windows: 3\n"
    )
    th = load_thresholds(path)
    assert th.alpha == 0.02 and th.for_model("x").latency.threshold == 0.2
    assert th.for_model("digits").memory.min_windows == 3


def test_cli_overrides_change_one_key_and_keep_the_rest(tmp_path):
    path = tmp_path / "t.toml"
    path.write_text(GOOD_TOML)
    th = load_thresholds(path).with_overrides(
        [
            "latency.threshold=0.3",
            "models.resnet.errors.threshold=0.02",
            "alpha=0.01",
            "latency.quantiles=[0.9, 0.99]",
        ]
    )
    assert th.alpha == 0.01 and th.for_model("x").latency.threshold == 0.3
    assert th.for_model("x").latency.quantiles == (0.9, 0.99)
    assert th.for_model("resnet").errors.threshold == 0.02
    assert th.for_model("digits").errors.threshold == 0.01


def test_round_trip_through_to_dict():
    th = Thresholds.from_dict({"alpha": 0.03, "models": {"m": {"confidence": {"mean_threshold": 0.05}}}})
    assert Thresholds.from_dict(th.to_dict()) == th


@pytest.mark.parametrize(
    "text, message",
    [
        ("alpha = ", "not valid TOML"),
        ("alpah = 0.05", "unknown setting 'alpah'"),
        ("alpha = 2", "alpha must be a number in (0, 0.5)"),
        ('correction = "bonferroni"', "correction must be one of holm, bh, none"),
        ('[latency]\nthreshold = "ten"', "latency.threshold must be a number"),
        ("[latency]\nthreshhold = 0.1", "latency.threshhold: unknown setting"),
        ("[latency]\nquantiles = [0.5, 95]", "quantiles must lie strictly between 0 and 1"),
        ("[errors]\nmin_calls = -3", "min_calls must be a whole number"),
        ("[memory]\nenabled = 1", "enabled must be true or false"),
        ("[models.digits]\nalpha = 0.1", "family-wide"),
        ("[models.digits.latncy]\nthreshold = 0.1", "unknown section 'latncy'"),
        ("[errors]\nweight = 0\n", "errors.weight must be > 0"),
        ("[latency]\nweights = [1, 2]\n", "one weight per quantile"),
        ("[latency]\nweights = [1, -2, 1]\n", "weights must be > 0"),
    ],
)
def test_bad_files_say_what_is_wrong_and_where(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigurationError) as err:
        load_thresholds(path)
    assert message in str(err.value) and str(path) in str(err.value)


def test_missing_file_and_unknown_format_are_clear(tmp_path):
    with pytest.raises(ConfigurationError, match="cannot read thresholds file"):
        load_thresholds(tmp_path / "nope.toml")
    path = tmp_path / "t.ini"
    path.write_text("x")
    with pytest.raises(ConfigurationError, match=r"use \.toml, \.yaml or \.yml"):
        load_thresholds(path)


def test_bad_cli_overrides_are_clear():
    with pytest.raises(ConfigurationError, match="not key=value"):
        Thresholds().with_overrides(["latency.threshold"])
    with pytest.raises(ConfigurationError, match="unknown key 'latency.thresh'"):
        Thresholds().with_overrides(["latency.thresh=0.1"])


def test_default_alpha_weights_sum_to_one_and_favour_errors_and_p95():
    d = Thresholds().defaults
    weights = [*d.latency.weights, d.errors.weight, d.confidence.mean_weight, d.confidence.p05_weight]
    weights += [d.memory.avg_weight, d.memory.peak_weight]
    assert sum(weights) == pytest.approx(1.0)
    assert d.errors.weight == 0.40 and d.latency.quantile_weights() == (0.10, 0.30, 0.025)


def test_weights_are_read_from_a_file_and_flags_and_follow_the_quantiles(tmp_path):
    path = tmp_path / "t.toml"
    path.write_text("[errors]\nweight = 2\n[latency]\nquantiles = [0.9, 0.95]\n[memory]\npeak_weight = 0.5\n")
    th = load_thresholds(path)
    assert th.defaults.errors.weight == 2.0 and th.defaults.memory.peak_weight == 0.5
    assert th.defaults.latency.weights == (0.05, 0.30)  # new quantiles take their default weights
    th = Thresholds().with_overrides(["latency.quantiles=[0.5,0.95]"])
    assert th.defaults.latency.weights == (0.10, 0.30)
    th = Thresholds().with_overrides(["latency.quantiles=[0.5,0.95]", "latency.weights=[1,1]"])
    assert th.defaults.latency.weights == (1.0, 1.0)
