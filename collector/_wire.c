/* _wire.c: compiled fast paths of collector/otlp_wire.decode_wire and of hist_convert.hist_array and
 * prepare_latency / prepare_linear (module inferwatch.collector._wire; the histogram part is described
 * at hist_columns below).
 *
 * decode(body) walks a serialized ExportMetricsServiceRequest in one pass and returns the same
 * otlp_decode.Decoded the Python walker in otlp_wire.py returns (the same row tuples, built from the
 * same caches), or None when it gives up; otlp_wire.decode_wire then runs the Python walker, which stays
 * the reference. Why: the Python walker costs ~15-20 us per histogram point, mostly interpreter
 * overhead of reading bytes one at a time; here the byte walking is C and only the rows are objects.
 *
 * What it reads (what our agent and the OpenTelemetry SDKs send): ResourceMetrics -> ScopeMetrics ->
 * Metric with name, unit, description and one gauge, sum, histogram or exponential_histogram;
 *   - number points: start/end times, as_double or as_int, attributes in one run, flags;
 *   - explicit histogram points: times, count, sum, packed fixed64 counts, packed double bounds,
 *     min, max, attributes in one run, flags;
 *   - exponential histogram points: leading attributes, times, count, sum, scale, zero_count,
 *     positive buckets (offset, packed varint counts), min, max, zero_threshold, flags.
 * It gives up on the WHOLE request for anything else: summaries, exemplars, metadata, negative
 * buckets, unknown or repeated fields, multi-byte tags, and every point the Python code would reject
 * or hand to upb (counts not adding up, bad bounds, NaN/Inf, missing times, unspecified temporality,
 * inference histograms in ms, metrics without data). So a request it accepts has no rejections, and
 * all of its count checks (deferred to the end of the request in Python) pass here inline.
 *
 * Caches: it uses otlp_decode._RESOURCES / _SERIES and otlp_wire._SCOPES with the keys Python uses;
 * on a miss it calls otlp_wire._resource / _scope / _series. It makes those calls in the order the
 * Python walker makes them, each only after having read everything Python reads before that call,
 * so the calls made before giving up are a prefix of the Python walker's own: giving up leaves the
 * caches as the Python walker, run next, would (cached values depend only on their keys).
 *
 * Hostile input: every read is checked against the end of its enclosing field, lengths before use,
 * varints are at most 10 bytes and must fit 64 bits, offsets are compared as unsigned before adding;
 * nesting is fixed (four loops, no recursion). Any violation gives up (the Python / upb path then
 * answers, with a DecodeFailure for undecodable bodies).
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define GIVE_UP (-1)

/* Set by configure(); strong references for the life of the process. */
static PyObject *wire_mod, *decode_mod;            /* otlp_wire, otlp_decode */
static PyObject *decoded_cls;                      /* otlp_decode.Decoded */
static PyObject *agent_bounds, *agent_bounds_bytes;
static PyObject *np_frombuffer, *u8_dtype, *np_zeros, *np_uint64;
static PyObject *cls_number, *cls_hist, *cls_exp;  /* point message classes (for _series misses) */
static PyObject *delta;                            /* otlp_decode.DELTA */
static PyObject *duration_name, *confidence_name;  /* inference metric names, as bytes */
static uint64_t max_count;
static int configured;

/* Interned strings. */
static PyObject *s_gauge, *s_sum, *s_histogram, *s_exp_histogram, *s_lat, *s_conf, *s_empty;
static PyObject *s_exp, *s_explicit;
static PyObject *n_RESOURCES, *n_SERIES, *n_SCOPES, *n_resource, *n_scope, *n_series, *n_inference, *n_metrics;

/* Per call: caches and cache-miss functions, looked up on the modules each call (never stale). */
typedef struct {
    const uint8_t *b;
    PyObject *inference, *metrics;
    PyObject *resources, *series, *scopes;
    PyObject *resource_fn, *scope_fn, *series_fn;
} Ctx;

enum { K_GAUGE, K_SUM, K_HIST, K_EXP };

/* ---- wire reading: every function returns 0, or GIVE_UP ---- */

