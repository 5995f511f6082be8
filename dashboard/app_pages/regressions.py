"""Regressions: the regression engine's findings, each with its evidence (distributions, effect, samples)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from inferwatch.dashboard import data, page
from inferwatch.dashboard.evidence import evidence_figure, version_key
from inferwatch.dashboard.filters import Filters
from inferwatch.dashboard.format import fmt_pct, missing
from inferwatch.dashboard.state import remembered
from inferwatch.regressions import DEFAULT_SPLIT, Finding, Report, Status, build_cohorts, compare
from inferwatch.regressions.source import population_from_row

MODES = {"versions": "Two versions", "edge_vs_cloud": "Edge vs cloud",
         "time_ranges": "This range vs the one before"}
PREVIOUS = {"-15m": ("-30m", "-15m"), "-1h": ("-2h", "-1h"), "-6h": ("-12h", "-6h"), "-24h": ("-48h", "-24h"),
            "-7d": ("-14d", "-7d"), "-30d": ("-60d", "-30d")}
STATUS_ICON = {Status.REGRESSION: ":material/error:", Status.OK: ":material/check_circle:",
               Status.INSUFFICIENT: ":material/help:"}


def _populations(params: dict) -> list:
    """(key, Population) per model, target and hardware from the `regression_inputs` named query (as the CLI).

    It merges histograms in SQL (unnest + GROUP BY) and reads hourly rollups past 6 hours; folding every
    window's histogram list took minutes on a month of a 1,000-device fleet.
    """
    frame = data.run_named("regression_inputs", params)
    return [({"model": str(r["model"]), "target": str(r["target"]), "hardware": str(r["hardware"])},
             population_from_row(r)) for r in frame.to_dict("records")]


def _sides(f: Filters, mode: str) -> tuple[list, list, tuple[str, ...], str] | None:
    """Baseline and candidate (key, Population) rows, the split and a sentence saying what is compared."""
    if mode == "versions":
        table = data.run_named("version_comparison", f.params(version=None))
        models = sorted(table["model"].unique()) if not table.empty else []
        if not models:
            return None
        cols = st.columns(3)
        key, keep = remembered("reg.model", models[0], models)
        model = cols[0].selectbox("Model", models, key=key, on_change=keep)
        versions = sorted(table.loc[table["model"] == model, "model_version"].unique(), key=version_key)
        if len(versions) < 2:
            st.info(f"{model} has one version in the range ({', '.join(versions)}); a version comparison "
                    "needs two. Widen the time range, or compare edge with cloud.")
            return None
        key, keep = remembered("reg.baseline", versions[-2], versions)
        base = cols[1].selectbox("Baseline version", versions, key=key, on_change=keep)
        key, keep = remembered("reg.candidate", versions[-1], versions)
        cand = cols[2].selectbox("Candidate version", versions, key=key, on_change=keep)
        if base == cand:
            st.info("Pick two different versions.")
            return None
        bp, cp = f.params(model=model, version=base), f.params(model=model, version=cand)
        data.prefetch(lambda: _populations(bp), lambda: _populations(cp))
        return _populations(bp), _populations(cp), DEFAULT_SPLIT, f"{model} {base} → {cand}"
    if mode == "edge_vs_cloud":  # hardware differs by construction between the sides: split by model
        bp, cp = f.params(target="cloud"), f.params(target="edge")
        data.prefetch(lambda: _populations(bp), lambda: _populations(cp))
        versions = f"version {f.version}" if f.version else "all versions (pick one in the sidebar)"
        return (_populations(bp), _populations(cp), ("model",),
                f"cloud (baseline) vs edge (candidate), per model, {versions}")
    since, until = PREVIOUS[f.since]
    bp, cp = f.params(since=since, until=until), f.params()
    data.prefetch(lambda: _populations(bp), lambda: _populations(cp))
    return (_populations(bp), _populations(cp), DEFAULT_SPLIT,
            f"{f.range_label.lower()} vs the {f.range_label.lower().replace('last ', '')} before")


def _value(f: Finding, v: float | None) -> str:
    if missing(v):
        return "–"
    if f.check.startswith("latency"):
        return f"{v:.3g} ms"
    if f.check.startswith("errors"):
        return fmt_pct(v)
    if f.check.startswith("memory"):
        return f"{v / 1e6:.1f} MB"
    return f"{v:.3f}"


def _effect(f: Finding) -> str:
    if missing(f.effect):
        return "–"
    if f.effect_kind == "relative":
        return f"{f.effect:+.1%}"
    if f.check.startswith("errors"):
        return f"{f.effect * 100:+.2f} pp"
    return f"{f.effect:+.3f}"


def _table(report: Report) -> pd.DataFrame:
    return pd.DataFrame([{
        "status": x.status.value, "check": x.check,
        "cohort": " ".join(f"{k}={v}" for k, v in x.cohort.items()),
        "baseline": _value(x, x.baseline), "candidate": _value(x, x.candidate), "effect": _effect(x),
        "n baseline": x.n_baseline, "n candidate": x.n_candidate,
        "p (adjusted)": None if missing(x.p_adjusted) else float(x.p_adjusted), "reason": x.reason,
    } for x in report.findings])


def _id(x: Finding) -> str:
    """What a finding is about (stable while its values change with the filters)."""
    return f"{x.check} " + " ".join(f"{k}={v}" for k, v in x.cohort.items())


def _label(x: Finding) -> str:
    return (f"{x.status.value}: {x.check} · " + " ".join(f"{k}={v}" for k, v in x.cohort.items())
            + f" — {_value(x, x.baseline)} → {_value(x, x.candidate)} ({_effect(x)})")


def _finding(x: Finding, index: int) -> None:
    """One finding's evidence: baseline vs candidate distributions (or bars), effect, samples and reason."""
    with st.container(border=True):
        st.markdown(f"{STATUS_ICON[x.status]} **{_label(x)}**")
        left, right = st.columns([3, 1])
        figure = evidence_figure(x)
        if figure is not None:
            left.plotly_chart(figure, key=f"evidence-{index}")
        else:
            left.caption("No distribution to plot for this check.")
        right.metric("Effect", _effect(x), help=f"{x.effect_kind} change, candidate vs baseline")
        if x.ci is not None and not missing(x.ci[0]):
            ci = x.ci
            right.caption(f"interval: {_effect_value(x, ci[0])} … {_effect_value(x, ci[1])}; "
                          f"threshold {_effect_value(x, x.threshold)}")
        right.metric("Samples", f"{x.n_baseline:,} / {x.n_candidate:,}", help="baseline / candidate")
        if not missing(x.p_adjusted):
            right.caption(f"p = {x.p_value:.2g}, adjusted {x.p_adjusted:.2g} ({x.test})")
        st.caption(x.reason)


