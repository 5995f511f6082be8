"""The inferwatch agent against a real collector: what it sends is stored exactly."""

from __future__ import annotations

import inferwatch


def test_agent_calls_are_stored_exactly_and_quantiles_are_queryable(collector, tmp_path):
    agent = inferwatch.Agent()
    agent.configure(
        service="digits-app",
        target="edge",
        endpoint=collector.url,
        interval_s=60.0,
        spool_dir=tmp_path / "spool",
        device_id="pi-1",
        hardware="raspberry-pi-5",
    )
    obs = agent.observe("digits", "1.0")

    @obs
    def predict(x):
        if x % 10 == 0:
            raise ValueError("bad input")
        return x

    for i in range(1, 501):
        try:
            predict(i)
        except ValueError:
            pass
    for i in range(200):
        agent.record("digits", "1.0", duration_s=0.001 * (1 + i % 50), confidence=0.5 + (i % 50) / 100)
    assert agent.flush(10.0)
    agent.shutdown()
    rows = collector.rows(
        "SELECT sum(calls), sum(errors), hist_quantile(list(latency_hist), 0.5), "
        "any_value(target), any_value(hardware), any_value(device_id) FROM inference_windows "
        "WHERE model = 'digits' AND model_version = '1.0'"
    )
    calls, errors, p50, target, hardware, device = rows[0]
    assert calls == 700
    assert errors == 50
    assert p50 > 0
    assert (target, hardware, device) == ("edge", "raspberry-pi-5", "pi-1")
    conf = collector.scalar("SELECT hist_quantile(list(confidence_hist), 0.5) FROM inference_windows")
    assert 0.5 <= conf <= 1.0
    n = collector.scalar("SELECT count(*) FROM metric_points WHERE metric = 'inferwatch.agent.calls'")
    assert n >= 1
    devices = collector.rows("SELECT device_id, windows_received FROM devices")
    assert devices[0][0] == "pi-1"