static inline uint64_t rd64(const uint8_t *p)
{
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
           (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

static inline double rd_double(const uint8_t *p)
{
    uint64_t u = rd64(p);
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

/* A varint at b[*i], inside [*i, e): at most 10 bytes, value < 2^64. */
static inline int varint(const uint8_t *b, Py_ssize_t *i, Py_ssize_t e, uint64_t *out)
{
    uint64_t x = 0;
    Py_ssize_t k = *i;
    for (int shift = 0; shift <= 63; shift += 7) {
        if (k >= e)
            return GIVE_UP;
        uint8_t c = b[k++];
        if (shift == 63 && c > 1)
            return GIVE_UP;
        x |= (uint64_t)(c & 0x7F) << shift;
        if (c < 0x80) {
            *i = k;
            *out = x;
            return 0;
        }
    }
    return GIVE_UP;
}

/* A length prefix at b[*i]; the data is [*i, *fe) after the call, inside e. */
static inline int span(const uint8_t *b, Py_ssize_t *i, Py_ssize_t e, Py_ssize_t *fe)
{
    uint64_t ln;
    if (varint(b, i, e, &ln) || ln > (uint64_t)(e - *i))
        return GIVE_UP;
    *fe = *i + (Py_ssize_t)ln;
    return 0;
}

/* One field of a message at b[*i] (< e) with a one-byte tag, length-delimited ([*fs, *fe)) or varint
 * (*v): what the Python walker's _fields accepts, less multi-byte tags. */
static inline int field(const uint8_t *b, Py_ssize_t *i, Py_ssize_t e, int *tag, Py_ssize_t *fs,
                        Py_ssize_t *fe, uint64_t *v)
{
    int t = b[*i];
    if (t >= 0x80)
        return GIVE_UP;
    (*i)++;
    if ((t & 7) == 2) {
        if (span(b, i, e, fe))
            return GIVE_UP;
        *fs = *i;
        *i = *fe;
    } else if ((t & 7) == 0) {
        if (varint(b, i, e, v))
            return GIVE_UP;
    } else {
        return GIVE_UP;
    }
    *tag = t;
    return 0;
}

/* A fixed64 field's 8 bytes at b[*i + 1]: *i is at its tag. */
static inline int fixed(const uint8_t *b, Py_ssize_t *i, Py_ssize_t e, uint64_t *out)
{
    if (e - *i < 9)
        return GIVE_UP;
    *out = rd64(b + *i + 1);
    *i += 9;
    return 0;
}

static PyObject *text(const uint8_t *b, Py_ssize_t s, Py_ssize_t e)
{
    PyObject *u = PyUnicode_DecodeUTF8((const char *)b + s, e - s, "strict");
    if (u == NULL && PyErr_ExceptionMatches(PyExc_UnicodeDecodeError))
        PyErr_Clear();
    return u;
}

static int text_ok(const uint8_t *b, Py_ssize_t s, Py_ssize_t e)
{
    PyObject *u = text(b, s, e);
    if (u == NULL)
        return GIVE_UP;
    Py_DECREF(u);
    return 0;
}

static int same_bytes(PyObject *bytes_obj, const uint8_t *p, Py_ssize_t n)
{
    return PyBytes_GET_SIZE(bytes_obj) == n && memcmp(PyBytes_AS_STRING(bytes_obj), p, (size_t)n) == 0;
}

/* ---- cache lookups: a new reference, or NULL (gave up or an exception) ---- */

/* cache[key] when present, else fn(key); the key reference is consumed. */
static PyObject *cached(PyObject *cache, PyObject *fn, PyObject *key)
{
    if (key == NULL)
        return NULL;
    PyObject *hit = PyDict_GetItemWithError(cache, key);
    if (hit != NULL) {
        Py_INCREF(hit);
    } else if (!PyErr_Occurred()) {
        hit = PyObject_CallOneArg(fn, key);
    }
    Py_DECREF(key);
    return hit;
}

typedef struct {
    PyObject *name, *unit, *kind, *temporality, *monotonic, *cls, *rows, *kind_tag;
    int kindno, inferred, lat;
} Metric;

typedef struct {
    PyObject *res, *res_json, *res_id, *scope;
} Origin;

/* (sid, attrs_json, model, version, error) of a point: otlp_wire._series. */
static PyObject *series_of(Ctx *c, const Metric *m, const Origin *o, Py_ssize_t a0, Py_ssize_t a1)
{
    PyObject *akey = PyBytes_FromStringAndSize((const char *)c->b + a0, a1 - a0);
    if (akey == NULL)
        return NULL;
    PyObject *key = PyTuple_Pack(4, m->name, o->scope, o->res_id, akey);
    PyObject *hit = NULL;
    if (key != NULL) {
        hit = PyDict_GetItemWithError(c->series, key);
        if (hit != NULL) {
            Py_INCREF(hit);
        } else if (!PyErr_Occurred()) {
            PyObject *args[6] = {m->name, o->scope, o->res_id, o->res_json, akey, m->cls};
            hit = PyObject_Vectorcall(c->series_fn, args, 6, NULL);
        }
        Py_DECREF(key);
    }
    Py_DECREF(akey);
    if (hit != NULL && !(PyTuple_CheckExact(hit) && PyTuple_GET_SIZE(hit) == 5)) {
        Py_DECREF(hit);
        return NULL;
    }
    return hit;
}

/* ---- rows ---- */

/* Append a row for a point; steals hist_or_value. The layouts are otlp_wire._points'. */
static int add_row(Ctx *c, const Metric *m, const Origin *o, uint64_t start, uint64_t end, Py_ssize_t a0,
                   Py_ssize_t a1, PyObject *hist_or_value, int is_number)
{
    if (hist_or_value == NULL)
        return GIVE_UP;
    PyObject *hit = series_of(c, m, o, a0, a1);
    PyObject *row = NULL, *st = NULL, *en = NULL;
    if (hit == NULL)
        goto fail;
    st = PyLong_FromUnsignedLongLong(start);
    en = PyLong_FromUnsignedLongLong(end);
    if (st == NULL || en == NULL)
        goto fail;
    PyObject *sid = PyTuple_GET_ITEM(hit, 0);
    if (m->inferred) {
        PyObject *err = m->lat ? PyTuple_GET_ITEM(hit, 4) : Py_None;
        row = PyTuple_Pack(10, sid, st, en, m->temporality, m->kind_tag, o->res, PyTuple_GET_ITEM(hit, 2),
                           PyTuple_GET_ITEM(hit, 3), err, hist_or_value);
    } else if (is_number) {
        row = PyTuple_Pack(13, sid, st, en, m->temporality, m->name, m->kind, m->unit, m->monotonic, o->res,
                           PyTuple_GET_ITEM(hit, 1), hist_or_value, Py_None, Py_None);
    } else {
        row = PyTuple_Pack(13, sid, st, en, m->temporality, m->name, m->kind, m->unit, m->monotonic, o->res,
                           PyTuple_GET_ITEM(hit, 1), Py_None, hist_or_value, Py_None);
    }
    if (row == NULL || PyList_Append(m->rows, row) < 0)
        goto fail;
    Py_DECREF(row);
    Py_DECREF(st);
    Py_DECREF(en);
    Py_DECREF(hit);
    Py_DECREF(hist_or_value);
    return 0;
fail:
    Py_XDECREF(row);
    Py_XDECREF(st);
    Py_XDECREF(en);
    Py_XDECREF(hit);
    Py_DECREF(hist_or_value);
    return GIVE_UP;
}

/* The times check of otlp_wire._points: end > 0 and start <= end. */
static inline int times_ok(uint64_t start, uint64_t end) { return end != 0 && start <= end; }

/* A run of attribute fields (tag `tag`) at i: [*a0, *a1) must stay one run, as in the Python readers. */
static inline int attr_field(const uint8_t *b, Py_ssize_t *i, Py_ssize_t e, Py_ssize_t *a0, Py_ssize_t *a1)
{
    Py_ssize_t t0 = *i, fe;
    (*i)++;
    if (span(b, i, e, &fe))
        return GIVE_UP;
    if (*a0 < 0)
        *a0 = t0;
    else if (*a1 != t0)
        return GIVE_UP; /* attributes interrupted by other fields */
    *a1 = *i = fe;
    return 0;
}

/* otlp_wire._number_point, accepting only points it reads and keeps. */
static int number_point(Ctx *c, const Metric *m, const Origin *o, Py_ssize_t i, Py_ssize_t e)
{
    const uint8_t *b = c->b;
    uint64_t start = 0, end = 0, v;
    Py_ssize_t a0 = -1, a1 = -1;
    double value = 0;
    int has_value = 0;
    if (e - i == 27 && b[i] == 0x11 && b[i + 9] == 0x19) { /* no attributes, one value: the usual point */
        start = rd64(b + i + 1);
        end = rd64(b + i + 10);
        uint8_t t = b[i + 18];
        if (t == 0x21)
            value = rd_double(b + i + 19);
        else if (t == 0x31)
            value = (double)(int64_t)rd64(b + i + 19);
        else
            return GIVE_UP; /* Python hands this one to upb */
        has_value = 1;
    } else {
        while (i < e) {
            uint8_t t = b[i];
            if (t == 0x11) {
                if (fixed(b, &i, e, &start))
                    return GIVE_UP;
            } else if (t == 0x19) {
                if (fixed(b, &i, e, &end))
                    return GIVE_UP;
            } else if (t == 0x21) {
                if (fixed(b, &i, e, &v))
                    return GIVE_UP;
                memcpy(&value, &v, sizeof value);
                has_value = 1;
            } else if (t == 0x31) {
                if (fixed(b, &i, e, &v))
                    return GIVE_UP;
                value = (double)(int64_t)v;
                has_value = 1;
            } else if (t == 0x3A) {
                if (attr_field(b, &i, e, &a0, &a1))
                    return GIVE_UP;
            } else if (t == 0x40) {
                i++;
                if (varint(b, &i, e, &v))
                    return GIVE_UP;
            } else {
                return GIVE_UP;
            }
        }
    }
    if (!has_value || !isfinite(value) || !times_ok(start, end))
        return GIVE_UP;
    if (a0 < 0)
        a0 = a1 = 0;
    return add_row(c, m, o, start, end, a0, a1, PyFloat_FromDouble(value), 1);
}

/* otlp_wire._explicit_point, accepting only points it reads and keeps (its deferred count check
 * included). */
static int explicit_point(Ctx *c, const Metric *m, const Origin *o, Py_ssize_t i, Py_ssize_t e)
{
    const uint8_t *b = c->b;
    uint64_t start = 0, end = 0, count = 0, v;
    double s = NAN, mn = NAN, mx = NAN;
    int has_sum = 0;
    Py_ssize_t a0 = -1, a1 = -1, cs = -1, ce = -1, bs = -1, be = -1, fe;
    while (i < e) {
        uint8_t t = b[i];
        if (t == 0x11) {
            if (fixed(b, &i, e, &start))
                return GIVE_UP;
        } else if (t == 0x19) {
            if (fixed(b, &i, e, &end))
                return GIVE_UP;
        } else if (t == 0x21) {
            if (fixed(b, &i, e, &count))
                return GIVE_UP;
        } else if (t == 0x29) {
            if (fixed(b, &i, e, &v))
                return GIVE_UP;
            memcpy(&s, &v, sizeof s);
            has_sum = 1;
        } else if (t == 0x59 || t == 0x61) {
            if (fixed(b, &i, e, &v))
                return GIVE_UP;
            memcpy(t == 0x59 ? &mn : &mx, &v, sizeof(double));
        } else if (t == 0x4A) {
            if (attr_field(b, &i, e, &a0, &a1))
                return GIVE_UP;
        } else if (t == 0x32 || t == 0x3A) {
            i++;
            if (span(b, &i, e, &fe) || (fe - i) % 8)
                return GIVE_UP;
            if (t == 0x32) {
                if (cs >= 0)
                    return GIVE_UP;
                cs = i, ce = fe;
            } else {
                if (bs >= 0)
                    return GIVE_UP;
                bs = i, be = fe;
            }
            i = fe;
        } else if (t == 0x50) {
            i++;
            if (varint(b, &i, e, &v))
                return GIVE_UP;
        } else {
            return GIVE_UP;
        }
    }
    if (!times_ok(start, end) || count >= max_count)
        return GIVE_UP;
    Py_ssize_t n = cs >= 0 ? (ce - cs) / 8 : 0;
    Py_ssize_t nb = bs >= 0 ? (be - bs) / 8 : 0;
    if (n) {
        uint64_t total = 0;
        for (Py_ssize_t k = 0; k < n; k++) {
            v = rd64(b + cs + 8 * k);
            total += v;
            if (total < v)
                return GIVE_UP; /* past 2^64: cannot add up to count */
        }
        if (total != count || n != nb + 1)
            return GIVE_UP;
    }
    int agent = bs >= 0 && same_bytes(agent_bounds_bytes, b + bs, be - bs);
    if (!agent) { /* otlp_decode._bounds_ok: finite and increasing */
        for (Py_ssize_t k = 0; k < nb; k++) {
            double x = rd_double(b + bs + 8 * k);
            if (!isfinite(x) || (k && !(rd_double(b + bs + 8 * (k - 1)) < x)))
                return GIVE_UP;
        }
    }
    if (isinf(s) || isinf(mn) || isinf(mx) || (n && count && has_sum && isnan(s)))
        return GIVE_UP;
    if (!has_sum)
        s = NAN;
    PyObject *bounds, *counts;
    if (agent) {
        Py_INCREF(agent_bounds);
        bounds = agent_bounds;
    } else {
        bounds = PyTuple_New(nb);
        for (Py_ssize_t k = 0; bounds != NULL && k < nb; k++) {
            PyObject *x = PyFloat_FromDouble(rd_double(b + bs + 8 * k));
            if (x == NULL)
                Py_CLEAR(bounds);
            else
                PyTuple_SET_ITEM(bounds, k, x);
        }
        if (bounds == NULL)
            return GIVE_UP;
    }
    if (n) { /* np.frombuffer(b[cs:ce], "<u8") */
        PyObject *raw = PyBytes_FromStringAndSize((const char *)b + cs, ce - cs);
        if (raw == NULL) {
            Py_DECREF(bounds);
            return GIVE_UP;
        }
        PyObject *args[2] = {raw, u8_dtype};
        counts = PyObject_Vectorcall(np_frombuffer, args, 2, NULL);
        Py_DECREF(raw);
    } else { /* np.zeros(0, np.uint64) */
        PyObject *zero = PyLong_FromLong(0);
        PyObject *args[2] = {zero, np_uint64};
        counts = zero ? PyObject_Vectorcall(np_zeros, args, 2, NULL) : NULL;
        Py_XDECREF(zero);
    }
    if (counts == NULL) {
        Py_DECREF(bounds);
        return GIVE_UP;
    }
    PyObject *hist = Py_BuildValue("(ONNNddd)", s_explicit, bounds, counts, PyLong_FromUnsignedLongLong(count),
                                   s, mn, mx);
    if (a0 < 0)
        a0 = a1 = 0;
    return add_row(c, m, o, start, end, a0, a1, hist, 0);
}

/* The sum of the packed varints b[k:e], one-byte ones 8 at a time (per-minute counts are mostly
 * below 128); GIVE_UP for an incomplete or too long varint, or a sum past limit (< 2^62; the running
 * total stays below 2^63 + 2^62: one-byte values add at most 127 per byte). */
static inline int varint_sum(const uint8_t *b, Py_ssize_t k, Py_ssize_t e, uint64_t limit, uint64_t *out)
{
    uint64_t total = 0, v, x;
    while (k < e) {
        if (e - k >= 8) {
            memcpy(&x, b + k, 8);
            if (!(x & 0x8080808080808080ULL)) { /* byte sum: pairs into 16-bit lanes, lanes into the top */
                x = (x & 0x00FF00FF00FF00FFULL) + ((x >> 8) & 0x00FF00FF00FF00FFULL);
                total += (x * 0x0001000100010001ULL) >> 48;
                k += 8;
                continue;
            }
        }
        if (b[k] < 0x80) {
            total += b[k++];
            continue;
        }
        if (varint(b, &k, e, &v) || v > limit || total > limit)
            return GIVE_UP;
        total += v;
    }
    if (total > limit)
        return GIVE_UP;
    *out = total;
    return 0;
}

/* otlp_wire._exp_point, accepting only points it reads and keeps, and no negative buckets. */
static int exp_point(Ctx *c, const Metric *m, const Origin *o, Py_ssize_t i, Py_ssize_t e)
{
    const uint8_t *b = c->b;
    uint64_t start = 0, end = 0, count = 0, zero = 0, v;
    int64_t scale = 0, offset = 0;
    double s = 0.0, mn = NAN, mx = NAN;
    Py_ssize_t a0 = i, ss = -1, se = -1, fe;
    while (i < e && b[i] == 0x0A) { /* the attributes lead */
        i++;
        if (span(b, &i, e, &fe))
            return GIVE_UP;
        i = fe;
    }
    Py_ssize_t a1 = i;
    while (i < e) {
        uint8_t t = b[i];
        if (t == 0x11) {
            if (fixed(b, &i, e, &start))
                return GIVE_UP;
        } else if (t == 0x19) {
            if (fixed(b, &i, e, &end))
                return GIVE_UP;
        } else if (t == 0x21) {
            if (fixed(b, &i, e, &count))
                return GIVE_UP;
        } else if (t == 0x39) {
            if (fixed(b, &i, e, &zero))
                return GIVE_UP;
        } else if (t == 0x29 || t == 0x61 || t == 0x69) {
            if (fixed(b, &i, e, &v))
                return GIVE_UP;
            memcpy(t == 0x29 ? &s : t == 0x61 ? &mn : &mx, &v, sizeof(double));
        } else if (t == 0x71) { /* zero_threshold: not stored */
            if (fixed(b, &i, e, &v))
                return GIVE_UP;
        } else if (t == 0x30) {
            i++;
            if (varint(b, &i, e, &v) || v >= (1ULL << 32))
                return GIVE_UP;
            scale = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
        } else if (t == 0x50) {
            i++;
            if (varint(b, &i, e, &v))
                return GIVE_UP;
        } else if (t == 0x42) { /* positive buckets: [offset], [packed counts], nothing else */
            if (ss >= 0)
                return GIVE_UP;
            i++;
            if (span(b, &i, e, &fe))
                return GIVE_UP;
            if (i < fe && b[i] == 0x08) {
                i++;
                if (varint(b, &i, fe, &v) || v >= (1ULL << 32))
                    return GIVE_UP;
                offset = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
            }
            ss = se = i;
            if (i < fe) {
                if (b[i] != 0x12)
                    return GIVE_UP;
                i++;
                if (span(b, &i, fe, &se))
                    return GIVE_UP;
                ss = i;
                i = se;
            }
            if (i != fe)
                return GIVE_UP;
        } else {
            return GIVE_UP; /* negative buckets, attributes after other fields, exemplars, unknown */
        }
    }
    if (!times_ok(start, end) || count >= max_count || zero > count)
        return GIVE_UP;
    /* The counts are complete varints adding up to count - zero. */
    uint64_t rest = count - zero, total = 0;
    if (ss >= 0 && varint_sum(b, ss, se, rest, &total))
        return GIVE_UP;
    if (total != rest || scale < -10 || scale > 20 || !isfinite(s) || isinf(mn) || isinf(mx))
        return GIVE_UP;
    PyObject *seg = ss >= 0 ? PyBytes_FromStringAndSize((const char *)b + ss, se - ss)
                            : PyBytes_FromStringAndSize(NULL, 0);
    PyObject *hist = seg == NULL ? NULL
                                 : Py_BuildValue("(OLLNKKddd)", s_exp, (long long)scale, (long long)offset, seg,
                                                 (unsigned long long)zero, (unsigned long long)count, s, mn, mx);
    return add_row(c, m, o, start, end, a0, a1, hist, 0);
}

/* ---- message levels ---- */

static int metric(Ctx *c, Py_ssize_t s, Py_ssize_t e, const Origin *o)
{
    const uint8_t *b = c->b;
    Py_ssize_t i = s, fs = 0, fe = 0, ns = -1, ne = -1, us = -1, ue = -1, ds = -1, de = -1;
    uint64_t v = 0;
    int tag, kindno = -1;
    while (i < e) { /* otlp_wire._head: every field before any point */
        if (field(b, &i, e, &tag, &fs, &fe, &v))
            return GIVE_UP;
        if (tag == 0x0A && ns < 0)
            ns = fs, ne = fe;
        else if (tag == 0x1A && us < 0)
            us = fs, ue = fe;
        else if (tag == 0x12) {
            if (text_ok(b, fs, fe))
                return GIVE_UP;
        } else if ((tag == 0x2A || tag == 0x3A || tag == 0x4A || tag == 0x52) && kindno < 0) {
            kindno = tag == 0x2A ? K_GAUGE : tag == 0x3A ? K_SUM : tag == 0x4A ? K_HIST : K_EXP;
            ds = fs, de = fe;
        } else {
            return GIVE_UP; /* summary, metadata, repeated or unknown fields */
        }
    }
    if (kindno < 0)
        return GIVE_UP; /* no data: Python skips it (or fails at the end of the body) */
    uint64_t temporality = 0;
    int monotonic = 0;
    Py_ssize_t npoints = 0;
    for (i = ds; i < de;) {
        if (field(b, &i, de, &tag, &fs, &fe, &v))
            return GIVE_UP;
        if (tag == 0x0A)
            npoints++;
        else if (tag == 0x10 && kindno != K_GAUGE)
            temporality = v;
        else if (tag == 0x18 && kindno == K_SUM)
            monotonic = v != 0;
        else
            return GIVE_UP;
    }
    if (kindno != K_GAUGE && temporality != 1 && temporality != 2)
        return GIVE_UP; /* rejected: aggregation temporality unspecified */
    if (!npoints) /* no rows, but Python still decodes name and unit */
        return (ns >= 0 && text_ok(b, ns, ne)) || (us >= 0 && text_ok(b, us, ue)) ? GIVE_UP : 0;
    Metric m = {0};
    m.kindno = kindno;
    int hist = kindno == K_HIST || kindno == K_EXP;
    int is_dur = ns >= 0 && same_bytes(duration_name, b + ns, ne - ns);
    int is_conf = ns >= 0 && same_bytes(confidence_name, b + ns, ne - ns);
    m.inferred = hist && (is_dur || is_conf);
    m.lat = is_dur;
    if (m.inferred && ue - us == 2 && b[us] == 'm' && b[us + 1] == 's')
        return GIVE_UP; /* inference histograms in ms: converted by the general decoder */
    m.name = ns >= 0 ? text(b, ns, ne) : (Py_INCREF(s_empty), s_empty);
    m.unit = us >= 0 ? text(b, us, ue) : (Py_INCREF(s_empty), s_empty);
    int rc = GIVE_UP;
    if (m.name == NULL || m.unit == NULL)
        goto done;
    m.temporality = kindno == K_GAUGE ? (Py_INCREF(delta), delta) : PyLong_FromUnsignedLongLong(temporality);
    if (m.temporality == NULL)
        goto done;
    m.kind = kindno == K_GAUGE ? s_gauge : kindno == K_SUM ? s_sum : kindno == K_HIST ? s_histogram : s_exp_histogram;
    m.monotonic = kindno == K_SUM ? (monotonic ? Py_True : Py_False) : Py_None;
    m.cls = kindno == K_EXP ? cls_exp : kindno == K_HIST ? cls_hist : cls_number;
    m.rows = m.inferred ? c->inference : c->metrics;
    m.kind_tag = m.lat ? s_lat : s_conf;
    for (i = ds; i < de;) {
        if (field(b, &i, de, &tag, &fs, &fe, &v))
            goto done;
        if (tag != 0x0A)
            continue;
        int r = kindno == K_EXP ? exp_point(c, &m, o, fs, fe)
                : kindno == K_HIST ? explicit_point(c, &m, o, fs, fe)
                                   : number_point(c, &m, o, fs, fe);
        if (r)
            goto done;
    }
    rc = 0;
done:
    Py_XDECREF(m.name);
    Py_XDECREF(m.unit);
    Py_XDECREF(m.temporality);
    return rc;
}

/* The span of field 1 (resource or scope) of a ResourceMetrics / ScopeMetrics in b[s:e] ({-1, -1} when
   absent); field 2 (the children) is skipped, field 3 (schema_url) only checked to be UTF-8. */
static int header(const uint8_t *b, Py_ssize_t s, Py_ssize_t e, Py_ssize_t *ks, Py_ssize_t *ke)
{
    Py_ssize_t i, fs = 0, fe = 0;
    uint64_t v;
    int tag;
    for (i = s; i < e;) {
        if (field(b, &i, e, &tag, &fs, &fe, &v))
            return GIVE_UP;
        if (tag == 0x12)
            continue;
        if (tag == 0x0A && *ks < 0)
            *ks = fs, *ke = fe;
        else if (tag == 0x1A) {
            if (text_ok(b, fs, fe))
                return GIVE_UP;
        } else
            return GIVE_UP;
    }
    return 0;
}

static int scope_metrics(Ctx *c, Py_ssize_t s, Py_ssize_t e, Origin *o)
{
    const uint8_t *b = c->b;
    Py_ssize_t i, fs = 0, fe = 0, ks = -1, ke = -1;
    uint64_t v;
    int tag;
    if (header(b, s, e, &ks, &ke))
        return GIVE_UP;
    if (ke > ks) {
        o->scope = cached(c->scopes, c->scope_fn, PyBytes_FromStringAndSize((const char *)b + ks, ke - ks));
        if (o->scope == NULL)
            return GIVE_UP;
    } else {
        Py_INCREF(s_empty);
        o->scope = s_empty;
    }
    int rc = 0;
    for (i = s; i < e && !rc;) {
        if (field(b, &i, e, &tag, &fs, &fe, &v))
            rc = GIVE_UP;
        else if (tag == 0x12)
            rc = metric(c, fs, fe, o);
    }
    Py_CLEAR(o->scope);
    return rc;
}

static int resource_metrics(Ctx *c, Py_ssize_t s, Py_ssize_t e)
{
    const uint8_t *b = c->b;
    Py_ssize_t i, fs = 0, fe = 0, rs = -1, re = -1;
    uint64_t v;
    int tag;
    if (header(b, s, e, &rs, &re))
        return GIVE_UP;
    PyObject *key = rs >= 0 ? PyBytes_FromStringAndSize((const char *)b + rs, re - rs)
                            : PyBytes_FromStringAndSize(NULL, 0);
    PyObject *hit = cached(c->resources, c->resource_fn, key);
    if (hit == NULL)
        return GIVE_UP;
    if (!(PyTuple_CheckExact(hit) && PyTuple_GET_SIZE(hit) == 3)) {
        Py_DECREF(hit);
        return GIVE_UP;
    }
    Origin o = {PyTuple_GET_ITEM(hit, 0), PyTuple_GET_ITEM(hit, 1), PyTuple_GET_ITEM(hit, 2), NULL};
    int rc = 0;
    for (i = s; i < e && !rc;) {
        if (field(b, &i, e, &tag, &fs, &fe, &v))
            rc = GIVE_UP;
        else if (tag == 0x12)
            rc = scope_metrics(c, fs, fe, &o);
    }
    Py_DECREF(hit);
    return rc;
}

/* ---- module functions ---- */

static PyObject *attr(PyObject *mod, const char *name)
{
    return PyObject_GetAttrString(mod, name);
}

PyDoc_STRVAR(configure_doc, "configure(otlp_wire, otlp_decode, numpy): take the caches, helpers and constants.");

static PyObject *configure(PyObject *self, PyObject *args)
{
    PyObject *w, *d, *np;
    if (!PyArg_ParseTuple(args, "OOO", &w, &d, &np))
        return NULL;
    PyObject *mc, *names;
    Py_XSETREF(wire_mod, Py_NewRef(w));
    Py_XSETREF(decode_mod, Py_NewRef(d));
    Py_XSETREF(decoded_cls, attr(d, "Decoded"));
    Py_XSETREF(agent_bounds, attr(w, "AGENT_CONFIDENCE_BOUNDS"));
    Py_XSETREF(agent_bounds_bytes, attr(w, "_AGENT_BOUNDS_BYTES"));
    Py_XSETREF(np_frombuffer, attr(np, "frombuffer"));
    Py_XSETREF(np_zeros, attr(np, "zeros"));
    Py_XSETREF(np_uint64, attr(np, "uint64"));
    Py_XSETREF(u8_dtype, PyObject_CallMethod(np, "dtype", "s", "<u8"));
    Py_XSETREF(cls_number, attr(w, "_NumberDataPoint"));
    Py_XSETREF(cls_hist, attr(w, "_HistogramDataPoint"));
    Py_XSETREF(cls_exp, attr(w, "_ExpDataPoint"));
    Py_XSETREF(delta, attr(d, "DELTA"));
    Py_XSETREF(duration_name, NULL);
    Py_XSETREF(confidence_name, NULL);
    configured = 0;
    if (!decoded_cls || !agent_bounds || !agent_bounds_bytes || !np_frombuffer || !np_zeros ||
        !np_uint64 || !u8_dtype || !cls_number || !cls_hist || !cls_exp || !delta)
        return NULL;
    if (!PyBytes_CheckExact(agent_bounds_bytes) || !PyTuple_CheckExact(agent_bounds)) {
        PyErr_SetString(PyExc_TypeError, "unexpected AGENT_CONFIDENCE_BOUNDS");
        return NULL;
    }
    /* The C path tells inference metrics by these two names: check that they are all of them. */
    PyObject *dur = attr(d, "DURATION"), *conf = attr(d, "CONFIDENCE");
    names = attr(d, "INFERENCE_METRICS");
    int ok = dur && conf && names && PyUnicode_Check(dur) && PyUnicode_Check(conf) &&
             PyTuple_CheckExact(names) && PyTuple_GET_SIZE(names) == 2 &&
             PyUnicode_Compare(PyTuple_GET_ITEM(names, 0), dur) == 0 &&
             PyUnicode_Compare(PyTuple_GET_ITEM(names, 1), conf) == 0;
    if (ok) {
        duration_name = PyUnicode_AsUTF8String(dur);
        confidence_name = PyUnicode_AsUTF8String(conf);
    }
    Py_XDECREF(dur);
    Py_XDECREF(conf);
    Py_XDECREF(names);
    if (PyErr_Occurred())
        return NULL;
    if (!ok || !duration_name || !confidence_name) {
        PyErr_SetString(PyExc_TypeError, "INFERENCE_METRICS is not (DURATION, CONFIDENCE)");
        return NULL;
    }
    /* What decode() looks up on each call must be there now (a rename would make it give up always). */
    PyObject *need[] = {d, n_RESOURCES, d, n_SERIES, w, n_SCOPES, w, n_resource, w, n_scope, w, n_series};
    for (size_t k = 0; k < sizeof need / sizeof need[0]; k += 2) {
        PyObject *x = PyObject_GetAttr(need[k], need[k + 1]);
        if (x == NULL)
            return NULL;
        Py_DECREF(x);
    }
    mc = attr(d, "MAX_COUNT");
    if (mc == NULL)
        return NULL;
    max_count = PyLong_AsUnsignedLongLong(mc);
    Py_DECREF(mc);
    if (PyErr_Occurred())
        return NULL;
    configured = 1;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(decode_doc,
             "decode(body): otlp_decode.Decoded of a serialized request, or None to use the Python walker.");

static PyObject *decode(PyObject *self, PyObject *body)
{
    if (!configured || !PyBytes_CheckExact(body))
        Py_RETURN_NONE;
    Ctx c = {0};
    c.b = (const uint8_t *)PyBytes_AS_STRING(body);
    Py_ssize_t n = PyBytes_GET_SIZE(body), i, fs = 0, fe = 0;
    uint64_t v;
    int tag, rc = GIVE_UP;
    PyObject *result = NULL;
    for (i = 0; i < n;) { /* the whole top level first, as the Python walker reads it */
        if (field(c.b, &i, n, &tag, &fs, &fe, &v) || tag != 0x0A)
            Py_RETURN_NONE;
    }
    c.resources = PyObject_GetAttr(decode_mod, n_RESOURCES);
    c.series = PyObject_GetAttr(decode_mod, n_SERIES);
    c.scopes = PyObject_GetAttr(wire_mod, n_SCOPES);
    c.resource_fn = PyObject_GetAttr(wire_mod, n_resource);
    c.scope_fn = PyObject_GetAttr(wire_mod, n_scope);
    c.series_fn = PyObject_GetAttr(wire_mod, n_series);
    c.inference = PyList_New(0);
    c.metrics = PyList_New(0);
    if (!c.resources || !c.series || !c.scopes || !c.resource_fn || !c.scope_fn || !c.series_fn || !c.inference ||
        !c.metrics || !PyDict_CheckExact(c.resources) || !PyDict_CheckExact(c.series) || !PyDict_CheckExact(c.scopes))
        goto done;
    rc = 0;
    for (i = 0; i < n && !rc;) {
        if (field(c.b, &i, n, &tag, &fs, &fe, &v))
            rc = GIVE_UP;
        else
            rc = resource_metrics(&c, fs, fe);
    }
    if (!rc) { /* Decoded(), then its row lists: as the Python walker fills it, whatever its other fields */
        result = PyObject_CallNoArgs(decoded_cls);
        if (result != NULL && (PyObject_SetAttr(result, n_inference, c.inference) < 0 ||
                               PyObject_SetAttr(result, n_metrics, c.metrics) < 0))
            Py_CLEAR(result);
    }
done:
    Py_XDECREF(c.resources);
    Py_XDECREF(c.series);
    Py_XDECREF(c.scopes);
    Py_XDECREF(c.resource_fn);
    Py_XDECREF(c.scope_fn);
    Py_XDECREF(c.series_fn);
    Py_XDECREF(c.inference);
    Py_XDECREF(c.metrics);
    if (result != NULL)
        return result;
    /* Giving up: the Python walker takes over (and meets the same exception, if any, itself), except
     * for exceptions that are not errors (KeyboardInterrupt, SystemExit), which go on. */
    if (PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_Exception))
            return NULL;
        PyErr_Clear();
    }
    Py_RETURN_NONE;
}

/* ---- histogram columns: the compiled path of hist_convert.hist_array ----
 *
 * hist_columns(rows, linear) reads prepared rows (scale, offset, counts, zero, count, sum, min, max) or
 * None, and returns the per-row columns hist_array's numpy path computes before its final vectorized
 * steps, as bytes: (null uint8[n], idx0 int32[n], list offsets int32[n+1], values int64[total],
 * has uint8[n], zero int64[n], count int64[n], sum, min, max float64[n]). Bucket k of a row goes to
 * canonical index (offset + k) >> (scale - canonical) (linear: offset + k); buckets landing on one index
 * are summed (int64, wrapping as numpy does) and a row keeps the dense range from its first to its last
 * index holding a non-zero bucket (`has`: there is one; idx0 0 otherwise).
 *
 * It returns None, and Python's numpy path answers, for anything it does not read exactly as numpy
 * would: rows other than None or 8-tuples, scalars other than exact ints within int64 (sum/min/max:
 * floats, None (NaN) or ints within 2^53), counts other than bytes of complete varints (at most 10
 * bytes, < 2^64), lists or tuples of exact ints within int64, or C-contiguous one-dimensional integer
 * ndarrays; exponential scales below canonical or more than 30 above it, |offset| > 2^40, an idx0
 * outside int32, more than 2^31 - 1 values in all (so index arithmetic stays far inside int64).
 *
 * One pass over the rows (no Python code runs during it: exact types only, numpy's buffer export is C),
 * prefetching the objects of rows ahead (rows are scattered on the heap: one cache miss after another
 * otherwise dominates). A row's counts are decoded into a small scratch buffer (int64/uint64 ndarrays
 * are read in place), then its dense range (never longer than its counts) is appended to a values
 * buffer kept between calls (fresh memory costs a page fault per 4 kB written) and copied to a bytes
 * object of the exact size at the end.
 *
 * prepare_latency / prepare_linear: hist_convert's functions for the common rows (exponential at scale
 * >= canonical: the row's fields; explicit with the agent's bounds: counts on the linear grid as they
 * are); every other row goes to the Python function given to hist_configure.
 */

static PyObject *ndarray_type, *hc_agent_bounds, *prep_lat_py, *prep_lin_py;
static int64_t hc_canonical;
static int hist_configured;

/* An exact int within int64. */
static inline int as_i64(PyObject *o, int64_t *out)
{
    if (!PyLong_CheckExact(o))
        return GIVE_UP;
    int overflow;
    long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (overflow || (v == -1 && PyErr_Occurred()))
        return GIVE_UP;
    *out = v;
    return 0;
}

/* What np.array(..., dtype=np.float64) makes of a float, None (NaN) or a small exact int. */
static inline int as_f64(PyObject *o, double *out)
{
    int64_t v;
    if (PyFloat_CheckExact(o))
        *out = PyFloat_AS_DOUBLE(o);
    else if (o == Py_None)
        *out = NAN;
    else if (!as_i64(o, &v) && v >= -(1LL << 53) && v <= (1LL << 53))
        *out = (double)v;
    else
        return GIVE_UP;
    return 0;
}

enum { CT_BYTES, CT_LIST, CT_TUPLE, CT_ARRAY };

/* The kind of a row's counts and a bound on their number (bytes: their length), or GIVE_UP. */
static Py_ssize_t counts_len(PyObject *c, int *kind)
{
    if (PyBytes_CheckExact(c)) {
        *kind = CT_BYTES;
        return PyBytes_GET_SIZE(c);
    }
    if (PyList_CheckExact(c)) {
        *kind = CT_LIST;
        return PyList_GET_SIZE(c);
    }
    if (PyTuple_CheckExact(c)) {
        *kind = CT_TUPLE;
        return PyTuple_GET_SIZE(c);
    }
    if ((PyObject *)Py_TYPE(c) == ndarray_type) {
        *kind = CT_ARRAY;
        Py_ssize_t n = PyObject_Size(c); /* 0-d arrays raise */
        if (n < 0) {
            PyErr_Clear();
            return GIVE_UP;
        }
        return n;
    }
    return GIVE_UP;
}

/* An integer ndarray's items as int64 (numpy's unsafe cast: uint64 wraps): *src is the buffer itself for
 * 8-byte items (*v then stays held: the caller releases it), else dst[0:len] holding them. */
static int array_values(PyObject *c, Py_ssize_t len, int64_t *dst, const int64_t **src, Py_buffer *v_out)
{
    Py_buffer v;
    if (PyObject_GetBuffer(c, &v, PyBUF_FORMAT | PyBUF_C_CONTIGUOUS) < 0) {
        PyErr_Clear();
        return GIVE_UP;
    }
    int rc = GIVE_UP;
    const char *f = v.format ? v.format : "B";
    if (*f == '<' || *f == '@' || *f == '=') /* little-endian hosts only (x86, arm64) */
        f++;
    int sig = f[0] && !f[1] ? (strchr("bhilq", f[0]) ? 1 : strchr("BHILQ", f[0]) ? 0 : -1) : -1;
    if (v.ndim != 1 || v.shape[0] != len || sig < 0 || v.itemsize * len != v.len)
        goto done;
    const char *p = v.buf;
    switch (v.itemsize) {
    case 8:
        *src = (const int64_t *)p;
        *v_out = v;
        return 0;
    case 4:
        for (Py_ssize_t k = 0; k < len; k++) {
            uint32_t x;
            memcpy(&x, p + 4 * k, 4);
            dst[k] = sig ? (int64_t)(int32_t)x : (int64_t)x;
        }
        break;
    case 2:
        for (Py_ssize_t k = 0; k < len; k++) {
            uint16_t x;
            memcpy(&x, p + 2 * k, 2);
            dst[k] = sig ? (int64_t)(int16_t)x : (int64_t)x;
        }
        break;
    case 1:
        for (Py_ssize_t k = 0; k < len; k++)
            dst[k] = sig ? (int64_t)(int8_t)p[k] : (int64_t)(uint8_t)p[k];
        break;
    default:
        goto done;
    }
    rc = 0;
done:
    PyBuffer_Release(&v);
    return rc;
}

/* A row's counts as int64 at *src: in dst (room for len) or, for an int64/uint64 ndarray, its buffer, then
 * held in *v (v->obj set). Their number, or GIVE_UP. */
static Py_ssize_t row_values(PyObject *c, int kind, Py_ssize_t len, int64_t *dst, const int64_t **src, Py_buffer *v)
{
    *src = dst;
    if (kind == CT_BYTES) {
        const uint8_t *b = (const uint8_t *)PyBytes_AS_STRING(c);
        Py_ssize_t k = 0, m = 0;
        uint64_t v;
        while (k < len) {
            if (len - k >= 8) { /* eight one-byte varints at once: per-minute counts are mostly < 128 */
                uint64_t x;
                memcpy(&x, b + k, 8);
                if (!(x & 0x8080808080808080ULL)) {
                    for (int q = 0; q < 8; q++)
                        dst[m + q] = b[k + q];
                    m += 8, k += 8;
                    continue;
                }
            }
            if (b[k] < 0x80) {
                dst[m++] = b[k++];
            } else {
                if (varint(b, &k, len, &v))
                    return GIVE_UP;
                dst[m++] = (int64_t)v;
            }
        }
        return m;
    }
    if (kind == CT_ARRAY)
        return array_values(c, len, dst, src, v) ? GIVE_UP : len;
    PyObject **items = kind == CT_LIST ? ((PyListObject *)c)->ob_item : ((PyTupleObject *)c)->ob_item;
    for (Py_ssize_t k = 0; k < len; k++)
        if (as_i64(items[k], &dst[k]))
            return GIVE_UP;
    return len;
}

PyDoc_STRVAR(hist_columns_doc,
             "hist_columns(rows, linear): (null, idx0, offsets, values, has, zero, count, sum, min, max) as\n"
             "bytes for hist_convert.hist_array, or None to use its numpy path.");

enum { HC_NULL, HC_IDX0, HC_OFFS, HC_HAS, HC_ZERO, HC_COUNT, HC_SUM, HC_MIN, HC_MAX, HC_VALS, HC_NCOL };

/* The values being written, kept between calls up to 64 MB (see above); the GIL guards them. */
static int64_t *out_buf;
static Py_ssize_t out_cap;

static int grow_out(Py_ssize_t need)
{
    Py_ssize_t cap = out_cap ? out_cap : 1 << 16;
    while (cap < need) {
        if (cap > PY_SSIZE_T_MAX / 32) {
            PyErr_NoMemory();
            return -1;
        }
        cap *= 2;
    }
    int64_t *p = PyMem_RawRealloc(out_buf, (size_t)cap * 8);
    if (p == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    out_buf = p;
    out_cap = cap;
    return 0;
}

/* Start loading the objects of row r, some rows ahead of their use. */
static inline void prefetch_row(PyObject *r)
{
    if (r != Py_None && PyTuple_CheckExact(r) && PyTuple_GET_SIZE(r) == 8) {
        PyObject **f = ((PyTupleObject *)r)->ob_item;
        for (int k = 1; k < 8; k++)
            __builtin_prefetch(f[k]);
        __builtin_prefetch((const char *)f[2] + 64);
    }
}

static PyObject *hist_columns(PyObject *self, PyObject *args)
{
    PyObject *rows, *col[HC_NCOL] = {0}, *result = NULL;
    int64_t *scratch = NULL; /* before the first goto done */
    int linear;
    if (!PyArg_ParseTuple(args, "Op", &rows, &linear))
        return NULL;
    if (!hist_configured || !(PyList_CheckExact(rows) || PyTuple_CheckExact(rows)))
        Py_RETURN_NONE;
    const Py_ssize_t n = PySequence_Fast_GET_SIZE(rows);
    PyObject **items = PySequence_Fast_ITEMS(rows);
    static const Py_ssize_t width[HC_VALS] = {1, 4, 4, 1, 8, 8, 8, 8, 8};
    if (n >= INT32_MAX)
        Py_RETURN_NONE;
    for (int c = 0; c < HC_VALS; c++)
        if ((col[c] = PyBytes_FromStringAndSize(NULL, (n + (c == HC_OFFS)) * width[c])) == NULL)
            goto done;
#define COL(c, type) ((type *)PyBytes_AS_STRING(col[c]))
    uint8_t *null = COL(HC_NULL, uint8_t), *has = COL(HC_HAS, uint8_t);
    int32_t *idx0 = COL(HC_IDX0, int32_t), *offs = COL(HC_OFFS, int32_t);
    int64_t *zero = COL(HC_ZERO, int64_t), *count = COL(HC_COUNT, int64_t), scale, offset;
    double *sum = COL(HC_SUM, double), *mn = COL(HC_MIN, double), *mx = COL(HC_MAX, double);
    Py_ssize_t pos = 0, len, scratch_len = 0;
    int kind;
    offs[0] = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (i + 16 < n)
            __builtin_prefetch(items[i + 16]);
        if (i + 8 < n)
            prefetch_row(items[i + 8]);
        PyObject *r = items[i];
        has[i] = 0;
        idx0[i] = 0;
        offs[i + 1] = (int32_t)pos;
        if (r == Py_None) { /* hist_array's empty row */
            null[i] = 1;
            zero[i] = count[i] = 0;
            sum[i] = 0.0;
            mn[i] = mx[i] = NAN;
            continue;
        }
        null[i] = 0;
        if (!PyTuple_CheckExact(r) || PyTuple_GET_SIZE(r) != 8)
            goto done;
        PyObject **f = ((PyTupleObject *)r)->ob_item;
        if (as_i64(f[0], &scale) || as_i64(f[1], &offset) || as_i64(f[3], &zero[i]) || as_i64(f[4], &count[i]) ||
            as_f64(f[5], &sum[i]) || as_f64(f[6], &mn[i]) || as_f64(f[7], &mx[i]))
            goto done;
        if (!linear && (scale < hc_canonical || scale - hc_canonical > 30))
            goto done;
        if (offset < -(1LL << 40) || offset > (1LL << 40) || (len = counts_len(f[2], &kind)) < 0 ||
            len > INT32_MAX)
            goto done;
        if (len > scratch_len) { /* the row's counts are decoded here first: it stays in cache */
            PyMem_Free(scratch);
            scratch_len = len < 256 ? 256 : len;
            if ((scratch = PyMem_Malloc((size_t)scratch_len * 8)) == NULL)
                goto done;
        }
        if (len > out_cap - pos && grow_out(pos + len) < 0) /* the dense range is never longer than the counts */
            goto done;
        const int64_t *d;
        Py_buffer view = {0};
        Py_ssize_t m = row_values(f[2], kind, len, scratch, &d, &view), k0 = 0, k1;
        if (m < 0)
            goto done;
        while (k0 < m && d[k0] == 0)
            k0++;
        if (k0 == m) {
            if (view.obj != NULL)
                PyBuffer_Release(&view);
            continue;
        }
        for (k1 = m - 1; d[k1] == 0; k1--)
            ;
        int shift = linear ? 0 : (int)(scale - hc_canonical);
        int64_t t0 = (offset + k0) >> shift, t1 = (offset + k1) >> shift;
        if (t0 < INT32_MIN || t0 > INT32_MAX) {
            if (view.obj != NULL)
                PyBuffer_Release(&view);
            goto done;
        }
        Py_ssize_t ln = (Py_ssize_t)(t1 - t0 + 1); /* <= k1 - k0 + 1 <= len */
        int64_t *out = out_buf + pos;
        if (shift == 0) {
            memcpy(out, d + k0, (size_t)ln * 8);
        } else { /* index t0 + t sums buckets [k, kend) */
            Py_ssize_t k = k0;
            for (int64_t t = 0; t < ln; t++) {
                /* the next index's first bucket; |t0 + t + 1| <= 2^32, shift <= 30: exact (unsigned: a
                 * left shift of a negative int is undefined in C; >> of one is arithmetic in gcc/clang) */
                int64_t kend = (int64_t)((uint64_t)(t0 + t + 1) << shift) - offset;
                if (kend > k1 + 1)
                    kend = k1 + 1;
                uint64_t acc = 0;
                for (; k < kend; k++)
                    acc += (uint64_t)d[k];
                out[t] = (int64_t)acc;
            }
        }
        if (view.obj != NULL)
            PyBuffer_Release(&view);
        pos += ln;
        if (pos > INT32_MAX)
            goto done;
        has[i] = 1;
        idx0[i] = (int32_t)t0;
        offs[i + 1] = (int32_t)pos;
    }
#undef COL
    if ((col[HC_VALS] = PyBytes_FromStringAndSize((const char *)out_buf, pos * 8)) == NULL)
        goto done;
    result = PyTuple_New(HC_NCOL);
    if (result != NULL) {
        /* the tuple's order: null, idx0, offsets, values, has, zero, count, sum, min, max */
        static const int order[HC_NCOL] = {HC_NULL, HC_IDX0, HC_OFFS, HC_VALS, HC_HAS,
                                           HC_ZERO, HC_COUNT, HC_SUM,  HC_MIN,  HC_MAX};
        for (int c = 0; c < HC_NCOL; c++) {
            PyTuple_SET_ITEM(result, c, col[order[c]]);
            col[order[c]] = NULL;
        }
    }
done:
    PyMem_Free(scratch);
    if (out_cap > (1 << 23)) { /* keep at most 64 MB between calls */
        PyMem_RawFree(out_buf);
        out_buf = NULL;
        out_cap = 0;
    }
    for (int c = 0; c < HC_NCOL; c++)
        Py_XDECREF(col[c]);
    if (result != NULL)
        return result;
    if (PyErr_Occurred()) { /* as decode: errors go to the numpy path, KeyboardInterrupt and the like on */
        if (!PyErr_ExceptionMatches(PyExc_Exception))
            return NULL;
        PyErr_Clear();
    }
    Py_RETURN_NONE;
}

static inline int is_str(PyObject *o, PyObject *s)
{
    return o == s || (PyUnicode_CheckExact(o) && PyUnicode_Compare(o, s) == 0);
}

PyDoc_STRVAR(prepare_latency_doc, "prepare_latency(hist): hist_convert.prepare_latency, the usual rows in C.");

static int not_configured(void)
{
    if (!hist_configured)
        PyErr_SetString(PyExc_RuntimeError, "_wire.hist_configure has not been called");
    return !hist_configured;
}

static PyObject *prepare_latency(PyObject *self, PyObject *hist)
{
    if (not_configured())
        return NULL;
    if (PyTuple_CheckExact(hist) && PyTuple_GET_SIZE(hist) == 9 &&
        is_str(PyTuple_GET_ITEM(hist, 0), s_exp) && PyLong_CheckExact(PyTuple_GET_ITEM(hist, 1))) {
        int overflow;
        long long scale = PyLong_AsLongLongAndOverflow(PyTuple_GET_ITEM(hist, 1), &overflow);
        if (overflow > 0 || (!overflow && scale >= hc_canonical)) /* (scale, offset, counts, ..., max) */
            return PyTuple_GetSlice(hist, 1, 9);
    }
    if (PyErr_Occurred())
        return NULL;
    return PyObject_CallOneArg(prep_lat_py, hist);
}

PyDoc_STRVAR(prepare_linear_doc, "prepare_linear(hist): hist_convert.prepare_linear, the usual rows in C.");

static PyObject *prepare_linear(PyObject *self, PyObject *hist)
{
    if (not_configured())
        return NULL;
    if (PyTuple_CheckExact(hist) && PyTuple_GET_SIZE(hist) == 7 &&
        is_str(PyTuple_GET_ITEM(hist, 0), s_explicit) && PyTuple_GET_ITEM(hist, 1) == hc_agent_bounds) {
        PyObject **f = ((PyTupleObject *)hist)->ob_item, *z = PyLong_FromLong(0);
        /* (0, 0, counts, 0, count, sum, min, max): the agent's buckets are the linear grid's */
        PyObject *out = z == NULL ? NULL : PyTuple_Pack(8, z, z, f[2], z, f[3], f[4], f[5], f[6]);
        Py_XDECREF(z);
        return out;
    }
    if (PyErr_Occurred())
        return NULL;
    return PyObject_CallOneArg(prep_lin_py, hist);
}

PyDoc_STRVAR(hist_configure_doc,
             "hist_configure(canonical_scale, agent_bounds, ndarray, prepare_latency, prepare_linear): the\n"
             "constants, numpy's array type and the Python functions prepare_* fall back to.");

static PyObject *hist_configure(PyObject *self, PyObject *args)
{
    long long canonical;
    PyObject *bounds, *nd, *lat, *lin;
    if (!PyArg_ParseTuple(args, "LO!O!OO", &canonical, &PyTuple_Type, &bounds, &PyType_Type, &nd, &lat, &lin))
        return NULL;
    if (canonical < 0 || canonical > 30 || !PyCallable_Check(lat) || !PyCallable_Check(lin)) {
        PyErr_SetString(PyExc_TypeError, "hist_configure: unexpected arguments");
        return NULL;
    }
    hist_configured = 0;
    hc_canonical = canonical;
    Py_XSETREF(hc_agent_bounds, Py_NewRef(bounds));
    Py_XSETREF(ndarray_type, Py_NewRef(nd));
    Py_XSETREF(prep_lat_py, Py_NewRef(lat));
    Py_XSETREF(prep_lin_py, Py_NewRef(lin));
    hist_configured = 1;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"configure", configure, METH_VARARGS, configure_doc},
    {"decode", decode, METH_O, decode_doc},
    {"hist_configure", hist_configure, METH_VARARGS, hist_configure_doc},
    {"hist_columns", hist_columns, METH_VARARGS, hist_columns_doc},
    {"prepare_latency", prepare_latency, METH_O, prepare_latency_doc},
    {"prepare_linear", prepare_linear, METH_O, prepare_linear_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_wire",
    "Compiled fast paths of otlp_wire.decode_wire and hist_convert.hist_array (see _wire.c).", -1, methods,
    NULL, NULL, NULL, NULL,
};

static PyObject *intern(const char *s)
{
    return PyUnicode_InternFromString(s);
}

PyMODINIT_FUNC PyInit__wire(void)
{
    s_gauge = intern("gauge");
    s_sum = intern("sum");
    s_histogram = intern("histogram");
    s_exp_histogram = intern("exponential_histogram");
    s_lat = intern("lat");
    s_conf = intern("conf");
    s_empty = intern("");
    s_exp = intern("exp");
    s_explicit = intern("explicit");
    n_RESOURCES = intern("_RESOURCES");
    n_SERIES = intern("_SERIES");
    n_SCOPES = intern("_SCOPES");
    n_resource = intern("_resource");
    n_scope = intern("_scope");
    n_series = intern("_series");
    n_inference = intern("inference");
    n_metrics = intern("metrics");
    if (!s_gauge || !s_sum || !s_histogram || !s_exp_histogram || !s_lat || !s_conf || !s_empty || !s_exp ||
        !s_explicit || !n_RESOURCES || !n_SERIES || !n_SCOPES || !n_resource || !n_scope || !n_series || !n_inference ||
        !n_metrics)
        return NULL;
    return PyModule_Create(&module);
}
