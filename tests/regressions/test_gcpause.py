"""The engine's garbage-collector pause restores the collector's state, also when nested or failing."""

from __future__ import annotations

import gc

import pytest

from inferwatch.regressions.gcpause import gc_paused


@pytest.fixture
def gc_enabled():
    gc.enable()
    yield
    gc.enable()


def test_collector_is_paused_inside_and_enabled_after(gc_enabled):
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer pause still holds
    assert gc.isenabled()


def test_collector_is_enabled_again_after_an_error(gc_enabled):
    with pytest.raises(ValueError), gc_paused():
        raise ValueError("boom")
    assert gc.isenabled()


def test_a_collector_disabled_by_the_caller_stays_disabled(gc_enabled):
    gc.disable()
    with gc_paused():
        pass
    assert not gc.isenabled()
