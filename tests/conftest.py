"""Shared fixtures: a real OTLP receiver and a fresh agent per test."""

from __future__ import annotations

import pytest

import inferwatch

from .otlp_receiver import OtlpReceiver


@pytest.fixture
def receiver():
    """A running OTLP/HTTP receiver on a free 127.0.0.1 port."""
    r = OtlpReceiver().start()
    yield r
    r.stop()


@pytest.fixture
def agent():
    """An unconfigured Agent of its own (not the process-wide one)."""
    a = inferwatch.Agent()
    yield a
    a.shutdown(timeout_s=1.0)


@pytest.fixture
def configured(receiver, agent, tmp_path):
    """An Agent configured against the receiver with a private spool (shut down before the receiver)."""
    def make(**overrides):
        kwargs = dict(service="test-app", target="edge", endpoint=receiver.endpoint, device_id="dev-1",
                      hardware="test-hw", interval_s=60.0, spool_dir=tmp_path / "spool")
        kwargs.update(overrides)
        agent.configure(**kwargs)
        return agent
    return make