def _effect_value(f: Finding, v: float) -> str:
    if missing(v):
        return "–"
    if f.effect_kind == "relative":
        return f"{v:+.1%}"
    if f.check.startswith("errors"):
        return f"{v * 100:+.2f} pp"
    return f"{v:+.3f}"


def body(f: Filters) -> None:
    """Pick what to compare, run the engine, show the verdict and every finding with its evidence."""
    key, keep = remembered("reg.mode", "versions", list(MODES))
    mode = st.radio("Compare", list(MODES), format_func=MODES.get, horizontal=True, key=key, on_change=keep)
    sides = _sides(f, mode)
    if sides is None:
        if mode != "versions":
            page.no_match(f)
        return
    baseline, candidate, split, what = sides
    if not baseline and not candidate:
        page.no_match(f)
        return
    report = compare(build_cohorts(baseline, candidate, split), comparison=mode)
    banner = {"FAIL": st.error, "PASS": st.success, "INCONCLUSIVE": st.warning}[report.verdict.value]
    regressions = len(report.regressions)
    banner(f"**{report.verdict.value}** — {what}: {regressions} regression{'s' * (regressions != 1)} in "
           f"{sum(x.gated for x in report.findings)} gated checks.", icon=":material/science:")
    for note in report.notes:
        st.caption(note)
    ordered = sorted(enumerate(report.findings),
                     key=lambda p: ({Status.REGRESSION: 0, Status.INSUFFICIENT: 1, Status.OK: 2}[p[1].status],
                                    p[1].check))
    st.subheader("Findings")
    st.dataframe(_table(report).iloc[[i for i, _ in ordered]], hide_index=True, column_config={
        "p (adjusted)": st.column_config.NumberColumn(format="%.2g")})
    st.subheader("Evidence")
    if ordered:  # one finding at a time: a plot for each made this page draw dozens of charts per rerun
        ids = {_id(x): (i, x) for i, x in ordered}
        key, keep = remembered("reg.evidence", next(iter(ids)), list(ids))
        chosen = st.selectbox("Finding", list(ids), format_func=lambda k: _label(ids[k][1]), key=key,
                              on_change=keep, help="Regressions first; pick any finding to see its evidence")
        _finding(ids[chosen][1], ids[chosen][0])
    st.download_button("Download report (JSON)", report.to_json(indent=2), file_name="regressions.json",
                       mime="application/json", icon=":material/download:")


page.render("Regressions", "Did a new version, a move to the edge or the passing of time make things worse? "
            "Tests on stored histograms, with multiple-testing control.", body)
