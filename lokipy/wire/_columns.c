/* Push bodies decoded straight into columns: one pass, no per-entry Python objects but ints.
 *
 * The Python decoders (push_proto.py with proto_columns.py, and push_json.py) are the
 * reference: they take every shape Loki accepts and word every error as Loki does. The two
 * functions here take only the shape clients send in practice and return None for anything
 * else (structured metadata, a repeated or unknown field, a number where a string belongs,
 * invalid UTF-8, an escaped lone surrogate, a leading zero, a malformed body...). None means
 * "ask the Python decoder", never "invalid": a body is either decoded here to exactly what the
 * Python decoder returns, or handed to it. tests/wire/test_native_columns.py holds them equal.
 *
 * Both return a list with one tuple per stream, in body order:
 *   proto_columns(data) -> [(labels: bytes, timestamps: list[int], text: bytes, lengths: list[int], stats)]
 *   json_columns(body)  -> [(labels: list[tuple[str, str]], timestamps, text, lengths, stats)]
 * ``text`` is the stream's lines back to back and ``lengths`` their sizes in bytes; ``stats``
 * is (oldest, newest, strictly increasing, longest line), or None when there are no entries.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define NS 1000000000LL

/* --- scratch columns, reused from stream to stream --------------------------------------- */

typedef struct {
    char *data;
    size_t len, cap;
} Buf;

typedef struct {
    int64_t *data;
    size_t len, cap;
} I64s;

typedef struct {
    Buf text;
    I64s ts, lens;
} Columns;

static int buf_add(Buf *b, const void *src, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 65536;
        while (cap < b->len + n) cap *= 2;
        char *p = realloc(b->data, cap);
        if (!p) return 0;
        b->data = p;
        b->cap = cap;
    }
    if (n) memcpy(b->data + b->len, src, n);
    b->len += n;
    return 1;
}

static int i64_add(I64s *a, int64_t v) {
    if (a->len == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 1024;
        int64_t *p = realloc(a->data, cap * sizeof(int64_t));
        if (!p) return 0;
        a->data = p;
        a->cap = cap;
    }
    a->data[a->len++] = v;
    return 1;
}

static void columns_reset(Columns *c) { c->text.len = c->ts.len = c->lens.len = 0; }

static void columns_free(Columns *c) {
    free(c->text.data);
    free(c->ts.data);
    free(c->lens.data);
}

static PyObject *int_list(const I64s *a) {
    PyObject *list = PyList_New((Py_ssize_t)a->len);
    if (!list) return NULL;
    for (size_t i = 0; i < a->len; i++) {
        PyObject *v = PyLong_FromLongLong(a->data[i]);
        if (!v) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, v);
    }
    return list;
}

/* (oldest, newest, strictly increasing, longest line), or None for no entries: what later
 * steps would otherwise find with a pass over each column. */
static PyObject *column_stats(const Columns *c) {
    size_t n = c->ts.len;
    if (n == 0) Py_RETURN_NONE;
    const int64_t *ts = c->ts.data, *lens = c->lens.data;
    int64_t lo = ts[0], hi = ts[0], longest = lens[0];
    int increasing = 1;
    for (size_t i = 1; i < n; i++) {
        if (ts[i] <= ts[i - 1]) increasing = 0;
        if (ts[i] < lo) lo = ts[i];
        if (ts[i] > hi) hi = ts[i];
        if (lens[i] > longest) longest = lens[i];
    }
    return Py_BuildValue("(LLOL)", (long long)lo, (long long)hi, increasing ? Py_True : Py_False,
                         (long long)longest);
}

/* Append (labels, timestamps, text, lengths, stats) to ``out``; steals ``labels``. 0 on error. */
static int emit_stream(PyObject *out, PyObject *labels, const Columns *c) {
    PyObject *item = NULL;
    PyObject *ts = int_list(&c->ts);
    PyObject *lens = int_list(&c->lens);
    PyObject *text = PyBytes_FromStringAndSize(c->text.data ? c->text.data : "", (Py_ssize_t)c->text.len);
    PyObject *stats = column_stats(c);
    if (labels && ts && lens && text && stats) item = PyTuple_Pack(5, labels, ts, text, lens, stats);
    Py_XDECREF(labels);
    Py_XDECREF(ts);
    Py_XDECREF(lens);
    Py_XDECREF(text);
    Py_XDECREF(stats);
    if (!item) return 0;
    int rc = PyList_Append(out, item);
    Py_DECREF(item);
    return rc == 0;
}

