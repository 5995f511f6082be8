"""Edge vs cloud: latency, errors, confidence, memory, throughput and cost per target, and an SLO verdict."""

from __future__ import annotations

from dataclasses import fields

import pandas as pd
import streamlit as st

from inferwatch.dashboard import charts, comparison, data, histograms, page
from inferwatch.dashboard.filters import Filters, narrowed
from inferwatch.dashboard.format import fmt_bytes, fmt_usd
from inferwatch.dashboard.state import remembered
from inferwatch.dashboard.verdict import slo_verdict
from inferwatch.queries.cost import CloudPricing, EdgePricing, Pricing, estimate, load_pricing

ALL_VERSIONS = "All versions"
PERCENTILES = {"p50": "latency_ms_p50", "p95": "latency_ms_p95", "p99": "latency_ms_p99"}
PRICE_LABELS = {
    "instance_hour_usd": "Instance (USD/hour)", "concurrency": "Concurrent requests per instance",
    "utilization": "Average utilization (0–1)", "request_usd": "Per request (USD)",
    "egress_gb_usd": "Egress (USD/GB)", "response_bytes": "Response size (bytes)",
    "hardware_usd": "Device (USD)", "amortization_months": "Amortized over (months)",
    "power_watts": "Power draw (W)", "kwh_usd": "Electricity (USD/kWh)",
    "upload_gb_usd": "Telemetry upload (USD/GB)",
}
POSITIVE = {"concurrency", "utilization", "amortization_months"}


def _controls(dims: pd.DataFrame) -> tuple[str, str | None, str, float]:
    """Model, version (None for all), SLO percentile and SLO; models and versions from the filter choices."""
    models = sorted(dims["model"].dropna().astype(str).unique())
    cols = st.columns([2, 2, 1, 1])
    key, keep = remembered("evc.model", models[0], models)
    model = cols[0].selectbox("Model", models, key=key, on_change=keep)
    options = [ALL_VERSIONS, *sorted(dims.loc[dims["model"].astype(str) == model, "model_version"]
                                     .dropna().astype(str).unique())]
    key, keep = remembered("evc.version", ALL_VERSIONS, options)
    version = cols[1].selectbox("Version", options, key=key, on_change=keep)
    key, keep = remembered("evc.percentile", "p95", list(PERCENTILES))
    percentile = cols[2].selectbox("SLO percentile", list(PERCENTILES), key=key, on_change=keep)
    key, keep = remembered("evc.slo", 50.0)
    slo = cols[3].number_input("Latency SLO (ms)", min_value=0.1, step=5.0, key=key, on_change=keep)
    return model, None if version == ALL_VERSIONS else version, percentile, float(slo)


def _prices() -> Pricing:
    with st.expander("Prices (edit to match your contracts)", icon=":material/payments:"):
        overrides: dict[str, dict[str, float]] = {"cloud": {}, "edge": {}}
        cols = st.columns(2)
        for col, section, cls in ((cols[0], "cloud", CloudPricing), (cols[1], "edge", EdgePricing)):
            col.markdown(f"**{section.capitalize()}**")
            for field in fields(cls):
                key, keep = remembered(f"evc.price.{section}.{field.name}", float(field.default))
                overrides[section][field.name] = col.number_input(
                    PRICE_LABELS.get(field.name, field.name), key=key, on_change=keep,
                    min_value=0.01 if field.name in POSITIVE else 0.0,
                    max_value=1.0 if field.name == "utilization" else None, format="%.4g")
        st.caption("Cloud: instance price over the calls one instance serves at the measured mean latency, "
                   "plus per-request and egress prices. Edge: device price amortized, power and telemetry "
                   "upload, over the calls the devices served (extrapolated to 30 days).")
    return load_pricing(None, overrides)


