"""The agent never changes what the host sees: same results, same exceptions, no raising, no blocking."""

from __future__ import annotations

import asyncio
import math
import socket
import threading
import traceback

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import inferwatch

anything = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(), st.binary(),
    st.lists(st.integers(), max_size=5), st.dictionaries(st.text(max_size=3), st.integers(), max_size=3),
    st.tuples(st.integers(), st.text(max_size=3)),
)
exception_types = st.sampled_from([ValueError, KeyError, TimeoutError, RuntimeError, ZeroDivisionError,
                                   MemoryError, OSError, GeneratorExit, KeyboardInterrupt])
settings.register_profile("agent", max_examples=60, deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture])
settings.load_profile("agent")


@pytest.fixture
def offline_agent(tmp_path):
    """A configured agent whose endpoint refuses connections (nothing listens there)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    agent = inferwatch.Agent()
    agent.configure(service="safe", target="edge", endpoint=f"http://127.0.0.1:{port}",
                    spool_dir=tmp_path / "spool", interval_s=60)
    yield agent
    agent.shutdown(timeout_s=0.5)


@given(value=anything)
def test_decorated_function_returns_the_very_same_object(offline_agent, value):
    sentinel = [value]  # a fresh object: identity must survive
    predict = offline_agent.observe("m", "1", confidence=lambda y: 0.5)(lambda: sentinel)
    assert predict() is sentinel


@given(exc_type=exception_types, message=st.text(max_size=20))
def test_the_same_exception_leaves_with_its_traceback(offline_agent, exc_type, message):
    raised = exc_type(message)

    def predict():
        raise raised  # the line the traceback must point at

    wrapped = offline_agent.observe("m", "1")(predict)
    with pytest.raises(exc_type) as excinfo:
        wrapped()
    assert excinfo.value is raised
    frames = traceback.extract_tb(excinfo.value.__traceback__)
    assert frames[-1].name == "predict" and "raise raised" in frames[-1].line


@given(exc_type=exception_types)
def test_async_functions_keep_results_and_exceptions(offline_agent, exc_type):
    result = object()

    @offline_agent.observe("m", "1")
    async def ok():
        return result

    @offline_agent.observe("m", "1")
    async def fails():
        raise exc_type("x")

    assert asyncio.run(ok()) is result
    with pytest.raises(exc_type):
        asyncio.run(fails())


@given(exc_type=exception_types)
def test_context_manager_never_swallows_exceptions(offline_agent, exc_type):
    with pytest.raises(exc_type):
        with offline_agent.observe("m", "1"):
            raise exc_type("x")


def _raising(_):
    raise RuntimeError("confidence broke")


bad_confidences = st.one_of(
    st.just(float("nan")), st.just(float("inf")), st.floats(max_value=-1e-9, allow_nan=False),
    st.floats(min_value=1.000001, allow_nan=False), st.text(), st.none().map(lambda _: object()),
    st.booleans(), st.lists(st.floats(0, 1), min_size=1, max_size=3),
)


@given(value=bad_confidences)
def test_bad_confidence_values_are_counted_not_raised(offline_agent, value):
    before = offline_agent.stats()
    predict = offline_agent.observe("m", "1", confidence=lambda y: value)(lambda: "ok")
    assert predict() == "ok"
    with offline_agent.observe("m", "1") as call:
        call.confidence = value
    offline_agent.flush(0.5)
    after = offline_agent.stats()
    assert after["confidence_invalid"] - before["confidence_invalid"] == 2
    assert after["calls"] - before["calls"] == 2


def test_confidence_callable_that_raises_is_counted(offline_agent):
    predict = offline_agent.observe("m", "1", confidence=_raising)(lambda: 42)
    assert [predict() for _ in range(5)] == [42] * 5
    offline_agent.flush(0.5)
    stats = offline_agent.stats()
    assert stats["confidence_errors"] == 5
    assert stats["calls"] == 5


@given(duration=anything, confidence=anything, error=anything)
def test_record_never_raises_whatever_it_is_given(offline_agent, duration, confidence, error):
    result = offline_agent.record("m", "1", duration_s=duration, confidence=confidence, error=error)
    assert isinstance(result, bool)


def test_invalid_durations_are_counted(offline_agent):
    for bad in (-1, float("nan"), float("inf"), "fast", None, True):
        assert offline_agent.record("m", "1", duration_s=bad) is False
    assert offline_agent.stats()["invalid_records"] == 6


def test_calls_go_on_while_the_network_hangs(tmp_path):
    """A collector that accepts connections and never answers must not hold up the host."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    port = server.getsockname()[1]
    agent = inferwatch.Agent()
    try:
        agent.configure(service="hang", target="edge", endpoint=f"http://127.0.0.1:{port}",
                        spool_dir=tmp_path / "spool", interval_s=60, timeout_s=30)
        predict = agent.observe("m", "1")(lambda x: x)
        predict(0)
        flushed = threading.Event()
        threading.Thread(target=lambda: (agent.flush(0.3), flushed.set()), daemon=True).start()
        assert flushed.wait(10)  # flush gives up at its timeout even though the send hangs
        assert sum(predict(i) for i in range(10_000)) == sum(range(10_000))
        agent.flush(0.3)
        assert agent.stats()["calls"] == 10_001
    finally:
        agent.shutdown(timeout_s=0.5)
        server.close()


def test_calls_are_bounded_and_dropped_when_nothing_drains(agent):
    """Before configure() nothing drains the buffers: memory stays bounded, drops are counted."""
    from inferwatch.series import BUFFER_CAPACITY

    predict = agent.observe("m", "1")(lambda: None)
    for _ in range(BUFFER_CAPACITY + 100):
        predict()
    stats = agent.stats()
    assert stats["buffered"] == BUFFER_CAPACITY
    assert stats["dropped"] == 100


def test_nan_is_not_a_valid_duration_even_via_numpy_like_floats(offline_agent):
    class Weird(float):
        pass

    assert offline_agent.record("m", "1", duration_s=Weird(math.nan)) is False