/* --- protobuf ------------------------------------------------------------------------------
 * logproto.PushRequest { repeated StreamAdapter streams = 1; }
 * StreamAdapter { bytes labels = 1; repeated EntryAdapter entries = 2; uint64 hash = 3; }
 * EntryAdapter { Timestamp timestamp = 1; bytes line = 2; }   (metadata, parsed: Python)
 * Timestamp { int64 seconds = 1; int32 nanos = 2; }
 */

enum { VARINT = 0, LEN = 2 };
enum { OK = 1, NO = 0, ERR = -1 }; /* decoded / leave it to Python / Python exception set */

static int varint(const uint8_t **pp, const uint8_t *end, uint64_t *out) {
    const uint8_t *p = *pp;
    uint64_t v = 0;
    for (int i = 0; i < 10 && p < end; i++) {
        uint8_t b = *p++;
        if (i == 9 && b > 1) return 0; /* more than 64 bits */
        v |= (uint64_t)(b & 0x7F) << (7 * i);
        if (b < 0x80) {
            *pp = p;
            *out = v;
            return 1;
        }
    }
    return 0;
}

/* A tag and, for LEN fields, the field's bytes [*start, *stop). */
static int next_field(const uint8_t **pp, const uint8_t *end, uint64_t *num, int *wire,
                      const uint8_t **start, const uint8_t **stop, uint64_t *value) {
    uint64_t tag;
    if (!varint(pp, end, &tag)) return 0;
    *num = tag >> 3;
    *wire = (int)(tag & 7);
    if (*wire == VARINT) return varint(pp, end, value);
    if (*wire != LEN) return 0;
    uint64_t n;
    if (!varint(pp, end, &n) || n > (uint64_t)(end - *pp)) return 0;
    *start = *pp;
    *stop = *pp + n;
    *pp = *stop;
    return 1;
}

static int proto_timestamp(const uint8_t *p, const uint8_t *end, int64_t *ns) {
    uint64_t num, value = 0, seconds = 0, nanos = 0;
    int wire, have_s = 0, have_n = 0;
    const uint8_t *a, *b;
    while (p < end) {
        if (!next_field(&p, end, &num, &wire, &a, &b, &value) || wire != VARINT) return 0;
        if (num == 1 && !have_s) {
            seconds = value;
            have_s = 1;
        } else if (num == 2 && !have_n) {
            nanos = value;
            have_n = 1;
        } else {
            return 0;
        }
    }
    int64_t s = (int64_t)seconds, n = (int64_t)nanos, out;
    if (n < 0 || n >= NS) return 0;
    /* s * NS + n in int64, which for negative s may hold although s * NS alone does not */
    if (s < 0 ? __builtin_mul_overflow(s + 1, NS, &out) || __builtin_add_overflow(out, n - NS, &out)
              : __builtin_mul_overflow(s, NS, &out) || __builtin_add_overflow(out, n, &out))
        return 0;
    *ns = out;
    return 1;
}

static int proto_entry(const uint8_t *p, const uint8_t *end, Columns *c) {
    uint64_t num, value;
    int wire, have_ts = 0, have_line = 0;
    const uint8_t *a = NULL, *b = NULL, *line = NULL, *line_end = NULL;
    int64_t ts = 0;
    while (p < end) {
        if (!next_field(&p, end, &num, &wire, &a, &b, &value) || wire != LEN) return 0;
        if (num == 1 && !have_ts) {
            if (!proto_timestamp(a, b, &ts)) return 0;
            have_ts = 1;
        } else if (num == 2 && !have_line) {
            line = a;
            line_end = b;
            have_line = 1;
        } else {
            return 0;
        }
    }
    if (!have_ts) return 0; /* an entry at the epoch: rare, Python's */
    size_t n = have_line ? (size_t)(line_end - line) : 0;
    if (!i64_add(&c->ts, ts) || !i64_add(&c->lens, (int64_t)n) || !buf_add(&c->text, line, n)) return -1;
    return 1;
}

