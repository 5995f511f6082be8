"""The compiled histogram columns (`_wire.hist_columns`, `_wire.prepare_*`) give exactly what
hist_convert's numpy / Python code gives, or give up.

- Random prepared rows of every representation (packed varints with multi-byte and 10-byte ones, lists,
  tuples, integer ndarrays of every width, empty and all-zero counts, None rows), scales at and above
  canonical, linear offsets, NaN / None / int min, max and sum, zero counts: `hist_array` equals the
  numpy path `_numpy_hist_array` exactly (type, nulls, every child array), with a cold and a warm
  values buffer, in batches of one representation and mixed ones.
- The benchmark's agent and gateway batches, decoded, through prepare_* and hist_array.
- Rows it must refuse (odd types, scales, offsets, idx0 past int32, bad varints, odd arrays): it
  returns None and hist_array answers (or raises) what the numpy path does.
- Random bytes as varint counts: it never crashes, and whatever it accepts equals the numpy path.
"""

from __future__ import annotations

import gzip
import math
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from inferwatch.collector import hist_convert
from inferwatch.collector.hist_convert import (
    AGENT_CONFIDENCE_BOUNDS,
    HIST_ARROW_TYPE,
    _numpy_hist_array,
    _prepare_latency,
    _prepare_linear,
    hist_array,
)
from inferwatch.collector.otlp_wire import decode_wire
from inferwatch.collector.schema import CANONICAL_SCALE

try:
    from inferwatch.collector import _wire
except ImportError:
    _wire = None

# idx0 near 2^31 puts unknown min/max at 2^(2^27): inf, in both paths
pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered in exp2:RuntimeWarning")

compiled = pytest.mark.skipif(
    _wire is None or not hist_convert.COMPILED, reason="the compiled histogram columns are not in use"
)


def test_compiled_hist_columns_are_used():
    """`make test` (CI) sets INFERWATCH_REQUIRE_COMPILED=1: a build that silently lost the C path fails."""
    if not os.environ.get("INFERWATCH_REQUIRE_COMPILED"):
        pytest.skip("INFERWATCH_REQUIRE_COMPILED is not set")
    assert _wire is not None and hist_convert.COMPILED
    assert hist_convert._hist_columns is _wire.hist_columns
    assert hist_convert.prepare_latency is _wire.prepare_latency
    assert hist_convert.prepare_linear is _wire.prepare_linear


def test_no_compiled_turns_it_off():
    code = (
        "from inferwatch.collector import hist_convert as h;"
        "assert not h.COMPILED and h._hist_columns is None;"
        "assert h.prepare_latency is h._prepare_latency and h.prepare_linear is h._prepare_linear"
    )
    env = {**os.environ, "INFERWATCH_NO_COMPILED": "1"}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)


def _same(got: pa.StructArray, expected: pa.StructArray) -> None:
    """Same type, nulls and child arrays (values under NULL rows included)."""
    got.validate(full=True)
    assert got.type == expected.type == HIST_ARROW_TYPE
    assert len(got) == len(expected) and got.null_count == expected.null_count
    assert got.is_null().equals(expected.is_null())
    for k, field in enumerate(HIST_ARROW_TYPE):
        assert got.field(k).equals(expected.field(k)), field.name
    assert got.to_pylist() == expected.to_pylist()


def _check(rows: list, linear: bool, unit: float = 1.0) -> None:
    """The C path reads these rows, and hist_array equals the numpy path, twice (the second time the
    values buffer is warm)."""
    expected = _numpy_hist_array(rows, linear, unit)
    for _ in range(2):
        assert _wire.hist_columns(rows, linear) is not None, "the C path gave up on rows it reads"
        _same(hist_array(rows, linear, unit), expected)


def _cold() -> None:
    """Free the values buffer kept between calls (it is dropped past 2^23 values): the next call
    starts from nothing. The row's counts are lazily zeroed pages, one of them touched."""
    big = np.zeros(2**23 + 10, dtype=np.int64)
    big[-1] = 1
    assert _wire.hist_columns([(0, 0, big, 0, 1, 1.0, 1.0, 1.0)], True) is not None


