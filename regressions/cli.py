"""`inferwatch regressions`: compare two populations of stored windows and gate on the verdict."""

from __future__ import annotations

import sys
from typing import Any

import click

from inferwatch.errors import InferwatchError
from inferwatch.queries.cli import CliError, data_options, open_source

from .engine import build_cohorts, compare
from .model import Report, Status
from .source import fetch_populations
from .thresholds import Thresholds, load_thresholds

__all__ = ["format_report", "regressions"]


def format_report(report: Report, show_ok: bool = False) -> str:
    """A readable table: one line per gated finding (regressions first), then the verdict."""
    order = {Status.REGRESSION: 0, Status.INSUFFICIENT: 1, Status.OK: 2}
    lines = [
        f"{'cohort':<44} {'check':<18} {'status':<12} {'baseline':>10} {'candidate':>10} "
        f"{'effect':>8} {'p adj':>8} {'n base':>8} {'n cand':>8}"
    ]
    for f in sorted(report.findings, key=lambda f: (order[f.status], " ".join(f.cohort.values()), f.check)):
        if not f.gated or (f.status is Status.OK and not show_ok):
            continue
        label = " ".join(f"{v}" for v in f.cohort.values())
        effect = (
            ""
            if f.effect is None
            else (f"{f.effect:+.1%}" if f.effect_kind == "relative" else f"{f.effect:+.4f}")
        )
        p = "" if f.p_adjusted is None else f"{f.p_adjusted:.2g}"
        lines.append(
            f"{label[:44]:<44} {f.check:<18} {f.status.value:<12} {_num(f.baseline):>10} "
            f"{_num(f.candidate):>10} {effect:>8} {p:>8} {f.n_baseline:>8} {f.n_candidate:>8}"
        )
        if f.status is Status.INSUFFICIENT and f.reason:
            lines.append(f"{'':<44}   ↳ {f.reason}")
    counts = {s: sum(f.status is s for f in report.findings if f.gated) for s in Status}
    lines.append(
        f"verdict: {report.verdict.value} — {counts[Status.REGRESSION]} regression(s), "
        f"{counts[Status.INSUFFICIENT]} without enough data, {counts[Status.OK]} ok "
        f"(alpha {report.alpha:g}, {report.correction}){' — observational' if report.observational else ''}"
    )
    return "\n".join(lines)


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


