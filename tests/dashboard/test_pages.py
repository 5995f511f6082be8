"""Every page under Streamlit's AppTest: with data, with an empty store, and with no collector."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from .conftest import APP, PAGES_DIR

PAGES = {
    "fleet": ("Fleet", ["Per target and model"]),
    "edge_vs_cloud": ("Edge vs cloud", ["Latency", "Errors, memory and throughput", "Confidence", "Cost"]),
    "regressions": ("Regressions", ["Findings", "Evidence"]),
    "devices": ("Devices", ["Online and offline", "Agent health"]),
    "sql_console": ("SQL", []),
}
DATA_PAGES = [p for p in PAGES if p != "sql_console"]


def run_page(name: str) -> AppTest:
    return AppTest.from_file(str(PAGES_DIR / f"{name}.py"), default_timeout=90).run()


def texts(elements) -> list[str]:
    return [str(e.value) for e in elements]


def charts(at: AppTest) -> list:
    return at.get("plotly_chart")


@pytest.mark.parametrize("name", list(PAGES))
def test_page_with_data_shows_its_sections_and_charts(name, seeded_collector, use_source):
    use_source(collector=seeded_collector.url)
    at = run_page(name)
    title, sections = PAGES[name]
    assert not at.exception, texts(at.exception)
    assert texts(at.title) == [title]
    assert set(sections) <= set(texts(at.subheader))
    assert charts(at), "every page draws at least one Plotly chart with data"
    bad = ("query failed", "cannot be read", "No collector")
    problems = [t for t in texts(at.error) if any(b in t for b in bad)]
    assert not problems


@pytest.mark.parametrize("name", DATA_PAGES)
@pytest.mark.parametrize("store", ["empty collector", "empty file"])
def test_empty_store_explains_how_to_send_data(name, store, empty_collector, empty_db, use_source):
    use_source(collector=empty_collector.url) if store == "empty collector" else use_source(db=empty_db)
    at = run_page(name)
    assert not at.exception, texts(at.exception)
    assert not at.error
    assert any("No inference data yet" in t for t in texts(at.info))
    snippet = "\n".join(texts(at.code))
    for line in ("import inferwatch", "inferwatch.configure(", "@inferwatch.observe("):
        assert line in snippet
    assert not charts(at)


def test_empty_store_still_offers_the_sql_console(empty_collector, use_source):
    use_source(collector=empty_collector.url)
    at = run_page("sql_console")
    assert not at.exception and not at.error
    assert at.selectbox(key="iw.widget.sql.choice").value == "fleet_overview"
    assert "0 rows" in texts(at.caption)


@pytest.mark.parametrize("name", list(PAGES))
def test_a_down_collector_gives_one_message_with_the_start_command(name, dead_collector_url, use_source):
    use_source(collector=dead_collector_url)
    at = run_page(name)
    assert not at.exception, texts(at.exception)
    assert len(at.error) == 1
    message = at.error[0].value
    assert f"No collector answers at {dead_collector_url}" in message
    assert "inferwatch collector --db ./inferwatch.duckdb --port" in message
    assert not charts(at)


def test_fleet_totals_follow_the_target_filter(seeded_collector, use_source):
    use_source(collector=seeded_collector.url)
    at = run_page("fleet")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Calls"] == "30,000"
    assert metrics["Devices online"] == "6 / 6"
    at.sidebar.selectbox(key="iw.widget.filter.target").select("edge").run()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Calls"] == "18,000"
    assert metrics["Devices online"] == "4 / 4"


def test_fleet_first_run_replaces_its_chart_frames_with_data(seeded_collector, use_source):
    use_source(collector=seeded_collector.url)
    at = run_page("fleet")  # a new session: the frames go out before the queries, then get replaced
    figures = [json.loads(c.proto.spec) for c in charts(at)]
    assert len(figures) == 4
    assert all(fig["data"] for fig in figures), "no empty frame is left once the run is done"
    at.sidebar.selectbox(key="iw.widget.filter.target").select("edge").run()
    assert all(json.loads(c.proto.spec)["data"] for c in charts(at))


def test_filter_choices_narrow_one_another(seeded_collector, use_source):
    use_source(collector=seeded_collector.url)
    at = run_page("fleet")
    assert at.sidebar.selectbox(key="iw.widget.filter.hardware").options == [
        "All", "jetson-orin-nano", "nvidia-t4", "raspberry-pi-4", "raspberry-pi-5"]
    at.sidebar.selectbox(key="iw.widget.filter.version").select("1.0.0").run()
    assert "jetson-orin-nano" not in at.sidebar.selectbox(key="iw.widget.filter.hardware").options


def test_edge_vs_cloud_verdict_follows_the_slo(seeded_collector, use_source):
    use_source(collector=seeded_collector.url)
    at = run_page("edge_vs_cloud")
    at.number_input(key="iw.widget.evc.slo").set_value(1.0).run()
    assert any("Neither side meets p95 ≤ 1 ms" in t for t in texts(at.error))
    at.number_input(key="iw.widget.evc.slo").set_value(10_000.0).run()
    verdict = " ".join(texts(at.success))
    assert "Both sides meet p95 ≤ 10000 ms" in verdict and "cheaper way to meet it" in verdict


def test_edge_vs_cloud_prices_are_editable_and_change_the_cost(seeded_collector, use_source):
    use_source(collector=seeded_collector.url)
    at = run_page("edge_vs_cloud")
    before = {m.label: m.value for m in at.metric}["cloud: per 1k inferences"]
    at.number_input(key="iw.widget.evc.price.cloud.instance_hour_usd").set_value(100.0).run()
    after = {m.label: m.value for m in at.metric}["cloud: per 1k inferences"]
    assert before != after
    assert not at.exception


def test_regressions_page_flags_the_slower_version_with_evidence(seeded_collector, use_source):
    use_source(collector=seeded_collector.url)
    at = run_page("regressions")
    assert any(t.startswith("**FAIL** — digits 1.0.0 → 2.0.0") for t in texts(at.error))
    table = at.dataframe[0].value
    flagged = table.loc[table["status"].str.contains("regression"), ["check", "cohort"]]
    assert {"errors.rate", "latency.p95"} <= set(flagged["check"])
    picker = at.selectbox(key="iw.widget.reg.evidence")
    assert picker.value.startswith(tuple(flagged["check"])), "the evidence opens on a regression"
    for check, cohort in flagged.itertuples(index=False):  # every regression has its evidence plot
        at.selectbox(key="iw.widget.reg.evidence").select(f"{check} {cohort}").run()
        assert not at.exception, texts(at.exception)
        assert len(charts(at)) == 1
        assert any(check in t and "regression" in t for t in texts(at.markdown))


def test_regressions_page_compares_edge_with_cloud(seeded_collector, use_source):
    use_source(collector=seeded_collector.url)
    at = run_page("regressions")
    at.radio(key="iw.widget.reg.mode").set_value("edge_vs_cloud").run()
    assert not at.exception
    banners = texts(at.error) + texts(at.success) + texts(at.warning)
    assert any("cloud (baseline) vs edge (candidate)" in t for t in banners)


def test_devices_page_lists_every_device(seeded_collector, use_source):
    use_source(collector=seeded_collector.url)
    at = run_page("devices")
    table = at.dataframe[0].value
    assert sorted(table["device_id"]) == ["cloud-a", "cloud-b", "orin-01", "pi4-01", "pi5-01", "pi5-02"]
    assert set(table["status"]) == {"online"}


def test_sql_console_runs_named_and_custom_queries_with_a_download(seeded_collector, use_source):
    use_source(collector=seeded_collector.url)
    at = run_page("sql_console")
    at.selectbox(key="iw.widget.sql.choice").select("per_hardware").run()
    assert len(at.dataframe[0].value) == 4
    assert charts(at)
    assert at.get("download_button")
    at.selectbox(key="iw.widget.sql.choice").select("Custom SQL").run()
    at.text_area(key="iw.widget.sql.custom").input(
        "SELECT device_id, sum(calls) AS calls FROM inference_windows WHERE target = $target "
        "OR $target IS NULL GROUP BY ALL ORDER BY device_id")
    at.button(key="iw.sql.run").click().run()
    assert not at.exception, texts(at.exception)
    assert list(at.dataframe[0].value["device_id"]) == ["cloud-a", "cloud-b", "orin-01", "pi4-01", "pi5-01",
                                                        "pi5-02"]


def test_sql_console_shows_a_bad_query_as_an_error(seeded_collector, use_source):
    use_source(collector=seeded_collector.url)
    at = run_page("sql_console")
    at.selectbox(key="iw.widget.sql.choice").select("Custom SQL").run()
    at.text_area(key="iw.widget.sql.custom").input("SELECT nope FROM nowhere")
    at.button(key="iw.sql.run").click().run()
    assert not at.exception
    assert any("A query failed" in t for t in texts(at.error))


def test_sql_console_explains_a_bad_parameter(seeded_collector, use_source):
    use_source(collector=seeded_collector.url)
    at = run_page("sql_console")
    at.selectbox(key="iw.widget.sql.choice").select("hourly_trend").run()
    at.text_input(key="iw.widget.sql.hourly_trend.bucket_minutes").input("often").run()
    assert not at.exception
    assert any("parameter 'bucket_minutes' must be a int" in t for t in texts(at.error))


def test_main_app_opens_on_the_fleet_page_and_switches_pages(seeded_collector, use_source):
    use_source(collector=seeded_collector.url)
    at = AppTest.from_file(str(APP), default_timeout=90).run()
    assert not at.exception
    assert texts(at.title) == ["Fleet"]
    at.switch_page(str(PAGES_DIR / "devices.py")).run()
    assert texts(at.title) == ["Devices"]


def test_online_runs_can_be_read_for_chosen_devices_only(seeded_collector, use_source):
    use_source(collector=seeded_collector.url)
    from inferwatch.dashboard import data

    everyone = data.online_runs({"since": "-24h"})
    one = sorted(everyone["device_id"])[0]
    chosen = data.online_runs({"since": "-24h"}, [one])
    assert set(everyone["device_id"]) > {one}
    assert set(chosen["device_id"]) == {one}
    assert len(chosen) == int((everyone["device_id"] == one).sum())


def test_device_list_cut_from_the_unfiltered_answer_equals_the_filtered_query(seeded_collector, use_source):
    use_source(collector=seeded_collector.url)
    from inferwatch import queries
    from inferwatch.dashboard import data

    source = queries.connect(collector=seeded_collector.url)
    for target in ("edge", "cloud"):
        cut = data.devices(target=target)
        asked = queries.run("devices", {"target": target}, source)
        assert list(cut["device_id"]) == list(asked["device_id"]) and len(cut) > 0
    assert len(data.devices()) == len(queries.run("devices", {}, source))


def test_a_page_run_freezes_the_long_lived_heap_once(empty_db, use_source):
    """After its first run the process's long-lived objects sit in the permanent generation, so the full
    collection Streamlit runs after every script run walks only what runs allocate."""
    import gc

    from inferwatch.dashboard import heap

    use_source(db=empty_db)
    at = run_page("fleet")
    assert not at.exception, texts(at.exception)
    frozen = gc.get_freeze_count()
    assert frozen > 50_000  # modules of streamlit, pandas, pyarrow, duckdb, plotly
    assert len(gc.get_objects()) < frozen  # what a full collection still walks
    assert heap.freeze_once() is False  # once per process
    run_page("fleet")
    assert gc.get_freeze_count() <= frozen  # not frozen again (frozen objects freed by refcount leave it)
