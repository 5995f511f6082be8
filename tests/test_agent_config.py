"""Configuration: argument > environment > default, loud errors that name the fix, disabling."""

from __future__ import annotations

import pytest

import inferwatch
from inferwatch.config import resolve_config

from .otlp_receiver import OtlpReceiver

DURATION = "inferwatch.inference.duration"


def test_defaults_without_arguments_or_environment(tmp_path):
    config = resolve_config(env={"XDG_CACHE_HOME": str(tmp_path)})
    assert config.service == "unknown_service"
    assert config.target == "unknown"
    assert config.endpoint == "http://127.0.0.1:4318/v1/metrics"
    assert config.protocol == "http/protobuf"
    assert config.interval_s == 60.0
    assert config.spool_max_mb == 50
    assert config.spool_dir == tmp_path / "inferwatch" / "spool" / "unknown_service"
    assert not config.disabled


def test_environment_overrides_defaults():
    env = {
        "OTEL_SERVICE_NAME": "env-app",
        "INFERWATCH_TARGET": "cloud",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "https://collector.example:4318",
        "OTEL_EXPORTER_OTLP_HEADERS": "Authorization=Bearer%20abc,x-tenant=t1",
        "OTEL_METRIC_EXPORT_INTERVAL": "15000",
        "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment.name=prod,service.version=3.1",
        "INFERWATCH_DEVICE_ID": "gw-17",
        "INFERWATCH_HARDWARE": "raspberry-pi-5",
        "INFERWATCH_SPOOL_DIR": "/tmp/iw-spool-env",
        "INFERWATCH_SPOOL_MAX_MB": "5",
    }
    config = resolve_config(env=env)
    assert config.service == "env-app"
    assert config.target == "cloud"
    assert config.endpoint == "https://collector.example:4318/v1/metrics"
    assert config.headers == {"Authorization": "Bearer abc", "x-tenant": "t1"}
    assert config.interval_s == 15.0
    assert config.device_id == "gw-17"
    assert config.hardware == "raspberry-pi-5"
    assert str(config.spool_dir) == "/tmp/iw-spool-env"
    assert config.spool_max_mb == 5
    attrs = config.resource_attributes
    assert attrs["deployment.environment.name"] == "prod"
    assert attrs["service.version"] == "3.1"
    assert attrs["service.name"] == "env-app"
    assert attrs["inferwatch.target"] == "cloud"


def test_signal_specific_endpoint_is_used_as_is():
    env = {"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://c:9000/custom/path",
           "OTEL_EXPORTER_OTLP_ENDPOINT": "http://ignored:4318"}
    assert resolve_config(env=env).endpoint == "http://c:9000/custom/path"


def test_arguments_override_environment():
    env = {"OTEL_SERVICE_NAME": "env-app", "INFERWATCH_TARGET": "cloud",
           "OTEL_EXPORTER_OTLP_ENDPOINT": "http://env:4318", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
           "OTEL_METRIC_EXPORT_INTERVAL": "1000", "INFERWATCH_SPOOL_MAX_MB": "abc"}
    config = resolve_config(service="arg-app", target="edge", endpoint="http://arg:4318",
                            protocol="http/protobuf", interval_s=30, spool_max_mb=7, env=env)
    assert (config.service, config.target, config.protocol, config.interval_s, config.spool_max_mb) == \
        ("arg-app", "edge", "http/protobuf", 30.0, 7.0)
    assert config.endpoint == "http://arg:4318/v1/metrics"


def test_grpc_protocol_from_environment_keeps_the_endpoint():
    config = resolve_config(env={"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
                                 "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317"})
    assert (config.protocol, config.endpoint) == ("grpc", "http://c:4317")


def test_spool_max_mb_zero_turns_the_spool_off():
    assert resolve_config(spool_max_mb=0, env={}).spool_dir is None


