"""gunzip: ISA-L's inflate (when installed) and zlib give the same bytes and the same refusals."""

from __future__ import annotations

import gzip
import os
import random
import zlib

import pytest

from inferwatch.collector import ingest_prepare
from inferwatch.collector.ingest_prepare import TooLarge, gunzip
from inferwatch.collector.otlp_decode import DecodeFailure


def _outcome(data: bytes, limit: int) -> object:
    try:
        return gunzip(data, limit)
    except (TooLarge, DecodeFailure) as exc:
        return type(exc)


def _cases() -> list[tuple[bytes, int]]:
    rng = random.Random(7)
    text = bytes(rng.randrange(40, 60) for _ in range(200_000))
    member = gzip.compress(text)
    return [
        (member, 10**6),
        (gzip.compress(b""), 10),
        (zlib.compress(text), 10**6),  # a zlib stream is accepted too (wbits=47)
        (member, len(text)),  # exactly at the limit
        (member, len(text) - 1),  # one byte past it
        (gzip.compress(b"\0" * 5_000_000), 1_000_000),  # a small bomb
        (member[: len(member) // 2], 10**6),  # truncated
        (member[:5], 10**6),
        (b"\x1f\x8b\x08\x00garbage" * 10, 10**6),
        (member + b"trailing", 10**6),
        (member + member, 10**6),  # a second member is ignored, as before
        (b"", 10**6),
        (bytes(rng.randrange(256) for _ in range(5000)), 10**6),
    ]


def test_isal_is_used_when_installed():
    try:
        import isal  # noqa: F401
    except ImportError:
        pytest.skip("python-isal not installed")
    if os.environ.get("INFERWATCH_NO_COMPILED"):
        assert ingest_prepare._inflate is zlib
    else:
        assert ingest_prepare._inflate is not zlib


@pytest.mark.parametrize("i", range(len(_cases())))
def test_gunzip_matches_zlib(i, monkeypatch):
    data, limit = _cases()[i]
    fast = _outcome(data, limit)
    monkeypatch.setattr(ingest_prepare, "_inflate", zlib)
    assert _outcome(data, limit) == fast