def body(f: Filters) -> None:
    """Edge and cloud side by side for one model.

    Two reads, started together, both for the chosen model: sums and histograms merged per version,
    target and hardware (`data.comparison_inputs`: the per-version table, the percentiles per target behind
    the verdict, the CDF and the confidence distribution are all read off them) and the cost inputs.
    Models and versions to choose from come from the sidebar's filter choices, already read, so nothing
    waits for another query first.
    """
    dims = narrowed(data.dimensions(f.since), f)  # the sidebar's cached answer
    if dims.empty or "model" not in dims:
        page.no_match(f)
        return
    model, version, percentile, slo = _controls(dims)
    prices = _prices()
    params = f.params(model=model, version=version or f.version)
    data.prefetch(lambda: data.comparison_inputs(params), lambda: data.run_named("cost_inputs", params))
    inputs = data.comparison_inputs(params)
    rows = comparison.table(inputs)
    if rows.empty:
        st.info(f"No calls of {model} {version or ''} in the range.")
        return
    costs = estimate(data.run_named("cost_inputs", params), prices)
    result = slo_verdict(histograms.percentiles(inputs), costs, PERCENTILES[percentile], slo)
    {"success": st.success, "warning": st.warning, "error": st.error}[result.level](
        f"**Verdict:** {result.text}", icon=":material/gavel:")

    st.subheader("Latency")
    left, right = st.columns(2)
    left.plotly_chart(charts.percentile_bars(rows, slo, title="Percentiles per version"))
    cdf = histograms.cdf_points(inputs, model)
    if not cdf.empty:
        right.plotly_chart(charts.latency_cdf(cdf, slo, title=f"Latency CDF ({version or 'all versions'})"))

    st.subheader("Errors, memory and throughput")
    by_version = rows.assign(version="v" + rows["model_version"].astype(str),
                             memory_mb=rows["memory_rss_max_bytes"] / 1e6)
    # one figure with three panels: a chart each cost the browser ~20-30 ms more to set up and draw
    st.plotly_chart(charts.panel_bars(by_version, "version", [
        ("error_rate", "error rate (share of calls)", ".2%"), ("memory_mb", "peak process RSS (MB)", ".0f"),
        ("calls_per_s", "throughput, whole fleet (calls/s)", ".3s")], "version", color="target",
        title="Error rate, memory and throughput per version"))

    st.subheader("Confidence")
    buckets = histograms.confidence_buckets(inputs)
    if not buckets.empty:
        st.plotly_chart(charts.confidence_distribution(buckets, title="Confidence distribution"))
    else:
        st.info("No confidence values recorded (pass `confidence=` to `observe`).")

    st.subheader("Cost")
    _cost_section(costs)

    with st.expander("All numbers"):
        st.dataframe(rows, hide_index=True)


def _cost_section(costs: pd.DataFrame) -> None:
    if costs.empty:
        st.info("No traffic to price in the range.")
        return
    # metrics, not charts: two bars per chart said no more than these numbers and cost a chart each to draw
    cols = st.columns(len(costs) * 3)
    for i, row in enumerate(costs.to_dict("records")):
        cols[3 * i].metric(f"{row['target']}: per 1k inferences", fmt_usd(row["cost_per_1k_usd"]))
        cols[3 * i + 1].metric(f"{row['target']}: per month", fmt_usd(row["cost_per_month_usd"]),
                               help="At the measured call rate, extrapolated to 30 days")
        cols[3 * i + 2].metric(f"{row['target']}: telemetry per device per day",
                               fmt_bytes(row["bytes_per_device_day"]))
    st.dataframe(costs, hide_index=True, column_config={
        "cost_per_1k_usd": st.column_config.NumberColumn("USD per 1k", format="$%.4f"),
        "cost_per_month_usd": st.column_config.NumberColumn("USD per month", format="$%.2f"),
        "bytes_per_device_day": st.column_config.NumberColumn("telemetry bytes/device/day", format="%.0f"),
    })


page.render("Edge vs cloud",
            "The same model at the edge and in the cloud: speed, quality, resources and cost.", body)