@click.command(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.option("--model", required=True, help="The model to check.")
@click.option("--baseline-version", help="Compare two versions: the one in production …")
@click.option("--candidate-version", help="… and the one being rolled out.")
@click.option(
    "--since", default="-24h", show_default=True, help="Start of the range (versions, targets, device)."
)
@click.option("--until", default="now", show_default=True, help="End of the range.")
@click.option("--baseline-since", help="Compare two time ranges: start of the baseline range.")
@click.option("--baseline-until", help="End of the baseline range.")
@click.option("--candidate-since", help="Start of the candidate range.")
@click.option("--candidate-until", default="now", show_default=True, help="End of the candidate range.")
@click.option("--version", help="With time ranges or targets: only this model version.")
@click.option("--compare-targets", is_flag=True, help="Edge (candidate) vs cloud (baseline); observational.")
@click.option("--device", help="One device (candidate) vs the other devices of its hardware (baseline).")
@click.option("--target", help="Only edge or cloud.")
@click.option("--hardware", help="Only this hardware label.")
@click.option("--service", help="Only this service.")
@click.option(
    "--split-by",
    default="model,target,hardware",
    show_default=True,
    help="Cohort dimensions, comma separated (model is always kept).",
)
@click.option(
    "--thresholds", "thresholds_file", type=click.Path(dir_okay=False), help="TOML or YAML thresholds."
)
@click.option(
    "--threshold",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override one threshold, e.g. latency.threshold=0.2 or models.digits.errors.threshold=0.01.",
)
@click.option("--alpha", type=click.FloatRange(0, 1, min_open=True, max_open=True), help="Family-wise alpha.")
@click.option("--correction", type=click.Choice(["holm", "bh", "none"]), help="Multiple-testing control.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--show-ok", is_flag=True, help="Also list the checks that passed.")
@data_options
def regressions(
    model,
    baseline_version,
    candidate_version,
    since,
    until,
    baseline_since,
    baseline_until,
    candidate_since,
    candidate_until,
    version,
    compare_targets,
    device,
    target,
    hardware,
    service,
    split_by,
    thresholds_file,
    overrides,
    alpha,
    correction,
    fmt,
    show_ok,
    collector,
    db,
    token,
):
    """Flag a worse model version, time range, target or device from the stored histograms.

    Latency quantiles (exceedance test), error rate (two-proportion), confidence (mean and low
    tail) and memory (average and peak RSS), each with effect size, adjusted p-value and sample
    sizes, per model × target × hardware, with Holm control across everything tested.
    Methods: docs/regressions.md.

    \b
    Examples:
      # canary gate in a rollout pipeline: roll back on exit code 1, hold on 3
      inferwatch regressions --model digits --baseline-version 1.4.0 --candidate-version 1.5.0 --since -2h
      inferwatch regressions --model digits --baseline-since -8d --baseline-until -7d --candidate-since -1d
      inferwatch regressions --model digits --compare-targets --format json
      inferwatch regressions --model digits --device gw-17 --threshold latency.threshold=0.2

    \b
    Exit codes: 0 PASS (no regression, enough data), 1 FAIL (a regression), 2 usage or data error,
    3 INCONCLUSIVE (no regression found but not enough data to pass: hold, never auto-promote).
    """
    modes = sum(
        bool(m) for m in (baseline_version or candidate_version, baseline_since, compare_targets, device)
    )
    if modes != 1:
        raise CliError(
            "choose one comparison: --baseline-version/--candidate-version, --baseline-since/"
            "--candidate-since, --compare-targets, or --device"
        )
    common: dict[str, Any] = {"model": model, "service": service, "target": target, "hardware": hardware}
    split = tuple(dict.fromkeys(["model", *[s.strip() for s in split_by.split(",") if s.strip()]]))
    unknown = set(split) - {"model", "target", "hardware"}
    if unknown:
        raise CliError(f"--split-by takes model, target and hardware, not {sorted(unknown)[0]!r}")
    observational = None
    if baseline_version or candidate_version:
        if not (baseline_version and candidate_version):
            raise CliError("give both --baseline-version and --candidate-version")
        comparison = "versions"
        base = {**common, "since": since, "until": until, "version": baseline_version}
        cand = {**common, "since": since, "until": until, "version": candidate_version}
    elif baseline_since:
        if not (baseline_until and candidate_since):
            raise CliError("time ranges need --baseline-since, --baseline-until and --candidate-since")
        comparison = "time_ranges"
        base = {**common, "since": baseline_since, "until": baseline_until, "version": version}
        cand = {**common, "since": candidate_since, "until": candidate_until, "version": version}
    elif compare_targets:
        if target:
            raise CliError("--compare-targets compares edge with cloud; drop --target")
        comparison, observational = "edge_vs_cloud", True
        split = ("model",)  # hardware differs by construction between the two sides
        base = {**common, "since": since, "until": until, "version": version, "target": "cloud"}
        cand = {**common, "since": since, "until": until, "version": version, "target": "edge"}
    else:
        comparison = "device_vs_cohort"
        base = {**common, "since": since, "until": until, "version": version, "exclude_device": device}
        cand = {**common, "since": since, "until": until, "version": version, "device": device}

    try:
        thresholds = load_thresholds(thresholds_file) if thresholds_file else Thresholds()
        if alpha is not None:
            overrides = (*overrides, f"alpha={alpha}")
        if correction is not None:
            overrides = (*overrides, f"correction={correction}")
        if overrides:
            thresholds = thresholds.with_overrides(overrides)
        source = open_source(collector, db, token)
        candidate_rows = fetch_populations(source, cand)
        if comparison == "device_vs_cohort":
            if not candidate_rows:
                raise CliError(f"device {device!r} has no windows of model {model!r} in the range")
            hardware_of_device = {key["hardware"] for key, _ in candidate_rows}
            baseline_rows = [
                (k, p) for k, p in fetch_populations(source, base) if k["hardware"] in hardware_of_device
            ]
        else:
            baseline_rows = fetch_populations(source, base)
    except InferwatchError as exc:
        raise CliError(str(exc)) from None
    if not baseline_rows and not candidate_rows:
        raise CliError(
            f"no windows of model {model!r} on either side — check --model and the time range "
            "(`inferwatch query run version_comparison` lists what is stored)"
        )
    report = compare(
        build_cohorts(baseline_rows, candidate_rows, split),
        thresholds,
        comparison=comparison,
        observational=observational,
    )
    click.echo(report.to_json(indent=2) if fmt == "json" else format_report(report, show_ok))
    sys.exit(report.exit_code)