# ---- random rows the C path reads ----


def _varint(v: int, pad: int = 0) -> bytes:
    """v as a varint, with `pad` redundant continuation bytes (still complete, at most 10 bytes)."""
    out = bytearray()
    while True:
        b, v = v & 0x7F, v >> 7
        if not v:
            break
        out.append(b | 0x80)
    if pad and len(out) + 1 + pad <= 10:
        out.append(b | 0x80)
        out += b"\x80" * (pad - 1) + b"\x00"
    else:
        out.append(b)
    return bytes(out)


_WIDTHS = {"i8": (-(2**7), 2**7), "u8": (0, 2**8), "i16": (-(2**15), 2**15), "u16": (0, 2**16)}
_WIDTHS |= {"i32": (-(2**31), 2**31), "u32": (0, 2**32), "i64": (-(2**63), 2**63), "u64": (0, 2**64)}
_REPS = ["bytes", "bytes", "list", "tuple", *_WIDTHS]


def _counts(rng: random.Random, rep: str) -> object:
    n = rng.choice([0, 0, 1, 2, 3, 7, 8, 9, 16, 31, 200, 257])
    lo, hi = _WIDTHS.get(rep, (0, 2**64) if rep == "bytes" else (-(2**63), 2**63))
    style = rng.randrange(5)
    if style == 0:  # all zero
        values = [0] * n
    elif style == 1:  # sparse, small
        values = [rng.choice([1, 2, 127]) if rng.random() < 0.1 else 0 for _ in range(n)]
    elif style == 2:  # per-minute counts
        values = [rng.choice([0, 0, 1, 3, 40, 127, 128, 300, 20_000]) for _ in range(n)]
    else:  # anything the representation holds, edges included
        values = [rng.choice([0, lo, hi - 1, rng.randrange(lo, hi), rng.randrange(-5, 6)]) for _ in range(n)]
    values = [min(max(v, lo), hi - 1) for v in values]
    if rep == "bytes":
        return b"".join(_varint(v, rng.choice([0, 0, 0, 1, 3])) for v in values)
    if rep == "list":
        return values
    if rep == "tuple":
        return tuple(values)
    return np.array(values, dtype={"i": "int", "u": "uint"}[rep[0]] + rep[1:])


def _scalar_f(rng: random.Random) -> object:
    return rng.choice([math.nan, math.nan, None, 0.0, 0.003, 1.5, 1e300, -2.0, 3, -(2**53), math.inf])


def _row(rng: random.Random, linear: bool, rep: str) -> tuple | None:
    if rng.random() < 0.1:
        return None
    counts = _counts(rng, rep)
    if linear:
        scale = rng.choice([0, 0, 4, -3, 2**62])  # ignored on the linear grid
        offset = rng.choice([0, rng.randrange(-300, 300), rng.randrange(-(2**31) + 300, 2**31 - 300)])
    else:
        shift = rng.choice([0, 0, 1, 2, 3, 5, 6, 10, 16, 30])
        scale = CANONICAL_SCALE + shift
        span = min(2**40, (2**31 - 300) << shift)
        offset = rng.choice([0, rng.randrange(-3000, 3000), rng.randrange(-span, span)])
    zero = rng.choice([0, 0, 1, 7, 2**62, -1])
    count = rng.choice([0, 5, rng.randrange(-(2**63), 2**63)])
    return (scale, offset, counts, zero, count, _scalar_f(rng), _scalar_f(rng), _scalar_f(rng))


@compiled
@pytest.mark.parametrize("seed", range(60))
@pytest.mark.parametrize("linear", [False, True])
def test_compiled_equals_numpy_on_random_rows(seed, linear):
    rng = random.Random(seed * 2 + linear)
    if seed % 3 == 0:
        _cold()
    one = rng.choice(_REPS) if seed % 2 else None  # batches of one representation, or mixed ones
    rows = [_row(rng, linear, one or rng.choice(_REPS)) for _ in range(rng.choice([0, 1, 5, 60, 400]))]
    _check(rows, linear, rng.choice([1.0, 1000.0]))