static int proto_stream(const uint8_t *p, const uint8_t *end, Columns *c, PyObject *out) {
    uint64_t num, value;
    int wire, have_labels = 0, have_hash = 0;
    const uint8_t *a = NULL, *b = NULL, *labels = NULL, *labels_end = NULL;
    columns_reset(c);
    while (p < end) {
        if (!next_field(&p, end, &num, &wire, &a, &b, &value)) return NO;
        if (num == 1 && wire == LEN && !have_labels) {
            labels = a;
            labels_end = b;
            have_labels = 1;
        } else if (num == 2 && wire == LEN) {
            int rc = proto_entry(a, b, c);
            if (rc <= 0) {
                if (rc < 0) PyErr_NoMemory();
                return rc < 0 ? ERR : NO;
            }
        } else if (num == 3 && wire == VARINT && !have_hash) {
            have_hash = 1; /* Loki ignores it too */
        } else {
            return NO;
        }
    }
    if (!have_labels) return NO;
    PyObject *text = PyBytes_FromStringAndSize((const char *)labels, labels_end - labels);
    return emit_stream(out, text, c) ? OK : ERR;
}

static PyObject *proto_columns(PyObject *self, PyObject *arg) {
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    const uint8_t *p = view.buf, *end = p + view.len;
    Columns c = {0};
    PyObject *out = PyList_New(0);
    int rc = out ? OK : ERR;
    while (rc == OK && p < end) {
        uint64_t num, value;
        int wire;
        const uint8_t *a, *b;
        if (!next_field(&p, end, &num, &wire, &a, &b, &value) || num != 1 || wire != LEN) {
            rc = NO;
            break;
        }
        rc = proto_stream(a, b, &c, out);
    }
    columns_free(&c);
    PyBuffer_Release(&view);
    if (rc == OK && PyList_GET_SIZE(out) > 0) return out;
    Py_XDECREF(out);
    if (rc == ERR) return NULL;
    Py_RETURN_NONE;
}

/* --- JSON ----------------------------------------------------------------------------------
 * {"streams": [{"stream": {"name": "value", ...}, "values": [["<ns>", "<line>"], ...]}, ...]}
 * Keys exactly these, each once; every entry exactly two strings; the timestamp plain decimal
 * digits without a leading zero (what orjson reads as a number on the Python side).
 */

typedef struct {
    const uint8_t *p, *end;
} Json;

static void skip_ws(Json *j) {
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t')) j->p++;
}

static int take(Json *j, char ch) {
    skip_ws(j);
    if (j->p < j->end && *j->p == (uint8_t)ch) {
        j->p++;
        return 1;
    }
    return 0;
}

/* Length of the valid UTF-8 sequence at p (RFC 3629: no overlongs, no surrogates), or 0. */
static int utf8_len(const uint8_t *p, const uint8_t *end) {
    uint8_t b0 = p[0];
    int n;
    uint8_t lo = 0x80, hi = 0xBF;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        n = 2;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        n = 3;
        if (b0 == 0xE0) lo = 0xA0;
        if (b0 == 0xED) hi = 0x9F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        n = 4;
        if (b0 == 0xF0) lo = 0x90;
        if (b0 == 0xF4) hi = 0x8F;
    } else {
        return 0;
    }
    if (end - p < n || p[1] < lo || p[1] > hi) return 0;
    for (int i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xBF) return 0;
    return n;
}

static int hex4(const uint8_t *p, const uint8_t *end, uint32_t *out) {
    if (end - p < 4) return 0;
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        uint8_t ch = p[i];
        v <<= 4;
        if (ch >= '0' && ch <= '9') v |= ch - '0';
        else if (ch >= 'a' && ch <= 'f') v |= ch - 'a' + 10;
        else if (ch >= 'A' && ch <= 'F') v |= ch - 'A' + 10;
        else return 0;
    }
    *out = v;
    return 1;
}

static int add_code_point(Buf *b, uint32_t cp) {
    uint8_t u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (uint8_t)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = 0xC0 | (cp >> 6);
        u[1] = 0x80 | (cp & 0x3F);
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = 0xE0 | (cp >> 12);
        u[1] = 0x80 | ((cp >> 6) & 0x3F);
        u[2] = 0x80 | (cp & 0x3F);
        n = 3;
    } else {
        u[0] = 0xF0 | (cp >> 18);
        u[1] = 0x80 | ((cp >> 12) & 0x3F);
        u[2] = 0x80 | ((cp >> 6) & 0x3F);
        u[3] = 0x80 | (cp & 0x3F);
        n = 4;
    }
    return buf_add(b, u, n);
}

/* Whether the 8 bytes at p are all plain string bytes: ASCII, not a control character, not
 * '"' or '\\'. Bit tricks on one 64-bit word; a false "no" only sends the bytes through the
 * byte-by-byte loop, a "yes" is always right. */
static inline int plain8(const uint8_t *p) {
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t x, quote, bslash;
    memcpy(&x, p, 8);
    quote = x ^ (ones * '"');
    bslash = x ^ (ones * '\\');
    uint64_t flags = ((quote - ones) & ~quote) | ((bslash - ones) & ~bslash) | (x - ones * 0x20) | x;
    return (flags & highs) == 0;
}