@pytest.mark.parametrize(("kwargs", "env", "fix"), [
    ({"target": "edg"}, {}, "use 'edge' or 'cloud'"),
    ({}, {"INFERWATCH_TARGET": "fog"}, "INFERWATCH_TARGET"),
    ({"endpoint": "collector:4318"}, {}, "not an http(s) URL"),
    ({"endpoint": "http://c:99999"}, {}, "invalid port"),
    ({"endpoint": 4318}, {}, "pass a URL"),
    ({"protocol": "http/json"}, {}, "use 'http/protobuf' (default) or 'grpc'"),
    ({}, {"OTEL_EXPORTER_OTLP_PROTOCOL": "thrift"}, "OTEL_EXPORTER_OTLP_PROTOCOL"),
    ({"interval_s": 0}, {}, "interval_s=60.0"),
    ({"interval_s": "soon"}, {}, "not a number"),
    ({"interval_s": float("nan")}, {}, "must be ≥"),
    ({}, {"OTEL_METRIC_EXPORT_INTERVAL": "1m"}, "in milliseconds"),
    ({"spool_max_mb": -1}, {}, "spool_max_mb=50"),
    ({}, {"INFERWATCH_SPOOL_MAX_MB": "lots"}, "INFERWATCH_SPOOL_MAX_MB"),
    ({"headers": "Authorization"}, {}, "key1=value1"),
    ({"headers": {"x": 1}}, {}, "map str to str"),
    ({}, {"OTEL_EXPORTER_OTLP_HEADERS": "=v"}, "OTEL_EXPORTER_OTLP_HEADERS"),
    ({"service": ""}, {}, "OTEL_SERVICE_NAME"),
    ({"hardware": ""}, {}, "INFERWATCH_HARDWARE"),
    ({"device_id": " "}, {}, "INFERWATCH_DEVICE_ID"),
])
def test_invalid_configuration_raises_an_error_naming_the_fix(kwargs, env, fix):
    with pytest.raises(inferwatch.ConfigurationError) as excinfo:
        resolve_config(**kwargs, env=env)
    assert fix in str(excinfo.value)


def test_spool_dir_that_is_a_file_is_refused(tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(inferwatch.ConfigurationError, match="not a directory"):
        resolve_config(spool_dir=a_file, env={})


def test_configure_raises_and_keeps_running_the_previous_configuration(configured, receiver):
    agent = configured()
    with pytest.raises(inferwatch.ConfigurationError):
        agent.configure(target="moon")
    agent.record("digits", "1", duration_s=0.01)
    assert agent.flush(5)
    assert receiver.count(DURATION) == 1


def test_calls_before_configure_are_buffered_and_exported(agent, receiver, tmp_path):
    predict = agent.observe("digits", "1")(lambda x: x)
    for i in range(25):
        predict(i)
    agent.configure(service="late", target="edge", endpoint=receiver.endpoint, spool_dir=tmp_path / "s")
    assert agent.flush(5)
    assert receiver.count(DURATION) == 25


def test_second_configure_switches_endpoint_without_losing_or_duplicating(agent, tmp_path):
    first, second = OtlpReceiver().start(), OtlpReceiver().start()
    try:
        agent.configure(service="a", target="edge", endpoint=first.endpoint, spool_dir=tmp_path / "s1")
        predict = agent.observe("digits", "1")(lambda x: x)
        for i in range(10):
            predict(i)
        agent.configure(service="a", target="edge", endpoint=second.endpoint, spool_dir=tmp_path / "s2")
        for i in range(7):
            predict(i)
        assert agent.flush(5)
        assert first.count(DURATION) == 10
        assert second.count(DURATION) == 7
    finally:
        first.stop()
        second.stop()


def test_disabled_agent_is_a_no_op(agent, receiver, tmp_path, monkeypatch):
    monkeypatch.setenv("INFERWATCH_DISABLED", "1")
    config = agent.configure(service="off", endpoint=receiver.endpoint, spool_dir=tmp_path / "s")
    assert config.disabled

    def predict(x):
        return x

    assert agent.observe("digits", "1")(predict) is predict  # not even wrapped
    assert agent.record("digits", "1", duration_s=0.1)
    with agent.observe("digits", "1") as call:
        call.confidence = 0.9
    assert not agent.flush(1)
    assert receiver.requests == []
    assert not (tmp_path / "s").exists()
    assert agent.stats()["running"] is False


def test_observe_refuses_a_missing_model_name(agent):
    with pytest.raises(TypeError, match="model name"):
        agent.observe("")
    with pytest.raises(TypeError, match="confidence"):
        agent.observe("digits", confidence=0.9)(lambda x: x)