@compiled
def test_compiled_equals_numpy_on_edge_batches():
    nan = math.nan
    for linear in (False, True):
        for rows in (
            [],
            [None],
            [None, None, None],
            [(CANONICAL_SCALE, 5, b"", 0, 0, nan, nan, nan)],
            [(CANONICAL_SCALE, 5, b"\x00\x00", 3, 3, nan, nan, nan), None],
            [(CANONICAL_SCALE, -1, [0, 0, 0], 0, 0, 0.0, nan, 1.0)],
            [(CANONICAL_SCALE, 0, np.zeros(0, dtype=np.uint64), 0, 0, nan, nan, nan)],
            [(CANONICAL_SCALE, 7, b"\x01", 0, 1, 2.0, nan, nan)] * 3,
            # sums wrapping in int64 and collisions adding up to zero keep their range
            [(CANONICAL_SCALE + 2, 1, [2**62, 2**62, 2**62, 2**62, 1], 0, 0, nan, nan, nan)],
            [(CANONICAL_SCALE + 1, 0, [5, -5, 0, 0, 1, -1], 0, 0, nan, nan, nan)],
            [(CANONICAL_SCALE, 0, _varint(2**64 - 1) + _varint(2**63), 0, 0, nan, nan, nan)],
            # idx0 at the int32 edges
            [
                (CANONICAL_SCALE, 2**31 - 1, [1], 0, 1, nan, nan, nan),
                (CANONICAL_SCALE, -(2**31), [1], 0, 1, nan, nan, nan),
            ],
        ):
            _check(rows, linear)
    # both int32 edges with a shift: (offset + k) >> shift
    _check([(CANONICAL_SCALE + 9, (2**31 - 1) << 9, [0, 3], 0, 3, nan, nan, nan)], False)
    _check([(CANONICAL_SCALE + 9, -(2**31) << 9, [0, 3], 0, 3, nan, nan, nan)], False)


def _same_prepared(a: tuple | None, b: tuple | None) -> None:
    """Prepared rows alike: the same scalars (NaN equal), counts the same object or of one type and values."""
    if a is None or b is None:
        assert a is b
        return
    assert type(a) is type(b) is tuple and len(a) == len(b) == 8
    for k, (x, y) in enumerate(zip(a, b)):
        if k == 2:
            assert x is y or (type(x) is type(y) and list(x) == list(y))
        else:
            assert type(x) is type(y) and (x == y or (math.isnan(x) and math.isnan(y))), k


@compiled
def test_compiled_equals_numpy_on_prepared_histograms():
    """Rows from prepare_latency / prepare_linear of wire-like histograms: upscaled, explicit, agent."""
    rng = random.Random(7)
    lat, conf = [], []
    for _ in range(400):
        counts = [rng.choice([0, 0, 1, 5, 300]) for _ in range(rng.randrange(0, 40))]
        rep = rng.choice([b"".join(_varint(c) for c in counts), counts, np.array(counts, dtype=np.uint64)])
        mn, mx = rng.choice([(math.nan, math.nan), (0.001, 2.5), (math.nan, 7.0)])
        exp = ("exp", rng.choice([-2, 0, 3, 4, 5, 8]), rng.randrange(-200, 200), rep, rng.choice([0, 4]),
               sum(counts), 1.0, mn, mx)  # fmt: skip
        agent = [rng.choice([0, 0, 0, 2, 9]) for _ in range(200)]
        explicit = (
            "explicit",
            AGENT_CONFIDENCE_BOUNDS,
            np.array(agent, dtype=np.uint64),
            sum(agent),
            1.0,
            mn,
            mx,
        )
        other = ("explicit", (0.1, 0.5, 2.0), [1, 0, 3, 2], 6, 1.0, mn, mx)
        # confidence as an exponential histogram: values up to ~1 (Python spans the linear grid up to them)
        exp_conf = ("exp", 4, rng.randrange(-120, -40), rep, 0, sum(counts), 1.0, math.nan, math.nan)
        lat.append(rng.choice([exp, other, None]))
        conf.append(rng.choice([explicit, explicit, other, exp_conf, None]))
    for rows, prepare, py, linear in (
        (lat, hist_convert.prepare_latency, _prepare_latency, False),
        (conf, hist_convert.prepare_linear, _prepare_linear, True),
    ):
        prepared = [None if h is None else prepare(h) for h in rows]
        reference = [None if h is None else py(h) for h in rows]
        for a, b in zip(prepared, reference):
            _same_prepared(a, b)
        _check(prepared, linear)
        _same(hist_array(prepared, linear, 1.0), _numpy_hist_array(reference, linear, 1.0))