/* Skip plain string bytes a word (or 16 bytes, with SSE2) at a time; stops at or before the
 * first byte that needs a look. */
static inline const uint8_t *skip_plain(const uint8_t *p, const uint8_t *end) {
#ifdef __SSE2__
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'), space = _mm_set1_epi8(0x20);
    while (end - p >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)p);
        /* signed: below 0x20 catches the control characters and every byte >= 0x80 */
        __m128i odd = _mm_or_si128(_mm_cmplt_epi8(x, space),
                                   _mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, bslash)));
        int mask = _mm_movemask_epi8(odd);
        if (mask) return p + __builtin_ctz((unsigned)mask);
        p += 16;
    }
#endif
    while (end - p >= 8 && plain8(p)) p += 8;
    return p;
}

/* A JSON string, unescaped into ``b``: OK, NO (not one we take), ERR (no memory). */
static int json_string(Json *j, Buf *b) {
    if (!take(j, '"')) return NO;
    const uint8_t *p = j->p, *end = j->end, *run = p;
    while (p < end) {
        p = skip_plain(p, end);
        if (p >= end) break;
        uint8_t ch = *p;
        if (ch >= 0x20 && ch < 0x80 && ch != '"' && ch != '\\') {
            p++;
            continue;
        }
        if (ch >= 0x80) {
            int n = utf8_len(p, end);
            if (!n) return NO;
            p += n;
            continue;
        }
        if (ch < 0x20) return NO; /* raw control character: invalid JSON */
        if (!buf_add(b, run, (size_t)(p - run))) return ERR;
        if (ch == '"') {
            j->p = p + 1;
            return OK;
        }
        /* a backslash escape */
        if (end - p < 2) return NO;
        uint8_t e = p[1], single;
        p += 2;
        switch (e) {
        case '"': single = '"'; break;
        case '\\': single = '\\'; break;
        case '/': single = '/'; break;
        case 'b': single = '\b'; break;
        case 'f': single = '\f'; break;
        case 'n': single = '\n'; break;
        case 'r': single = '\r'; break;
        case 't': single = '\t'; break;
        case 'u': {
            uint32_t cp, low;
            if (!hex4(p, end, &cp)) return NO;
            p += 4;
            if (cp >= 0xDC00 && cp <= 0xDFFF) return NO; /* lone low surrogate */
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || !hex4(p + 2, end, &low) || low < 0xDC00 ||
                    low > 0xDFFF)
                    return NO; /* lone high surrogate */
                p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            }
            if (!add_code_point(b, cp)) return ERR;
            run = p;
            continue;
        }
        default:
            return NO;
        }
        if (!buf_add(b, &single, 1)) return ERR;
        run = p;
    }
    return NO; /* unterminated */
}

/* A key, compared with ``want`` (keys here never need unescaping; an escaped one is NO). */
static int json_key(Json *j, const char *want) {
    size_t n = strlen(want);
    skip_ws(j);
    if ((size_t)(j->end - j->p) < n + 2 || j->p[0] != '"' || memcmp(j->p + 1, want, n) != 0 || j->p[n + 1] != '"')
        return 0;
    j->p += n + 2;
    return take(j, ':');
}

static int json_timestamp(Json *j, int64_t *out) {
    if (!take(j, '"')) return 0;
    const uint8_t *p = j->p;
    uint64_t v = 0;
    int digits = 0;
    while (p < j->end && *p >= '0' && *p <= '9') {
        if (digits == 0 && *p == '0' && p + 1 < j->end && p[1] != '"') return 0; /* leading zero */
        uint64_t d = (uint64_t)(*p - '0');
        if (v > ((uint64_t)INT64_MAX - d) / 10) return 0; /* past int64: Python's error */
        v = v * 10 + d;
        p++;
        digits++;
    }
    if (!digits || p >= j->end || *p != '"') return 0;
    j->p = p + 1;
    *out = (int64_t)v;
    return 1;
}