def _bench_rows(shape: int) -> tuple[list, list]:
    sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
    try:
        import collector_ingest
    finally:
        sys.path.pop(0)
    bodies, _, _ = collector_ingest.build_bodies(3, shape, seed=5, pool=4)
    inference, metrics = [], []
    for body in bodies:
        decoded = decode_wire(gzip.decompress(body))
        inference += decoded.inference
        metrics += decoded.metrics
    return inference, metrics


@compiled
@pytest.mark.parametrize("shape", [1, 40])
def test_compiled_equals_numpy_on_agent_and_gateway_batches(shape):
    inference, metrics = _bench_rows(shape)
    assert inference and metrics
    lat = [hist_convert.prepare_latency(r[9]) if r[4] == "lat" else None for r in inference]
    conf = [None if r[4] == "lat" else hist_convert.prepare_linear(r[9]) for r in inference]
    exp = [hist_convert.prepare_latency(r[11]) if r[11] and r[11][0] == "exp" else None for r in metrics]
    assert any(r is not None for r in exp)
    for r, a, b in zip(inference, lat, conf):
        _same_prepared(a, _prepare_latency(r[9]) if r[4] == "lat" else None)
        _same_prepared(b, None if r[4] == "lat" else _prepare_linear(r[9]))
    _check(lat, False, 1000.0)
    _check(conf, True, 1.0)
    _check(exp, False, 1.0)


# ---- rows the C path must refuse ----

_NAN = math.nan
_GOOD = (CANONICAL_SCALE + 1, 3, b"\x01\x02", 0, 3, 1.0, _NAN, _NAN)


def _with(k: int, value) -> tuple:
    return _GOOD[:k] + (value,) + _GOOD[k + 1 :]


_REFUSED = {
    "list row": [list(_GOOD)],
    "short row": [_GOOD[:7]],
    "long row": [(*_GOOD, 0)],
    "string row": ["hist"],
    "float scale": [_with(0, 5.0)],
    "bool scale": [_with(0, True)],
    "numpy scale": [_with(0, np.int64(5))],
    "scale below canonical": [_with(0, CANONICAL_SCALE - 1)],
    "scale far above canonical": [_with(0, CANONICAL_SCALE + 31)],
    "huge scale": [_with(0, 2**70)],
    "huge offset": [_with(1, 2**40 + 1)],
    "huge negative offset": [_with(1, -(2**40) - 1)],
    "idx0 past int32": [_with(1, 2**32)],
    "float count": [_with(4, 3.0)],
    "None zero": [_with(3, None)],
    "count past int64": [_with(4, 2**63)],
    "numpy float min": [_with(6, np.float64(1.0))],
    "int sum past 2^53": [_with(5, 2**53 + 1)],
    "string max": [_with(7, "1")],
    "truncated varint": [_with(2, b"\x01\x80")],
    "11-byte varint": [_with(2, b"\xff" * 10 + b"\x01")],
    "varint past 2^64": [_with(2, b"\xff" * 9 + b"\x02")],
    "bytearray": [_with(2, bytearray(b"\x01"))],
    "memoryview": [_with(2, memoryview(b"\x01"))],
    "float in list": [_with(2, [1, 2.0])],
    "bool in list": [_with(2, [1, True])],
    "numpy int in list": [_with(2, [np.int64(1)])],
    "list item past int64": [_with(2, [2**63])],
    "list item below int64": [_with(2, [-(2**63) - 1])],
    "float array": [_with(2, np.array([1.0, 2.0]))],
    "bool array": [_with(2, np.array([True, False]))],
    "2-d array": [_with(2, np.ones((2, 2), dtype=np.int64))],
    "0-d array": [_with(2, np.array(5))],
    "strided array": [_with(2, np.arange(10, dtype=np.int64)[::2])],
    "big-endian array": [_with(2, np.arange(3, dtype=">u8"))],
    "array subclass": [_with(2, np.ma.masked_array([1, 2]))],
    "None counts": [_with(2, None)],
    "int counts": [_with(2, 5)],
}


@compiled
@pytest.mark.parametrize("case", sorted(_REFUSED))
@pytest.mark.parametrize("linear", [False, True])
def test_compiled_gives_up_and_numpy_answers(case, linear):
    rows = [_GOOD, None, *_REFUSED[case], _GOOD]
    if linear and case in ("scale below canonical", "scale far above canonical"):
        assert _wire.hist_columns(rows, linear) is not None  # the linear grid ignores scale (within int64)
        return
    assert _wire.hist_columns(rows, linear) is None
    try:
        expected = _numpy_hist_array(rows, linear, 1.0)
    except Exception as exc:  # whatever numpy makes of it, hist_array must do the same
        with pytest.raises(type(exc)):
            hist_array(rows, linear, 1.0)
        return
    _same(hist_array(rows, linear, 1.0), expected)


@compiled
def test_compiled_refuses_what_is_not_a_list_of_rows():
    assert _wire.hist_columns(iter([_GOOD]), False) is None
    assert _wire.hist_columns((_GOOD,), False) is not None
    with pytest.raises(TypeError):
        _wire.hist_columns([_GOOD])


@compiled
def test_compiled_prepare_falls_back_to_python():
    odd = [
        ("exp", 3, 0, [1, 2], 0, 3, 1.0, _NAN, _NAN),  # below canonical: upscaled in Python
        ("exp", 2**70, 0, b"\x01", 0, 1, 1.0, _NAN, _NAN),  # huge: as it is
        ("exp", 5.0, 0, b"\x01", 0, 1, 1.0, _NAN, _NAN),
        ("explicit", list(AGENT_CONFIDENCE_BOUNDS), [1] * 200, 200, 1.0, _NAN, _NAN),
        ("explicit", (0.5,), [1, 2], 3, 1.0, _NAN, _NAN),
        ["exp", 5, 0, b"\x01", 0, 1, 1.0, _NAN, _NAN],
        ("exp", 5, 0, b"\x01"),
        ("explicit", AGENT_CONFIDENCE_BOUNDS),
        ("summary", 1, 2.0),
        (),
        None,
    ]
    for c_fn, py in ((_wire.prepare_latency, _prepare_latency), (_wire.prepare_linear, _prepare_linear)):
        for h in odd:
            try:
                expected = py(h)
            except Exception as exc:
                with pytest.raises(type(exc)):
                    c_fn(h)
                continue
            got = c_fn(h)
            assert type(got) is type(expected) and len(got) == len(expected)
            for a, b in zip(got, expected):
                assert a is b or a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b))


# ---- random bytes as counts ----


@compiled
def test_random_varint_bytes_never_crash_and_read_only_like_numpy():
    rng = random.Random(99)
    accepted = 0
    for _ in range(3000):
        rows = []
        for _ in range(rng.randrange(1, 6)):
            raw = bytes(
                rng.choice([rng.randrange(256), rng.randrange(128), 0x80, 0xFF])
                for _ in range(rng.randrange(0, 24))
            )
            rows.append(
                rng.choice(
                    [
                        None,
                        (
                            CANONICAL_SCALE + rng.randrange(3),
                            rng.randrange(-50, 50),
                            raw,
                            0,
                            1,
                            1.0,
                            _NAN,
                            _NAN,
                        ),
                    ]
                )
            )
        got = _wire.hist_columns(rows, rng.random() < 0.5)
        if got is None:
            continue
        accepted += 1
        for linear in (False, True):
            cols = _wire.hist_columns(rows, linear)
            assert cols is not None
            _same(hist_convert._compiled_struct(cols, linear, 1.0), _numpy_hist_array(rows, linear, 1.0))
    assert accepted > 100