/* {"name": "value", ...} as a list of (str, str) in body order; NULL with *rc NO or ERR. */
static PyObject *json_labels(Json *j, Buf *scratch, int *rc) {
    *rc = NO;
    if (!take(j, '{')) return NULL;
    PyObject *pairs = PyList_New(0);
    if (!pairs) {
        *rc = ERR;
        return NULL;
    }
    if (take(j, '}')) return pairs;
    do {
        scratch->len = 0;
        int r = json_string(j, scratch);
        size_t key_end = scratch->len;
        if (r == OK) r = take(j, ':') ? json_string(j, scratch) : NO;
        if (r != OK) {
            *rc = r;
            Py_DECREF(pairs);
            return NULL;
        }
        PyObject *name = PyUnicode_DecodeUTF8(scratch->data, (Py_ssize_t)key_end, "strict");
        PyObject *value =
            name ? PyUnicode_DecodeUTF8(scratch->data + key_end, (Py_ssize_t)(scratch->len - key_end), "strict")
                 : NULL;
        PyObject *pair = value ? PyTuple_Pack(2, name, value) : NULL;
        int dup = 0;
        for (Py_ssize_t i = 0; pair && i < PyList_GET_SIZE(pairs); i++) {
            PyObject *seen = PyTuple_GET_ITEM(PyList_GET_ITEM(pairs, i), 0);
            if (PyUnicode_Compare(seen, name) == 0) dup = 1; /* the dict keeps the last: Python's */
        }
        int appended = pair && !dup && PyList_Append(pairs, pair) == 0;
        Py_XDECREF(name);
        Py_XDECREF(value);
        Py_XDECREF(pair);
        if (!appended) {
            *rc = dup ? NO : ERR;
            Py_DECREF(pairs);
            return NULL;
        }
    } while (take(j, ','));
    if (!take(j, '}')) {
        Py_DECREF(pairs);
        return NULL;
    }
    return pairs;
}

static int json_values(Json *j, Columns *c) {
    if (!take(j, '[')) return NO;
    if (take(j, ']')) return OK;
    do {
        int64_t ts;
        if (!take(j, '[') || !json_timestamp(j, &ts) || !take(j, ',')) return NO;
        size_t before = c->text.len;
        int rc = json_string(j, &c->text);
        if (rc != OK) return rc;
        if (!take(j, ']')) return NO;
        if (!i64_add(&c->ts, ts) || !i64_add(&c->lens, (int64_t)(c->text.len - before))) return ERR;
    } while (take(j, ','));
    return take(j, ']') ? OK : NO;
}

static int json_stream(Json *j, Columns *c, Buf *scratch, PyObject *out) {
    PyObject *labels = NULL;
    int have_values = 0, rc = OK;
    columns_reset(c);
    if (!take(j, '{')) return NO;
    do {
        skip_ws(j);
        if (!labels && json_key(j, "stream")) {
            labels = json_labels(j, scratch, &rc);
            if (!labels) return rc;
            rc = OK;
        } else if (!have_values && json_key(j, "values")) {
            rc = json_values(j, c);
            have_values = 1;
        } else {
            rc = NO;
        }
    } while (rc == OK && take(j, ','));
    if (rc == OK && (!take(j, '}') || !labels || !have_values)) rc = NO;
    if (rc != OK) {
        Py_XDECREF(labels);
        return rc;
    }
    return emit_stream(out, labels, c) ? OK : ERR;
}

static PyObject *json_columns(PyObject *self, PyObject *arg) {
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    Json j = {view.buf, (const uint8_t *)view.buf + view.len};
    Columns c = {0};
    Buf scratch = {0};
    PyObject *out = PyList_New(0);
    int rc = out ? OK : ERR;
    if (rc == OK && !(take(&j, '{') && json_key(&j, "streams") && take(&j, '['))) rc = NO;
    if (rc == OK && !take(&j, ']')) {
        do {
            rc = json_stream(&j, &c, &scratch, out);
        } while (rc == OK && take(&j, ','));
        if (rc == OK && !take(&j, ']')) rc = NO;
    }
    if (rc == OK) {
        if (take(&j, '}')) {
            skip_ws(&j);
            if (j.p != j.end) rc = NO;
        } else {
            rc = NO;
        }
    }
    columns_free(&c);
    free(scratch.data);
    PyBuffer_Release(&view);
    if (rc == OK && PyList_GET_SIZE(out) > 0) return out;
    Py_XDECREF(out);
    if (rc == ERR) {
        if (!PyErr_Occurred()) PyErr_NoMemory();
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"proto_columns", proto_columns, METH_O,
     "Columns of a plain logproto.PushRequest (snappy-decoded), or None: see the module source."},
    {"json_columns", json_columns, METH_O, "Columns of a plain v1 JSON push body, or None."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "lokipy.wire._columns", NULL, -1, methods};

PyMODINIT_FUNC PyInit__columns(void) { return PyModule_Create(&module); }
