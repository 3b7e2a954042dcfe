/* app._native: the per-line loops of a block's scan and the per-message readers of call flows,
 * in C.
 *
 * Each replaced a Python function (app/native.py says which); those functions stay the
 * reference and the fallback, and tests/test_native.py checks both give the same answer:
 *
 *   newlines_answer(block, asked)   the newlines before ascending offsets (Newlines._count)
 *   locate_lines(block, candidates, gate, gates, first_extra)
 *                                   the matcher's candidates grouped by line, gated
 *                                   (signatures.engine.locate)
 *   sip_prepare(block, keepalive)   the SIP lines of a block, sorted, keep-alives counted
 *                                   per peer and method (calls.extract)
 *   signin_marks(block, lines)      the possible MRA sign-in lines (calls.signin.mark_block)
 *   sip_line(block, at, end)        one network.sip line's fields (calls.sipline.read_line)
 *   sip_head(raw)                   a SIPMSG block's start line and headers
 *                                   (calls.sipmsg.read_head)
 *   signin_line(line)               a Traffic Server line of doc 225746's form
 *                                   (calls.signin.fast_line)
 *   keepalive_rows(...)             a block's new keep-alive rows (calls.extract
 *                                   FileExtractor._new_rows)
 *   utc_datetime(value, decimal)    a logged UTCTime's datetime (calls.extract.Seconds,
 *                                   calls.signin)
 *   intern_slots(slots, item, shared=None)
 *                                   a kept message's text shared, slot by slot at its
 *                                   offset (calls.interning.slot_interner)
 *   SharedText(limit)               the table of one collector's shared text (intern_slots,
 *                                   signin_run, sip_run: calls.interning.shared_text)
 *
 * and, after the scan, over the kept messages (tests/calls/test_signin_groups.py and
 * test_call_facts.py compare them with their references):
 *
 *   signin_groups(...)              sign-in messages per client and attempt
 *                                   (calls.signin_flow.client_groups_in_python)
 *   signin_steps(...)               what an attempt's messages tell
 *                                   (calls.signin_flow.attempt_facts_in_python)
 *   call_facts(slots, found, names) what a call's messages add up to
 *                                   (calls.group.call_facts_in_python)
 *
 * The block loops walk the block once, left to right (memmem/memchr: no backtracking, linear
 * in the block whatever it holds), record spans in C arrays without the GIL, then build the
 * Python answer with it. The line and head readers take plain ASCII only (there bytes and
 * characters, Python's \s and [ \t\r\n] agree) and answer None or False for the rest, which
 * their Python reference reads.
 */
#define PY_SSIZE_T_CLEAN
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem, memrchr */
#endif
#include <Python.h>
#include <structmember.h>
#include <datetime.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define HAVE_AVX2_TARGET 1 /* an AVX2 twin of the SSE2 loops, chosen at run time */
#endif

/* Whether the AVX2 loops run: set at import when the CPU has AVX2 (set_avx2 switches it, for
 * tests that check both loops give the same answer). */
static int use_avx2 = 0;

#if !defined(__GLIBC__)
static void *memrchr(const void *s, int c, size_t n) {
    const unsigned char *p = (const unsigned char *)s + n;
    while (p > (const unsigned char *)s)
        if (*--p == (unsigned char)c) return (void *)p;
    return NULL;
}
#endif

/* ------------------------------------------------------------------ growable arrays */

typedef struct {
    Py_ssize_t *items;
    Py_ssize_t size;
    Py_ssize_t room;
} Ints;

/* `items` with room for one more item (a growable array of `size` items in `*room`, doubled
 * when full); NULL when out of memory (the array stays as it was). */
static void *make_room(void *items, Py_ssize_t size, Py_ssize_t *room, size_t item_size) {
    if (size < *room) return items;
    Py_ssize_t grown_room = *room ? *room * 2 : 64;
    void *grown = realloc(items, (size_t)grown_room * item_size);
    if (grown != NULL) *room = grown_room;
    return grown;
}

static int ints_push(Ints *a, Py_ssize_t value) {
    Py_ssize_t *items = make_room(a->items, a->size, &a->room, sizeof *a->items);
    if (items == NULL) return -1;
    a->items = items;
    a->items[a->size++] = value;
    return 0;
}

static void ints_free(Ints *a) {
    free(a->items);
    a->items = NULL;
    a->size = a->room = 0;
}

static PyObject *ints_list(const Py_ssize_t *items, Py_ssize_t size) {
    PyObject *list = PyList_New(size);
    if (list == NULL) return NULL;
    for (Py_ssize_t i = 0; i < size; i++) {
        PyObject *value = PyLong_FromSsize_t(items[i]);
        if (value == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, value);
    }
    return list;
}

/* ------------------------------------------------------------------ newlines */

#if defined(HAVE_AVX2_TARGET)
/* count_newlines' loop 32 bytes at a time; the bytes counted, from 0, in *done */
__attribute__((target("avx2"))) static Py_ssize_t count_newlines_avx2(const char *p,
                                                                      Py_ssize_t n,
                                                                      Py_ssize_t *done) {
    Py_ssize_t count = 0, i = 0;
    const __m256i nl = _mm256_set1_epi8('\n'), zero = _mm256_setzero_si256();
    while (i + 32 <= n) {
        __m256i counters = zero;
        for (int rounds = 0; rounds < 255 && i + 32 <= n; rounds++, i += 32) {
            __m256i chunk = _mm256_loadu_si256((const __m256i *)(p + i));
            counters = _mm256_sub_epi8(counters, _mm256_cmpeq_epi8(chunk, nl));
        }
        __m256i sums = _mm256_sad_epu8(counters, zero);
        count += _mm256_extract_epi64(sums, 0) + _mm256_extract_epi64(sums, 1) +
                 _mm256_extract_epi64(sums, 2) + _mm256_extract_epi64(sums, 3);
    }
    *done = i;
    return count;
}
#endif

static Py_ssize_t count_newlines(const char *p, Py_ssize_t n) {
    Py_ssize_t count = 0, i = 0;
#if defined(HAVE_AVX2_TARGET)
    if (use_avx2) count = count_newlines_avx2(p, n, &i);
#endif
#if defined(__SSE2__)
    const __m128i nl = _mm_set1_epi8('\n'), zero = _mm_setzero_si128();
    while (i + 16 <= n) { /* per-byte counters (at most 255 rounds), summed by _mm_sad_epu8 */
        __m128i counters = zero;
        for (int rounds = 0; rounds < 255 && i + 16 <= n; rounds++, i += 16) {
            __m128i chunk = _mm_loadu_si128((const __m128i *)(p + i));
            counters = _mm_sub_epi8(counters, _mm_cmpeq_epi8(chunk, nl));
        }
        __m128i sums = _mm_sad_epu8(counters, zero);
        count += _mm_cvtsi128_si32(sums) + _mm_cvtsi128_si32(_mm_srli_si128(sums, 8));
    }
#endif
    for (; i < n; i++) count += p[i] == '\n';
    return count;
}

/* The newlines before ascending offsets of one block, each answered from the 64-byte chunk
 * that holds it: the chunks between two offsets are counted in bulk (count_newlines), and an
 * offset's own chunk by a mask of its newlines, so that offsets a few bytes apart (a scan's
 * candidate lines, a reader's SIP and sign-in lines: thousands per block) cost a popcount
 * each, not a count_newlines call with its unaligned head and tail. */
typedef struct {
    const char *b;
    Py_ssize_t n;
    Py_ssize_t base;   /* the current chunk: b[base, base + 64), base a multiple of 64 */
    uint64_t mask;     /* its newlines, bit i for b[base + i] (bytes past n: none) */
    Py_ssize_t before; /* the newlines in b[0, base) */
} NewlineCursor;

static uint64_t newline_mask(const char *b, Py_ssize_t n, Py_ssize_t base) {
    uint64_t mask = 0;
    Py_ssize_t i = 0;
#if defined(__SSE2__)
    const __m128i nl = _mm_set1_epi8('\n');
    for (; i < 64 && base + i + 16 <= n; i += 16) {
        __m128i chunk = _mm_loadu_si128((const __m128i *)(b + base + i));
        mask |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(chunk, nl)) << i;
    }
#endif
    for (; i < 64 && base + i < n; i++) mask |= (uint64_t)(b[base + i] == '\n') << i;
    return mask;
}

static void newline_cursor_init(NewlineCursor *c, const char *b, Py_ssize_t n) {
    c->b = b;
    c->n = n;
    c->base = 0;
    c->mask = newline_mask(b, n, 0);
    c->before = 0;
}

/* the newlines in b[0, offset), offset ascending from one call to the next, 0 <= offset <= n */
static Py_ssize_t newlines_upto(NewlineCursor *c, Py_ssize_t offset) {
    if (offset >= c->base + 64) {
        Py_ssize_t chunk = offset & ~(Py_ssize_t)63;
        c->before += count_newlines(c->b + c->base, chunk - c->base);
        c->base = chunk;
        c->mask = newline_mask(c->b, c->n, chunk);
    }
    Py_ssize_t bit = offset - c->base; /* 0 to 63 */
    return c->before + (Py_ssize_t)__builtin_popcountll(c->mask & ((1ULL << bit) - 1));
}

/* ------------------------------------------------------------------ several needles, one pass */

typedef struct {
    const char *text;
    Py_ssize_t size; /* at least 3 */
    Ints *found;     /* every start, overlapping ones too, ascending */
} Needle;

/* Bytes by how common they are in log text, most common first: the middle anchor of a needle
 * is its least common byte (a needle's first and last bytes are the other two anchors). */
static const char COMMON[] = " etaoinsrhldcumfpgwybvk0123456789.=\"-:/_,";

static Py_ssize_t middle_anchor(const Needle *needle) {
    Py_ssize_t best = 1, best_rank = -1;
    for (Py_ssize_t i = 1; i < needle->size - 1; i++) {
        const char *found = memchr(COMMON, needle->text[i], sizeof(COMMON) - 1);
        Py_ssize_t rank = found ? found - COMMON : (Py_ssize_t)sizeof(COMMON);
        if (rank > best_rank) {
            best = i;
            best_rank = rank;
        }
    }
    return best;
}

static int find_from(const char *b, Py_ssize_t n, Py_ssize_t pos, const Needle *needle) {
    while (pos < n) {
        const char *hit = memmem(b + pos, (size_t)(n - pos), needle->text, (size_t)needle->size);
        if (hit == NULL) break;
        if (ints_push(needle->found, hit - b)) return -1;
        pos = hit - b + 1;
    }
    return 0;
}

/* A candidate at b + at: the needle's bytes between its anchors compared; -1 when out of
 * memory. */
static int found_at(const char *b, Py_ssize_t at, const Needle *needle) {
    if (memcmp(b + at + 1, needle->text + 1, (size_t)(needle->size - 2)) == 0 &&
        ints_push(needle->found, at))
        return -1;
    return 0;
}

#if defined(HAVE_AVX2_TARGET)
/* find_all's loop 32 positions at a time (the same three anchors); the position where it
 * stopped (find_all goes on from there), -1 when out of memory. */
__attribute__((target("avx2"))) static Py_ssize_t find_all_avx2(const char *b, Py_ssize_t n,
                                                                const Needle *needles,
                                                                int count) {
    Py_ssize_t i = 0, longest = 0, middle[8];
    __m256i first[8], inner[8], last[8];
    for (int k = 0; k < count; k++) {
        if (needles[k].size > longest) longest = needles[k].size;
        middle[k] = middle_anchor(&needles[k]);
        first[k] = _mm256_set1_epi8(needles[k].text[0]);
        inner[k] = _mm256_set1_epi8(needles[k].text[middle[k]]);
        last[k] = _mm256_set1_epi8(needles[k].text[needles[k].size - 1]);
    }
    for (; i + 32 + longest - 1 <= n; i += 32) {
        __m256i here = _mm256_loadu_si256((const __m256i *)(b + i));
        for (int k = 0; k < count; k++) {
            const Needle *needle = &needles[k];
            __m256i hit = _mm256_cmpeq_epi8(here, first[k]);
            __m256i end = _mm256_loadu_si256((const __m256i *)(b + i + needle->size - 1));
            hit = _mm256_and_si256(hit, _mm256_cmpeq_epi8(end, last[k]));
            unsigned mask = (unsigned)_mm256_movemask_epi8(hit);
            if (!mask) continue;
            __m256i mid = _mm256_loadu_si256((const __m256i *)(b + i + middle[k]));
            mask &= (unsigned)_mm256_movemask_epi8(_mm256_cmpeq_epi8(mid, inner[k]));
            while (mask) {
                Py_ssize_t at = i + __builtin_ctz(mask);
                mask &= mask - 1;
                if (found_at(b, at, needle)) return -1;
            }
        }
    }
    return i;
}
#endif

/* Every occurrence of each needle in b[0:n], in one pass (SSE2: each of 16 positions at once
 * is a candidate when three bytes of the needle are there, then compared whole; AVX2 where
 * the CPU has it: 32 positions). */
static int find_all(const char *b, Py_ssize_t n, const Needle *needles, int count) {
    Py_ssize_t i = 0;
    if (count > 8) return -1;
#if defined(HAVE_AVX2_TARGET)
    if (use_avx2) {
        i = find_all_avx2(b, n, needles, count);
        if (i < 0) return -1;
    }
#endif
#if defined(__SSE2__)
    Py_ssize_t longest = 0, middle[8];
    __m128i first[8], inner[8], last[8];
    for (int k = 0; k < count; k++) {
        if (needles[k].size > longest) longest = needles[k].size;
        middle[k] = middle_anchor(&needles[k]);
        first[k] = _mm_set1_epi8(needles[k].text[0]);
        inner[k] = _mm_set1_epi8(needles[k].text[middle[k]]);
        last[k] = _mm_set1_epi8(needles[k].text[needles[k].size - 1]);
    }
    for (; i + 16 + longest - 1 <= n; i += 16) {
        __m128i here = _mm_loadu_si128((const __m128i *)(b + i));
        for (int k = 0; k < count; k++) {
            const Needle *needle = &needles[k];
            __m128i hit = _mm_cmpeq_epi8(here, first[k]);
            __m128i end = _mm_loadu_si128((const __m128i *)(b + i + needle->size - 1));
            hit = _mm_and_si128(hit, _mm_cmpeq_epi8(end, last[k]));
            unsigned mask = (unsigned)_mm_movemask_epi8(hit);
            if (!mask) continue;
            __m128i mid = _mm_loadu_si128((const __m128i *)(b + i + middle[k]));
            mask &= (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(mid, inner[k]));
            while (mask) {
                Py_ssize_t at = i + __builtin_ctz(mask);
                mask &= mask - 1;
                if (found_at(b, at, needle)) return -1;
            }
        }
    }
#endif
    for (int k = 0; k < count; k++)
        if (find_from(b, n, i, &needles[k])) return -1;
    return 0;
}

/* The offsets of `needle` in b[0:n] another pass found (app._hsscan's position literals), in
 * `given`: native 64-bit integers, ascending, each a start of the needle in b; copied into
 * needle->found. No Python call (runs with the GIL released): 0, -1 when out of memory, -2
 * when `given` is not that (offsets out of order or out of the block, or where the needle is
 * not: FOUND_ERROR). */
static const char FOUND_ERROR[] = "found: not the ascending starts of the needle in the block";

#define FOUND_AHEAD 16 /* offsets: each is checked where the block was read long ago (out of
                       * the caches); the bytes of the one this far ahead are asked for first */

static int found_in(const Py_buffer *given, const char *b, Py_ssize_t n, const Needle *needle) {
    if (given->len % (Py_ssize_t)sizeof(int64_t) != 0) return -2;
    const char *items = given->buf;
    Py_ssize_t count = given->len / (Py_ssize_t)sizeof(int64_t);
    int64_t previous = -1;
    for (Py_ssize_t i = 0; i < count; i++) {
        int64_t at;
        if (i + FOUND_AHEAD < count) {
            memcpy(&at, items + (i + FOUND_AHEAD) * (Py_ssize_t)sizeof at, sizeof at);
            if (at >= 0 && at < n) __builtin_prefetch(b + at, 0, 0);
        }
        memcpy(&at, items + i * (Py_ssize_t)sizeof at, sizeof at); /* (any alignment) */
        if (at <= previous || at > (int64_t)(n - needle->size) ||
            memcmp(b + at, needle->text, (size_t)needle->size) != 0)
            return -2;
        previous = at;
        if (ints_push(needle->found, (Py_ssize_t)at)) return -1;
    }
    return 0;
}

/* find_all, or where `given[k]` (buffers, NULL: none) holds needle k's offsets, those taken
 * (found_in); 0, -1 (out of memory) or -2 (a buffer that is not the offsets). */
static int find_or_take(const char *b, Py_ssize_t n, const Needle *needles, int count,
                        const Py_buffer *given) {
    if (given == NULL) return find_all(b, n, needles, count);
    for (int k = 0; k < count; k++) {
        int status = found_in(&given[k], b, n, &needles[k]);
        if (status) return status;
    }
    return 0;
}

/* Each of `found` (a tuple of `count` bytes-like objects, or None) into `views`; 1 when there
 * are views (release them with release_views), 0 for None, -1 with an exception. */
static int views_of(PyObject *found, Py_buffer *views, int count) {
    if (found == Py_None) return 0;
    if (!PyTuple_Check(found) || PyTuple_GET_SIZE(found) != count) {
        PyErr_Format(PyExc_TypeError, "found: None or a tuple of %d buffers", count);
        return -1;
    }
    for (int k = 0; k < count; k++) {
        if (PyObject_GetBuffer(PyTuple_GET_ITEM(found, k), &views[k], PyBUF_SIMPLE) < 0) {
            while (k--) PyBuffer_Release(&views[k]);
            return -1;
        }
    }
    return 1;
}

static void release_views(Py_buffer *views, int count) {
    for (int k = 0; k < count; k++) PyBuffer_Release(&views[k]);
}

/* newlines_answer(block, asked, checkpoints=True) -> (answers, offsets, counts)
 * asked: a list of lists of ascending offsets. answers[k][i]: the newlines in
 * block[:asked[k][i]]; offsets/counts: every distinct offset asked, ascending, from 0, and the
 * newlines before each (checkpoints for Newlines.before), None without `checkpoints` (a scan
 * asks a hundred thousand offsets per GiB and never looks back: two ints each, for nothing). */
static PyObject *newlines_answer(PyObject *self, PyObject *args) {
    Py_buffer view;
    PyObject *asked;
    int checkpoints = 1;
    if (!PyArg_ParseTuple(args, "y*O!|p", &view, &PyList_Type, &asked, &checkpoints)) return NULL;
    PyObject *result = NULL;
    Py_ssize_t lists = PyList_GET_SIZE(asked);
    Py_ssize_t **values = calloc((size_t)(lists ? lists : 1), sizeof(Py_ssize_t *));
    Py_ssize_t **answers = calloc((size_t)(lists ? lists : 1), sizeof(Py_ssize_t *));
    Py_ssize_t *sizes = calloc((size_t)(lists ? lists : 1), sizeof(Py_ssize_t));
    Py_ssize_t *heads = calloc((size_t)(lists ? lists : 1), sizeof(Py_ssize_t));
    Ints offsets = {0}, counts = {0};
    if (values == NULL || answers == NULL || sizes == NULL || heads == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t k = 0; k < lists; k++) {
        PyObject *list = PyList_GET_ITEM(asked, k);
        if (!PyList_Check(list)) {
            PyErr_SetString(PyExc_TypeError, "newlines_answer: asked must hold lists");
            goto done;
        }
        Py_ssize_t size = PyList_GET_SIZE(list);
        sizes[k] = size;
        values[k] = malloc((size_t)(size ? size : 1) * sizeof(Py_ssize_t));
        answers[k] = malloc((size_t)(size ? size : 1) * sizeof(Py_ssize_t));
        if (values[k] == NULL || answers[k] == NULL) {
            PyErr_NoMemory();
            goto done;
        }
        Py_ssize_t previous = 0;
        for (Py_ssize_t i = 0; i < size; i++) {
            Py_ssize_t value = PyLong_AsSsize_t(PyList_GET_ITEM(list, i));
            if (value == -1 && PyErr_Occurred()) goto done;
            if (value < 0 || value < previous) {
                PyErr_SetString(PyExc_ValueError,
                                "newlines_answer: offsets must be ascending and not negative");
                goto done;
            }
            values[k][i] = previous = value;
        }
    }
    if (ints_push(&offsets, 0) || ints_push(&counts, 0)) {
        PyErr_NoMemory();
        goto done;
    }
    int failed = 0;
    Py_BEGIN_ALLOW_THREADS
    Py_ssize_t length = view.len, last = 0, newlines = 0;
    NewlineCursor cursor;
    newline_cursor_init(&cursor, view.buf, length);
    for (;;) {  /* merge the lists: the smallest head next (ties: the first list) */
        Py_ssize_t pick = -1, smallest = 0;
        for (Py_ssize_t k = 0; k < lists; k++) {
            if (heads[k] < sizes[k] && (pick < 0 || values[k][heads[k]] < smallest)) {
                pick = k;
                smallest = values[k][heads[k]];
            }
        }
        if (pick < 0) break;
        if (smallest != last) {
            newlines = newlines_upto(&cursor, smallest < length ? smallest : length);
            last = smallest;
            if (checkpoints && (ints_push(&offsets, smallest) || ints_push(&counts, newlines))) {
                failed = 1;
                break;
            }
        }
        answers[pick][heads[pick]++] = newlines;
    }
    Py_END_ALLOW_THREADS
    if (failed) {
        PyErr_NoMemory();
        goto done;
    }
    PyObject *answer_lists = PyList_New(lists);
    if (answer_lists == NULL) goto done;
    for (Py_ssize_t k = 0; k < lists; k++) {
        PyObject *list = ints_list(answers[k], sizes[k]);
        if (list == NULL) {
            Py_DECREF(answer_lists);
            goto done;
        }
        PyList_SET_ITEM(answer_lists, k, list);
    }
    PyObject *offset_list = Py_None, *count_list = Py_None;
    if (checkpoints) {
        offset_list = ints_list(offsets.items, offsets.size);
        count_list = ints_list(counts.items, counts.size);
    } else {
        Py_INCREF(offset_list), Py_INCREF(count_list);
    }
    if (offset_list == NULL || count_list == NULL) {
        Py_DECREF(answer_lists);
        Py_XDECREF(offset_list);
        Py_XDECREF(count_list);
        goto done;
    }
    result = Py_BuildValue("(NNN)", answer_lists, offset_list, count_list);
done:
    for (Py_ssize_t k = 0; k < lists; k++) {
        if (values) free(values[k]);
        if (answers) free(answers[k]);
    }
    free(values);
    free(answers);
    free(sizes);
    free(heads);
    ints_free(&offsets);
    ints_free(&counts);
    PyBuffer_Release(&view);
    return result;
}

/* ------------------------------------------------------------------ candidate lines */

typedef struct {
    Py_ssize_t start, end, index;
} Candidate;

static int by_line_then_index(const void *x, const void *y) {
    const Candidate *a = x, *b = y;
    if (a->start != b->start) return a->start < b->start ? -1 : 1;
    return (a->index > b->index) - (a->index < b->index);
}

/* Whether b[start:end] holds every piece of one of the gate's tuples (required.passes): 1,
 * 0, or -1 with TypeError when the gate is not a tuple of tuples of bytes. */
static int gate_passes(PyObject *gate, const char *b, Py_ssize_t start, Py_ssize_t end) {
    if (!PyTuple_Check(gate)) goto wrong;
    Py_ssize_t patterns = PyTuple_GET_SIZE(gate);
    for (Py_ssize_t p = 0; p < patterns; p++) {
        PyObject *pieces = PyTuple_GET_ITEM(gate, p);
        if (!PyTuple_Check(pieces)) goto wrong;
        Py_ssize_t count = PyTuple_GET_SIZE(pieces), k;
        for (k = 0; k < count; k++) {
            PyObject *piece = PyTuple_GET_ITEM(pieces, k);
            if (!PyBytes_Check(piece)) goto wrong;
            Py_ssize_t size = PyBytes_GET_SIZE(piece);
            if (size > end - start) break;
            if (size && memmem(b + start, (size_t)(end - start), PyBytes_AS_STRING(piece),
                               (size_t)size) == NULL)
                break;
        }
        if (k == count) return 1;
    }
    return patterns == 0;
wrong:
    PyErr_SetString(PyExc_TypeError, "locate_lines: a gate is a tuple of tuples of bytes");
    return -1;
}

/* locate_lines(block, candidates, gate, gates, first_extra) -> (starts, ends, kept, extra)
 * engine.locate's grouping of the matcher's candidates, (index, offset) pairs in any order, by
 * the line each offset is on: for each line with a candidate, ascending, its start and end
 * (its newline, or the block's end), `kept` the sorted distinct indexes below first_extra
 * (-1: none is extra) that pass their gate, `extra` the sorted distinct others; lines left
 * with neither are left out. gate: None (no gate) or a callable index -> RawGate, asked once
 * per index, its answer kept in the list gates (None: not asked yet). */
static PyObject *locate_lines(PyObject *self, PyObject *args) {
    Py_buffer view;
    PyObject *candidates, *gate, *gates, *result = NULL;
    Py_ssize_t first_extra;
    if (!PyArg_ParseTuple(args, "y*O!OO!n", &view, &PyList_Type, &candidates, &gate,
                          &PyList_Type, &gates, &first_extra))
        return NULL;
    const char *b = view.buf;
    Py_ssize_t n = view.len, count = PyList_GET_SIZE(candidates);
    Candidate *items = malloc((size_t)(count ? count : 1) * sizeof(Candidate));
    PyObject *starts = NULL, *ends = NULL, *kept = NULL, *extra = NULL;
    Ints chosen = {0}, others = {0};
    if (items == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t line_start = 0, line_end = -1;
    int ordered = 1;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *pair = PyList_GET_ITEM(candidates, i);
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
            PyErr_SetString(PyExc_TypeError, "locate_lines: candidates are (index, offset)");
            goto done;
        }
        Py_ssize_t index = PyLong_AsSsize_t(PyTuple_GET_ITEM(pair, 0));
        Py_ssize_t offset = PyLong_AsSsize_t(PyTuple_GET_ITEM(pair, 1));
        if ((index == -1 || offset == -1) && PyErr_Occurred()) goto done;
        if (offset < 0 || offset >= n || index < 0) {
            PyErr_SetString(PyExc_ValueError, "locate_lines: a candidate outside the block");
            goto done;
        }
        if (!(line_start <= offset && offset <= line_end)) {
            const char *before = memrchr(b, '\n', (size_t)offset);
            const char *after = memchr(b + offset, '\n', (size_t)(n - offset));
            line_start = before ? before - b + 1 : 0;
            line_end = after ? after - b : n;
        }
        items[i].start = line_start;
        items[i].end = line_end;
        items[i].index = index;
        if (i && (items[i - 1].start > line_start ||
                  (items[i - 1].start == line_start && items[i - 1].index > index)))
            ordered = 0;
    }
    if (!ordered) qsort(items, (size_t)count, sizeof *items, by_line_then_index);
    starts = PyList_New(0);
    ends = PyList_New(0);
    kept = PyList_New(0);
    extra = PyList_New(0);
    if (!starts || !ends || !kept || !extra) goto done;
    Py_ssize_t gate_count = PyList_GET_SIZE(gates);
    for (Py_ssize_t i = 0; i < count;) {
        Py_ssize_t start = items[i].start, end = items[i].end, last = -1;
        chosen.size = others.size = 0;
        for (; i < count && items[i].start == start; i++) {
            Py_ssize_t index = items[i].index;
            if (index == last) continue; /* (sorted: a repeat is next to its first) */
            last = index;
            if (first_extra >= 0 && index >= first_extra) {
                if (ints_push(&others, index)) goto no_memory;
                continue;
            }
            if (gate != Py_None) {
                if (index >= gate_count) {
                    PyErr_SetString(PyExc_IndexError, "locate_lines: no gate slot for an index");
                    goto done;
                }
                PyObject *pieces = PyList_GET_ITEM(gates, index);
                if (pieces == Py_None) {
                    pieces = PyObject_CallFunction(gate, "n", index);
                    if (pieces == NULL) goto done;
                    PyList_SetItem(gates, index, pieces); /* (steals the reference) */
                }
                int passed = gate_passes(pieces, b, start, end);
                if (passed < 0) goto done;
                if (!passed) continue;
            }
            if (ints_push(&chosen, index)) goto no_memory;
        }
        if (!chosen.size && !others.size) continue;
        PyObject *start_int = PyLong_FromSsize_t(start), *end_int = PyLong_FromSsize_t(end);
        PyObject *chosen_list = ints_list(chosen.items, chosen.size);
        PyObject *others_list = ints_list(others.items, others.size);
        int failed = !start_int || !end_int || !chosen_list || !others_list ||
                     PyList_Append(starts, start_int) || PyList_Append(ends, end_int) ||
                     PyList_Append(kept, chosen_list) || PyList_Append(extra, others_list);
        Py_XDECREF(start_int);
        Py_XDECREF(end_int);
        Py_XDECREF(chosen_list);
        Py_XDECREF(others_list);
        if (failed) goto done;
    }
    result = PyTuple_Pack(4, starts, ends, kept, extra);
    goto done;
no_memory:
    PyErr_NoMemory();
done:
    Py_XDECREF(starts);
    Py_XDECREF(ends);
    Py_XDECREF(kept);
    Py_XDECREF(extra);
    ints_free(&chosen);
    ints_free(&others);
    free(items);
    PyBuffer_Release(&view);
    return result;
}

/* ------------------------------------------------------------------ a cursor over a line */

typedef struct {
    const char *b;
    Py_ssize_t n;
    Py_ssize_t at;
} Cursor;

static inline uint64_t read8(const char *p) {
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline uint64_t read4(const char *p) {
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* whether p[0, n) and q[0, n) are the same bytes: word loads, no call (memcmp was a libc call
 * per field of every SIP line: 7 million calls per GiB of the bench log); where n is a
 * constant (take's literals) the compiler unrolls it into a few compares */
static inline __attribute__((always_inline)) int same_bytes(const char *p, const char *q,
                                                            size_t n) {
    if (n >= 8) {
        size_t i = 0;
        for (; i + 8 <= n; i += 8)
            if (read8(p + i) != read8(q + i)) return 0;
        return i == n || read8(p + n - 8) == read8(q + n - 8); /* (the tail: overlapping) */
    }
    if (n >= 4) return read4(p) == read4(q) && read4(p + n - 4) == read4(q + n - 4);
    for (size_t i = 0; i < n; i++)
        if (p[i] != q[i]) return 0;
    return 1;
}

/* memmem(h, n, needle, m) for the short literals the readers look for in a line or a head:
 * candidates where the needle's first and last bytes both match, 16 positions at a time, each
 * confirmed by its middle bytes (glibc's memmem took ~500 instructions to look through a SIP
 * head for "SIP/2.0/"); a hostile line of candidates costs m bytes compared per position. */
static const char *find_in(const char *h, Py_ssize_t n, const char *needle, Py_ssize_t m) {
    if (m <= 0 || n < m) return m == 0 ? h : NULL;
    Py_ssize_t i = 0, last = n - m; /* (the last possible start) */
#if defined(__SSE2__)
    const __m128i first = _mm_set1_epi8(needle[0]), final = _mm_set1_epi8(needle[m - 1]);
    for (; i + 15 <= last; i += 16) { /* (reads h[i, i + 16) and h[i + m - 1, i + m + 15)) */
        __m128i starts = _mm_loadu_si128((const __m128i *)(h + i));
        __m128i ends = _mm_loadu_si128((const __m128i *)(h + i + m - 1));
        unsigned both = (unsigned)_mm_movemask_epi8(
            _mm_and_si128(_mm_cmpeq_epi8(starts, first), _mm_cmpeq_epi8(ends, final)));
        for (; both; both &= both - 1) {
            Py_ssize_t at = i + __builtin_ctz(both);
            if (m <= 2 || same_bytes(h + at + 1, needle + 1, (size_t)(m - 2))) return h + at;
        }
    }
#endif
    for (; i <= last; i++)
        if (h[i] == needle[0] && h[i + m - 1] == needle[m - 1] &&
            (m <= 2 || same_bytes(h + i + 1, needle + 1, (size_t)(m - 2))))
            return h + i;
    return NULL;
}

enum { PLAIN_TAB = 1, PLAIN_CR = 2, PLAIN_LF = 4 };

/* whether every byte of p[0, n) is printable ASCII (0x20-0x7e), or a tab, CR or LF where
 * `allowed` says: the check the C readers make before reading a line or a head (anything else
 * is read by Python), 16 bytes at a time */
static int plain_ascii(const char *p, Py_ssize_t n, int allowed) {
    Py_ssize_t i = 0;
#if defined(__SSE2__)
    /* (a byte not allowed compares with a space: printable anyway) */
    const __m128i low = _mm_set1_epi8(0x1f), high = _mm_set1_epi8(0x7f);
    const __m128i tab = _mm_set1_epi8(allowed & PLAIN_TAB ? '\t' : ' ');
    const __m128i cr = _mm_set1_epi8(allowed & PLAIN_CR ? '\r' : ' ');
    const __m128i lf = _mm_set1_epi8(allowed & PLAIN_LF ? '\n' : ' ');
    for (; i + 16 <= n; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(p + i));
        __m128i printable = _mm_and_si128(_mm_cmpgt_epi8(v, low), _mm_cmplt_epi8(v, high));
        __m128i extra = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, tab), _mm_cmpeq_epi8(v, cr)),
                                     _mm_cmpeq_epi8(v, lf));
        if (_mm_movemask_epi8(_mm_or_si128(printable, extra)) != 0xffff) return 0;
    }
#endif
    for (; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch >= 0x20 && ch <= 0x7e) continue;
        if ((ch == '\t' && (allowed & PLAIN_TAB)) || (ch == '\r' && (allowed & PLAIN_CR)) ||
            (ch == '\n' && (allowed & PLAIN_LF)))
            continue;
        return 0;
    }
    return 1;
}

static inline __attribute__((always_inline)) int take(Cursor *c, const char *literal) {
    Py_ssize_t size = (Py_ssize_t)strlen(literal);
    if (c->n - c->at < size || !same_bytes(c->b + c->at, literal, (size_t)size)) return 0;
    c->at += size;
    return 1;
}

static int blanks(Cursor *c) { /* [ \t]+ */
    Py_ssize_t start = c->at;
    while (c->at < c->n && (c->b[c->at] == ' ' || c->b[c->at] == '\t')) c->at++;
    return c->at > start;
}

static int is_alpha(char ch) { return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z'); }

/* The first i >= from with b[i] a '"' or a newline; n when none. */
static Py_ssize_t quote_or_newline(const char *b, Py_ssize_t from, Py_ssize_t n) {
    Py_ssize_t i = from;
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"'), newline = _mm_set1_epi8('\n');
    for (; i + 16 <= n; i += 16) {
        __m128i chunk = _mm_loadu_si128((const __m128i *)(b + i));
        int mask = _mm_movemask_epi8(
            _mm_or_si128(_mm_cmpeq_epi8(chunk, quote), _mm_cmpeq_epi8(chunk, newline)));
        if (mask) return i + __builtin_ctz((unsigned)mask);
    }
#endif
    while (i < n && b[i] != '"' && b[i] != '\n') i++;
    return i;
}

/* [^"\n]* then '"': the value's span */
static int quoted(Cursor *c, Py_ssize_t *start, Py_ssize_t *end) {
    Py_ssize_t i = quote_or_newline(c->b, c->at, c->n);
    if (i >= c->n || c->b[i] != '"') return 0;
    *start = c->at;
    *end = i;
    c->at = i + 1;
    return 1;
}

/* ------------------------------------------------------------------ SIP lines */

enum { G_IP, G_PORT, G_CODE, G_METHOD, G_HASH, G_BLOCK_HASH, G_PEEK, GROUPS };

typedef struct {
    Py_ssize_t at;
    Py_ssize_t span[GROUPS][2]; /* start, end; start -1: the group did not take part */
    /* read with the row (row_facts), while its line is in the caches: sort_rows then reads
     * the block only to confirm a match of hashes (a pass over the rows read from the block
     * again missed the caches on every row: the block was scanned long before) */
    char keepalive;      /* a summary of a keep-alive method (G_METHOD) */
    char peek_keepalive; /* a block line of a keep-alive request (G_PEEK) */
    char keyed;          /* key is span_hash of the key text (see key_hash) */
    uint64_t hash;       /* span_hash of a keep-alive summary's G_HASH, else of G_BLOCK_HASH */
    uint64_t key;        /* key_hash of (ip, port, method) of a keep-alive summary or line */
} SipRow;

typedef struct {
    SipRow *items;
    Py_ssize_t size;
    Py_ssize_t room;
} SipRows;

static int rows_push(SipRows *rows, const SipRow *row) {
    SipRow *items = make_room(rows->items, rows->size, &rows->room, sizeof *rows->items);
    if (items == NULL) return -1;
    rows->items = items;
    rows->items[rows->size++] = *row;
    return 0;
}

static const char SIP_MODULE[] = "Module=\"network.sip\"";
static const char MSG_HASH[] = "Msg-Hash=";

/* The Detail="… Method=… Msg-Hash=…" alternative of extract._ROW, from c->at (after Detail=").
 * Method=([A-Za-z]{1,32})[^"\n]*?Msg-Hash=([^,"\n]{1,64}): the longest method whose lazy
 * rest reaches a Msg-Hash= with a value, as the regex engine backtracks. */
static int sip_detail(Cursor *c, SipRow *row) {
    blanks(c); /* [ \t]* */
    if (!take(c, "Receive") && !take(c, "Sending")) return 0;
    if (!blanks(c)) return 0;
    if (!take(c, "Request") && !take(c, "Response")) return 0;
    if (!blanks(c)) return 0;
    Cursor save = *c;
    if (take(c, "Code=")) {
        Py_ssize_t start = c->at;
        while (c->at < c->n && c->at - start < 11 && c->b[c->at] >= '0' && c->b[c->at] <= '9')
            c->at++;
        Py_ssize_t digits = c->at - start;
        if (digits >= 1 && digits <= 10 && c->at < c->n && c->b[c->at] == ',') {
            row->span[G_CODE][0] = start;
            row->span[G_CODE][1] = c->at;
            c->at++;
            blanks(c); /* [ \t]* */
        } else {
            *c = save;
        }
    }
    if (!take(c, "Method=")) return 0;
    Py_ssize_t method = c->at, run = 0;
    while (method + run < c->n && is_alpha(c->b[method + run])) run++;
    if (run == 0) return 0;
    Py_ssize_t longest = run < 32 ? run : 32;
    /* the region the lazy [^"\n]*? may cross */
    Py_ssize_t stop = quote_or_newline(c->b, method + run, c->n);
    Py_ssize_t found = -1, taken = longest;
    /* the first Msg-Hash= with a value at or after method + longest */
    Py_ssize_t from = method + longest;
    while (from < stop) {
        const char *hit = find_in(c->b + from, stop - from, MSG_HASH, 9);
        if (hit == NULL) break;
        Py_ssize_t h = hit - c->b;
        if (h + 9 < stop && c->b[h + 9] != ',') {
            found = h;
            break;
        }
        from = h + 1;
    }
    if (found < 0) { /* a shorter method: the last Msg-Hash= starting inside the longest one */
        for (Py_ssize_t h = method + longest - 1; h >= method + 1; h--) {
            if (h + 9 < stop && memcmp(c->b + h, MSG_HASH, 9) == 0 && c->b[h + 9] != ',') {
                found = h;
                taken = h - method;
                break;
            }
        }
    }
    if (found < 0) return 0;
    row->span[G_METHOD][0] = method;
    row->span[G_METHOD][1] = method + taken;
    Py_ssize_t value = found + 9, end = value;
    while (end < stop && end - value < 64 && c->b[end] != ',') end++;
    row->span[G_HASH][0] = value;
    row->span[G_HASH][1] = end;
    c->at = end;
    return 1;
}

#define PREFETCH_AHEAD 8 /* rows: the block was read by Hyperscan long enough ago to be out of
                          * the caches; each row's first bytes are asked for this far ahead */

/* Ask for the cache lines of the row at `at` (what sip_row reads: ~300 bytes of a summary,
 * from its Module= to the end of its Detail) ahead of use. */
static inline void prefetch_line(const char *b, Py_ssize_t n, Py_ssize_t at) {
    for (Py_ssize_t k = 0; k < 384 && at + k < n; k += 64) __builtin_prefetch(b + at + k, 0, 0);
}

/* prefetch_line of the offset PREFETCH_AHEAD items after `index` in the list `offsets`, when
 * there is one and it lies in the block (one that is not an int fails when its turn comes) */
static inline void prefetch_listed(const char *b, Py_ssize_t n, PyObject *offsets,
                                   Py_ssize_t index) {
    if (index + PREFETCH_AHEAD >= PyList_GET_SIZE(offsets)) return;
    Py_ssize_t ahead = PyLong_AsSsize_t(PyList_GET_ITEM(offsets, index + PREFETCH_AHEAD));
    if (ahead == -1 && PyErr_Occurred()) PyErr_Clear();
    else if (ahead >= 0 && ahead < n) prefetch_line(b, n, ahead);
}

/* extract._ROW at `at` (where Module="network.sip" is); 1 and the row when it matches */
static int sip_row(const char *b, Py_ssize_t n, Py_ssize_t at, SipRow *row, Py_ssize_t *end) {
    Cursor c = {b, n, at};
    Py_ssize_t s, e;
    for (int g = 0; g < GROUPS; g++) row->span[g][0] = row->span[g][1] = -1;
    row->at = at;
    if (!take(&c, SIP_MODULE) || !blanks(&c)) return 0;
    if (!take(&c, "Level=\"")) return 0;
    while (c.at < n && is_alpha(b[c.at])) c.at++;
    if (!take(&c, "\"")) return 0;
    take(&c, ":");
    if (!blanks(&c)) return 0;
    if (!take(&c, "Action=\"")) return 0;
    if (!take(&c, "Received") && !take(&c, "Sent")) return 0;
    if (!take(&c, "\"") || !blanks(&c)) return 0;
    if (!take(&c, "Local-ip=\"") || !quoted(&c, &s, &e) || !blanks(&c)) return 0;
    if (!take(&c, "Local-port=\"") || !quoted(&c, &s, &e) || !blanks(&c)) return 0;
    if (!take(&c, "Src-ip=\"") && !take(&c, "Dst-ip=\"")) return 0;
    if (!quoted(&c, &row->span[G_IP][0], &row->span[G_IP][1]) || !blanks(&c)) return 0;
    if (!take(&c, "Src-port=\"") && !take(&c, "Dst-port=\"")) return 0;
    if (!quoted(&c, &row->span[G_PORT][0], &row->span[G_PORT][1]) || !blanks(&c)) return 0;
    Py_ssize_t fields = c.at;
    if (take(&c, "Detail=\"")) {
        SipRow tried = *row;
        if (sip_detail(&c, &tried)) {
            *row = tried;
            *end = c.at;
            return 1;
        }
        c.at = fields;
    }
    if (take(&c, "Msg-Hash=\"")) {
        Py_ssize_t value = c.at, i = c.at;
        while (i < n && b[i] != '"' && b[i] != '\n') i++;
        if (i - value >= 1 && i - value <= 64 && i < n && b[i] == '"') {
            row->span[G_BLOCK_HASH][0] = value;
            row->span[G_BLOCK_HASH][1] = i;
            c.at = i + 1;
            Cursor peek = c;
            take(&peek, "\r");
            if (take(&peek, "\n SIPMSG:")) {
                take(&peek, "\r");
                if (take(&peek, "\n |")) {
                    Py_ssize_t start = peek.at, j = peek.at;
                    while (j < n && j - start <= 32 && b[j] >= 'A' && b[j] <= 'Z') j++;
                    if (j - start >= 1 && j - start <= 32 && j < n && b[j] == ' ') {
                        row->span[G_PEEK][0] = start;
                        row->span[G_PEEK][1] = j;
                        c.at = j + 1;
                    }
                }
            }
            *end = c.at;
            return 1;
        }
        c.at = fields;
    }
    if (take(&c, "Detail=")) {
        *end = c.at;
        return 1;
    }
    return 0;
}

/* a set of spans of the block (the Msg-Hash of keep-alive summaries), open addressing */
typedef struct {
    Py_ssize_t *slots; /* index of a row, -1 empty */
    Py_ssize_t mask;
} SpanSet;

/* A keyed multiply-fold hash of bytes (the wyhash construction), keyed once per process from
 * Python's random hash secret (the hash() of a constant, see PyInit__native): a log cannot be
 * made of keys that all fall on one slot of a table, as it could with a fixed hash (FNV, say),
 * which would turn each block's counting quadratic. A third of SipHash's cost on the short keys
 * hashed here (a Msg-Hash, an address and port, a status code), which was more than the rest
 * of sip_prepare. Pure computation: fine without the GIL. */
static uint64_t hash_key = 0x243f6a8885a308d3ULL; /* (keyed at import, see PyInit__native) */
#define HASH_K0 0xa0761d6478bd642fULL
#define HASH_K1 0xe7037ed1a0b428dbULL

static inline uint64_t fold_multiply(uint64_t a, uint64_t b) {
#if defined(__SIZEOF_INT128__)
    __uint128_t product = (__uint128_t)a * b;
    return (uint64_t)product ^ (uint64_t)(product >> 64);
#else
    uint64_t lo_lo = (a & 0xffffffffULL) * (b & 0xffffffffULL), hi_hi = (a >> 32) * (b >> 32);
    uint64_t lo_hi = (a & 0xffffffffULL) * (b >> 32), hi_lo = (a >> 32) * (b & 0xffffffffULL);
    uint64_t cross = (lo_lo >> 32) + (lo_hi & 0xffffffffULL) + (hi_lo & 0xffffffffULL);
    uint64_t high = hi_hi + (lo_hi >> 32) + (hi_lo >> 32) + (cross >> 32);
    return (lo_lo & 0xffffffffULL) ^ (cross << 32) ^ high;
#endif
}

static uint64_t span_hash(const char *p, Py_ssize_t n) {
    uint64_t seed = hash_key ^ fold_multiply(hash_key ^ HASH_K0, HASH_K1), a = 0, b = 0;
    size_t left = (size_t)n;
    if (left <= 16) {
        if (left >= 4) {
            size_t middle = (left >> 3) << 2; /* 0 or 4: the four words cover every byte */
            a = (read4(p) << 32) | read4(p + middle);
            b = (read4(p + left - 4) << 32) | read4(p + left - 4 - middle);
        } else if (left > 0) {
            a = ((uint64_t)(unsigned char)p[0] << 16) |
                ((uint64_t)(unsigned char)p[left >> 1] << 8) | (uint64_t)(unsigned char)p[left - 1];
        }
    } else {
        for (; left > 16; p += 16, left -= 16)
            seed = fold_multiply(read8(p) ^ HASH_K1, read8(p + 8) ^ seed);
        a = read8(p + left - 16);
        b = read8(p + left - 8);
    }
    return fold_multiply(HASH_K1 ^ (uint64_t)n, fold_multiply(a ^ HASH_K1, b ^ seed));
}

static int same_span(const char *b, const Py_ssize_t *x, const Py_ssize_t *y) {
    Py_ssize_t n = x[1] - x[0];
    return n == y[1] - y[0] && same_bytes(b + x[0], b + y[0], (size_t)n);
}

typedef struct {
    const char *text[8];
    Py_ssize_t size[8];
    int count;
} Methods;

static int out_method(const char *b, const Py_ssize_t *span, const Methods *keepalive) {
    if (span[0] < 0) return 0;
    for (int i = 0; i < keepalive->count; i++) {
        if (keepalive->size[i] == span[1] - span[0] &&
            same_bytes(keepalive->text[i], b + span[0], (size_t)(span[1] - span[0])))
            return 1;
    }
    return 0;
}

static PyObject *span_bytes(const char *b, const Py_ssize_t *span) {
    if (span[0] < 0) Py_RETURN_NONE;
    return PyBytes_FromStringAndSize(b + span[0], span[1] - span[0]);
}

#define TAIL_ROWS 16

/* An open-addressing table of indexes (into the caller's arrays), found by a hash and the
 * caller's comparison: keep-alive keys (ip, port, method) and (key, status code) pairs. */
typedef struct {
    Py_ssize_t *slots; /* index, -1 empty */
    uint64_t *hashes;
    Py_ssize_t mask;
} Table;

static int table_init(Table *t, Py_ssize_t expected) {
    Py_ssize_t size = 16;
    while (size < expected * 2) size *= 2;
    t->slots = malloc((size_t)size * sizeof(Py_ssize_t));
    t->hashes = malloc((size_t)size * sizeof(uint64_t));
    t->mask = size - 1;
    if (t->slots == NULL || t->hashes == NULL) return -1;
    for (Py_ssize_t i = 0; i < size; i++) t->slots[i] = -1;
    return 0;
}

static void table_free(Table *t) {
    free(t->slots);
    free(t->hashes);
}

typedef struct {
    Py_ssize_t ip[2], port[2], method[2];
    Py_ssize_t count, first, last; /* of the entries counted here (not maybe late) */
    Py_ssize_t position;           /* in the answer's groups (by first offset); -1: none */
    PyObject *key;                 /* (ip, port, method), made once */
    uint64_t hash;                 /* key_hash of the group's key */
    int keyed;                     /* hash is span_hash of its key text (see key_hash) */
} KeyGroup;

#define MAX_JOINED_KEY 256 /* bytes of a key hashed as one text (see key_hash) */

/* The hash of (ip, port, method): span_hash of its key text, ip ":" port "\n" method, as a
 * KeyIndex hashes it (so a group is looked up there without hashing again: *keyed = 1), when
 * that text fits MAX_JOINED_KEY bytes; else a hash of the three parts (*keyed = 0). */
static uint64_t key_hash(const char *b, const Py_ssize_t *ip, const Py_ssize_t *port,
                         const Py_ssize_t *method, int *keyed) {
    Py_ssize_t n_ip = ip[1] - ip[0], n_port = port[1] - port[0], n_method = method[1] - method[0];
    char joined[MAX_JOINED_KEY];
    *keyed = n_ip + n_port + n_method + 2 <= MAX_JOINED_KEY;
    if (!*keyed) {
        uint64_t h = span_hash(b + ip[0], n_ip);
        h = (h ^ span_hash(b + port[0], n_port)) * 1099511628211ULL;
        return (h ^ span_hash(b + method[0], n_method)) * 1099511628211ULL;
    }
    Py_ssize_t at = 0;
    memcpy(joined + at, b + ip[0], (size_t)n_ip);
    at += n_ip;
    joined[at++] = ':';
    memcpy(joined + at, b + port[0], (size_t)n_port);
    at += n_port;
    joined[at++] = '\n';
    memcpy(joined + at, b + method[0], (size_t)n_method);
    return span_hash(joined, at + n_method);
}

/* The facts sort_rows asks of a row (see SipRow), read as soon as it is parsed */
static void row_facts(const char *b, SipRow *row, const Methods *keepalive) {
    row->keepalive = (char)out_method(b, row->span[G_METHOD], keepalive);
    row->peek_keepalive = !row->keepalive && out_method(b, row->span[G_PEEK], keepalive);
    const Py_ssize_t *hashed = row->keepalive ? row->span[G_HASH] : row->span[G_BLOCK_HASH];
    row->hash = hashed[0] >= 0 ? span_hash(b + hashed[0], hashed[1] - hashed[0]) : 0;
    int keyed = 0;
    row->key = 0;
    if (row->keepalive || row->peek_keepalive)
        row->key = key_hash(b, row->span[G_IP], row->span[G_PORT],
                            row->span[row->keepalive ? G_METHOD : G_PEEK], &keyed);
    row->keyed = (char)keyed;
}

/* the group of (ip, port, method), added (count 0) when new; -1 when out of memory */
static Py_ssize_t key_group(Table *t, KeyGroup **groups, Py_ssize_t *size, Py_ssize_t *room,
                            const char *b, const Py_ssize_t *ip, const Py_ssize_t *port,
                            const Py_ssize_t *method, uint64_t h, int keyed) {
    Py_ssize_t slot = (Py_ssize_t)(h & (uint64_t)t->mask);
    for (;; slot = (slot + 1) & t->mask) {
        Py_ssize_t index = t->slots[slot];
        if (index < 0) break;
        KeyGroup *g = &(*groups)[index];
        if (t->hashes[slot] == h && same_span(b, g->ip, ip) && same_span(b, g->port, port) &&
            same_span(b, g->method, method))
            return index;
    }
    KeyGroup *grown = make_room(*groups, *size, room, sizeof **groups);
    if (grown == NULL) return -1;
    *groups = grown;
    KeyGroup *g = &(*groups)[*size];
    memcpy(g->ip, ip, sizeof g->ip);
    memcpy(g->port, port, sizeof g->port);
    memcpy(g->method, method, sizeof g->method);
    g->count = 0;
    g->first = g->last = g->position = -1;
    g->key = NULL;
    g->hash = h;
    g->keyed = keyed;
    t->slots[slot] = *size;
    t->hashes[slot] = h;
    return (*size)++;
}

/* The keep-alive keys (b"ip:port\nmethod") a file's reader has rows for, once no row can be
 * added (calls.extract.FileExtractor.frozen): sip_prepare then counts the groups of other keys
 * as overflow and answers no key object for them. Immutable once made, so matcher threads read
 * it without the GIL; a capsule owns it. */
typedef struct {
    Table table; /* slot -> key number */
    char *text;  /* the keys, one after the other */
    Py_ssize_t *starts; /* key k: text[starts[k], starts[k + 1]) */
    Py_ssize_t count;
} KeyIndex;

static const char KEY_INDEX[] = "app._native.KeyIndex";

static void key_index_free(KeyIndex *index) {
    table_free(&index->table);
    free(index->text);
    free(index->starts);
    free(index);
}

static void key_index_capsule_free(PyObject *capsule) {
    KeyIndex *index = PyCapsule_GetPointer(capsule, KEY_INDEX);
    if (index != NULL) key_index_free(index);
}

/* the number of the key text[0, n), whose span_hash is h, in index, or -1 */
static Py_ssize_t key_index_lookup(const KeyIndex *index, const char *text, Py_ssize_t n,
                                   uint64_t h) {
    for (Py_ssize_t slot = (Py_ssize_t)(h & (uint64_t)index->table.mask);;
         slot = (slot + 1) & index->table.mask) {
        Py_ssize_t k = index->table.slots[slot];
        if (k < 0) return -1;
        if (index->table.hashes[slot] != h) continue; /* (its text not read) */
        Py_ssize_t start = index->starts[k], size = index->starts[k + 1] - start;
        if (size == n && memcmp(index->text + start, text, (size_t)n) == 0) return k;
    }
}

/* the number of the key text[0, n) in index, or -1 */
static Py_ssize_t key_index_find(const KeyIndex *index, const char *text, Py_ssize_t n) {
    return key_index_lookup(index, text, n, span_hash(text, n));
}

/* keepalive_index(keys) -> capsule: the KeyIndex of a sequence of bytes (repeats found once) */
static PyObject *keepalive_index(PyObject *self, PyObject *args) {
    PyObject *keys;
    if (!PyArg_ParseTuple(args, "O", &keys)) return NULL;
    PyObject *listed = PySequence_Fast(keys, "keepalive_index: keys must be a sequence");
    if (listed == NULL) return NULL;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(listed), total = 0;
    PyObject **items = PySequence_Fast_ITEMS(listed);
    for (Py_ssize_t k = 0; k < count; k++) {
        if (!PyBytes_Check(items[k])) {
            Py_DECREF(listed);
            PyErr_SetString(PyExc_TypeError, "keepalive_index: keys must be bytes");
            return NULL;
        }
        total += PyBytes_GET_SIZE(items[k]);
    }
    KeyIndex *index = calloc(1, sizeof *index);
    if (index == NULL || table_init(&index->table, count) ||
        (index->text = malloc((size_t)(total ? total : 1))) == NULL ||
        (index->starts = malloc((size_t)(count + 1) * sizeof(Py_ssize_t))) == NULL) {
        if (index != NULL) key_index_free(index);
        Py_DECREF(listed);
        return PyErr_NoMemory();
    }
    index->starts[0] = 0;
    for (Py_ssize_t k = 0; k < count; k++) {
        const char *text = PyBytes_AS_STRING(items[k]);
        Py_ssize_t n = PyBytes_GET_SIZE(items[k]);
        if (key_index_find(index, text, n) >= 0) continue; /* a repeat */
        Py_ssize_t number = index->count++, start = index->starts[number];
        memcpy(index->text + start, text, (size_t)n);
        index->starts[number + 1] = start + n;
        uint64_t h = span_hash(text, n);
        Py_ssize_t slot = (Py_ssize_t)(h & (uint64_t)index->table.mask);
        while (index->table.slots[slot] >= 0) slot = (slot + 1) & index->table.mask;
        index->table.slots[slot] = number;
        index->table.hashes[slot] = h;
    }
    Py_DECREF(listed);
    PyObject *capsule = PyCapsule_New(index, KEY_INDEX, key_index_capsule_free);
    if (capsule == NULL) key_index_free(index);
    return capsule;
}

#define DROPPED (-2) /* KeyGroup.position of a group counted as overflow (no answer) */

/* whether the key of group g (ip ":" port "\n" method) is in index; -1 when out of memory */
static int group_known(const char *b, const KeyGroup *g, const KeyIndex *index) {
    Py_ssize_t ip = g->ip[1] - g->ip[0], port = g->port[1] - g->port[0];
    Py_ssize_t method = g->method[1] - g->method[0], n = ip + port + method + 2;
    char small[256];
    char *key = n <= (Py_ssize_t)sizeof small ? small : malloc((size_t)n);
    if (key == NULL) return -1;
    memcpy(key, b + g->ip[0], (size_t)ip);
    key[ip] = ':';
    memcpy(key + ip + 1, b + g->port[0], (size_t)port);
    key[ip + 1 + port] = '\n';
    memcpy(key + ip + port + 2, b + g->method[0], (size_t)method);
    int known = (g->keyed ? key_index_lookup(index, key, n, g->hash)
                          : key_index_find(index, key, n)) >= 0;
    if (key != small) free(key);
    return known;
}

typedef struct {
    Py_ssize_t group;
    Py_ssize_t code[2];
    Py_ssize_t count;
} StatusCount;

/* What sort_rows found, in C arrays (the Python answer is built from them with the GIL). */
typedef struct {
    KeyGroup *groups;
    Py_ssize_t group_count, group_room;
    Py_ssize_t *order; /* the groups with a count, by first offset */
    Py_ssize_t counted;
    Py_ssize_t late_group[TAIL_ROWS], late_at[TAIL_ROWS], late_hash[TAIL_ROWS][2];
    Py_ssize_t late_count;
    StatusCount *statuses;
    Py_ssize_t status_count;
    Ints hits;
    Py_ssize_t tail[TAIL_ROWS][2];
    Py_ssize_t tail_count;
    Py_ssize_t overflow; /* entries of groups whose key is not in the index (see KeyIndex) */
} Sorted;

static void sorted_free(Sorted *sorted) {
    free(sorted->groups);
    free(sorted->order);
    free(sorted->statuses);
    ints_free(&sorted->hits);
}

/* Sort the rows as calls.extract.prepare_block_in_python does (no Python object: runs
 * without the GIL; the keep-alive methods were read with each row, see row_facts); -1 when
 * out of memory. */
static int sort_rows(const char *b, const SipRows *rows, const KeyIndex *known, Sorted *out) {
    int status = -1;
    char *summary = malloc((size_t)rows->size);
    SpanSet paired = {NULL, 0};
    Table keys = {NULL, NULL, 0}, codes = {NULL, NULL, 0};
    out->statuses = malloc((size_t)rows->size * sizeof(StatusCount));
    Py_ssize_t slots = 16;
    while (slots < rows->size * 2) slots *= 2;
    paired.slots = malloc((size_t)slots * sizeof(Py_ssize_t));
    paired.mask = slots - 1;
    out->groups = malloc((size_t)rows->size * sizeof *out->groups); /* (a group per row at most) */
    out->group_room = rows->size;
    if (summary == NULL || out->statuses == NULL || paired.slots == NULL || out->groups == NULL ||
        table_init(&keys, rows->size) || table_init(&codes, rows->size))
        goto done;
    for (Py_ssize_t i = 0; i < slots; i++) paired.slots[i] = -1;
    for (Py_ssize_t r = 0; r < rows->size; r++) { /* the hashes of keep-alive summaries */
        const SipRow *row = &rows->items[r];
        summary[r] = row->keepalive;
        if (!summary[r]) continue;
        const Py_ssize_t *span = row->span[G_HASH];
        uint64_t h = row->hash;
        for (Py_ssize_t slot = (Py_ssize_t)(h & (uint64_t)paired.mask);;
             slot = (slot + 1) & paired.mask) {
            Py_ssize_t other = paired.slots[slot];
            if (other < 0) {
                paired.slots[slot] = r;
                break;
            }
            if (rows->items[other].hash == h && same_span(b, rows->items[other].span[G_HASH], span))
                break;
        }
    }
    Py_ssize_t entries = 0; /* keep-alive entries so far (summaries and unpaired block lines) */
    for (Py_ssize_t r = 0; r < rows->size; r++) {
        const SipRow *row = &rows->items[r];
        const Py_ssize_t *method = row->span[G_METHOD];
        int block_line = 0;
        if (!summary[r]) {
            const Py_ssize_t *block_hash = row->span[G_BLOCK_HASH];
            int is_paired = 0;
            if (block_hash[0] >= 0) {
                uint64_t h = row->hash;
                for (Py_ssize_t slot = (Py_ssize_t)(h & (uint64_t)paired.mask);;
                     slot = (slot + 1) & paired.mask) {
                    Py_ssize_t other = paired.slots[slot];
                    if (other < 0) break;
                    if (rows->items[other].hash == h &&
                        same_span(b, rows->items[other].span[G_HASH], block_hash)) {
                        is_paired = 1;
                        break;
                    }
                }
            }
            if (row->peek_keepalive) {
                if (is_paired) continue;
                block_line = 1;
                method = row->span[G_PEEK];
            } else {
                if ((block_hash[0] < 0 || !is_paired) && ints_push(&out->hits, row->at)) goto done;
                continue;
            }
        }
        Py_ssize_t index = key_group(&keys, &out->groups, &out->group_count, &out->group_room,
                                     b, row->span[G_IP], row->span[G_PORT], method, row->key,
                                     row->keyed);
        if (index < 0) goto done;
        KeyGroup *g = &out->groups[index];
        if (block_line && entries < TAIL_ROWS) { /* maybe counted in the block before */
            Py_ssize_t k = out->late_count++;
            out->late_group[k] = index;
            out->late_at[k] = row->at;
            memcpy(out->late_hash[k], row->span[G_BLOCK_HASH], sizeof out->late_hash[k]);
        } else {
            if (g->count++ == 0) g->first = row->at;
            g->last = row->at;
        }
        entries++;
        if (summary[r] && row->span[G_CODE][0] >= 0) {
            const Py_ssize_t *code = row->span[G_CODE];
            uint64_t h = (span_hash(b + code[0], code[1] - code[0]) ^ (uint64_t)index) *
                         1099511628211ULL;
            Py_ssize_t slot = (Py_ssize_t)(h & (uint64_t)codes.mask);
            for (;; slot = (slot + 1) & codes.mask) {
                Py_ssize_t other = codes.slots[slot];
                if (other < 0) {
                    codes.slots[slot] = out->status_count;
                    codes.hashes[slot] = h;
                    StatusCount *added = &out->statuses[out->status_count++];
                    added->group = index;
                    memcpy(added->code, code, sizeof added->code);
                    added->count = 1;
                    break;
                }
                if (codes.hashes[slot] == h && out->statuses[other].group == index &&
                    same_span(b, out->statuses[other].code, code)) {
                    out->statuses[other].count++;
                    break;
                }
            }
        }
    }
    out->order = malloc((size_t)(out->group_count ? out->group_count : 1) * sizeof(Py_ssize_t));
    if (out->order == NULL) goto done;
    for (Py_ssize_t i = 0; i < out->group_count; i++) {
        KeyGroup *g = &out->groups[i];
        if (g->count && known != NULL) { /* no row can be added: a group without one overflows */
            int found = group_known(b, g, known);
            if (found < 0) goto done;
            if (!found) {
                out->overflow += g->count;
                g->count = 0; /* (its maybe-late lines come out with no group: position -1) */
                g->position = DROPPED;
            }
        }
        if (g->count) out->order[out->counted++] = i;
    }
    for (Py_ssize_t i = 1; i < out->counted; i++) { /* insertion sort: nearly sorted already */
        Py_ssize_t moving = out->order[i], j = i;
        while (j > 0 && out->groups[out->order[j - 1]].first > out->groups[moving].first) {
            out->order[j] = out->order[j - 1];
            j--;
        }
        out->order[j] = moving;
    }
    for (Py_ssize_t i = 0; i < out->counted; i++) out->groups[out->order[i]].position = i;
    for (Py_ssize_t r = rows->size > TAIL_ROWS ? rows->size - TAIL_ROWS : 0; r < rows->size; r++)
        if (summary[r]) memcpy(out->tail[out->tail_count++], rows->items[r].span[G_HASH],
                               sizeof out->tail[0]);
    status = 0;
done:
    free(summary);
    free(paired.slots);
    table_free(&keys);
    table_free(&codes);
    return status;
}

/* A keep-alive key as one bytes object: ip ":" port "\n" method (no field holds a newline) */
static PyObject *group_key(const char *b, KeyGroup *g) {
    if (g->key == NULL) {
        Py_ssize_t ip = g->ip[1] - g->ip[0], port = g->port[1] - g->port[0];
        Py_ssize_t method = g->method[1] - g->method[0];
        g->key = PyBytes_FromStringAndSize(NULL, ip + port + method + 2);
        if (g->key == NULL) return NULL;
        char *out = PyBytes_AS_STRING(g->key);
        memcpy(out, b + g->ip[0], (size_t)ip);
        out[ip] = ':';
        memcpy(out + ip + 1, b + g->port[0], (size_t)port);
        out[ip + 1 + port] = '\n';
        memcpy(out + ip + port + 2, b + g->method[0], (size_t)method);
    }
    return g->key;
}

static PyObject *sorted_answer(const char *b, Sorted *sorted) {
    Py_ssize_t counted = sorted->counted;
    PyObject *keys = PyList_New(counted), *counts = PyList_New(counted),
             *firsts = PyBytes_FromStringAndSize(NULL, counted * (Py_ssize_t)sizeof(int64_t)),
             *lasts = PyBytes_FromStringAndSize(NULL, counted * (Py_ssize_t)sizeof(int64_t)),
             *late = PyList_New(sorted->late_count), *statuses = PyList_New(0),
             *tail = PyList_New(sorted->tail_count),
             *hits = ints_list(sorted->hits.items, sorted->hits.size), *result = NULL;
    if (!keys || !counts || !firsts || !lasts || !late || !statuses || !tail || !hits) goto done;
    int64_t *first_at = (int64_t *)PyBytes_AS_STRING(firsts);
    int64_t *last_at = (int64_t *)PyBytes_AS_STRING(lasts);
    for (Py_ssize_t i = 0; i < counted; i++) {
        KeyGroup *g = &sorted->groups[sorted->order[i]];
        PyObject *key = group_key(b, g), *count = PyLong_FromSsize_t(g->count);
        if (key == NULL || count == NULL) {
            Py_XDECREF(count);
            goto done;
        }
        Py_INCREF(key);
        PyList_SET_ITEM(keys, i, key);
        PyList_SET_ITEM(counts, i, count);
        first_at[i] = (int64_t)g->first;
        last_at[i] = (int64_t)g->last;
    }
    for (Py_ssize_t i = 0; i < sorted->late_count; i++) {
        KeyGroup *g = &sorted->groups[sorted->late_group[i]];
        /* of its group in `groups` (-1: none counted, or its count overflowed) */
        Py_ssize_t position = g->position < 0 ? -1 : g->position;
        PyObject *key = group_key(b, g);
        PyObject *item = key ? Py_BuildValue("(OnNn)", key, sorted->late_at[i],
                                             span_bytes(b, sorted->late_hash[i]), position)
                             : NULL;
        if (item == NULL) goto done;
        PyList_SET_ITEM(late, i, item);
    }
    for (Py_ssize_t i = 0; i < sorted->status_count; i++) {
        StatusCount *counted = &sorted->statuses[i];
        if (sorted->groups[counted->group].position == DROPPED) continue; /* (no row to count) */
        PyObject *key = group_key(b, &sorted->groups[counted->group]);
        PyObject *item =
            key ? Py_BuildValue("(ONn)", key, span_bytes(b, counted->code), counted->count) : NULL;
        int failed = item == NULL || PyList_Append(statuses, item);
        Py_XDECREF(item);
        if (failed) goto done;
    }
    for (Py_ssize_t i = 0; i < sorted->tail_count; i++) {
        PyObject *hash = span_bytes(b, sorted->tail[i]);
        if (hash == NULL) goto done;
        PyList_SET_ITEM(tail, i, hash);
    }
    result = Py_BuildValue("((OOOO)OOOOn)", keys, counts, firsts, lasts, late, statuses, hits, tail,
                           sorted->overflow);
done:
    for (Py_ssize_t i = 0; i < sorted->group_count; i++) Py_XDECREF(sorted->groups[i].key);
    Py_XDECREF(keys);
    Py_XDECREF(counts);
    Py_XDECREF(firsts);
    Py_XDECREF(lasts);
    Py_XDECREF(late);
    Py_XDECREF(statuses);
    Py_XDECREF(tail);
    Py_XDECREF(hits);
    return result;
}

/* sip_prepare(block, keepalive, index=None)
 *   -> None | (groups, maybe_late, statuses, hits, tail, overflow)
 * What calls.extract.prepare_block sorts from the rows of _ROW (see there), the keep-alive
 * messages counted per key (b"ip:port\nmethod"): groups (keys, counts, firsts, lasts) ordered
 * by first offset, firsts and lasts as native int64 arrays (bytes); maybe_late [(key, offset, hash, position of its group or -1)], the unpaired
 * block lines among the first
 * TAIL_ROWS keep-alive entries (counted by the reader unless a summary of the block before
 * named their hash); statuses [(key, code, count)]; hits, the offsets of the other SIP lines;
 * tail, the hashes of keep-alive summaries among the last TAIL_ROWS rows. keepalive: the
 * methods counted, never read (OPTIONS, REGISTER, PUBLISH; at most 8). index: None, or the
 * keepalive_index of the only keys that may have a row (none can be added): the groups of
 * other keys are left out of groups and statuses and their entries summed in overflow
 * (their maybe-late lines come with position -1); without an index overflow is 0. found: None,
 * or a tuple holding the offsets of `Module="network.sip"` in the block another pass found
 * (see found_in), taken instead of a pass of its own. */
static PyObject *sip_prepare(PyObject *self, PyObject *args) {
    Py_buffer view, given[1];
    PyObject *keepalive, *index = Py_None, *found = Py_None;
    if (!PyArg_ParseTuple(args, "y*O!|OO", &view, &PyTuple_Type, &keepalive, &index, &found))
        return NULL;
    const KeyIndex *known = NULL;
    if (index != Py_None) {
        known = PyCapsule_GetPointer(index, KEY_INDEX); /* (sets TypeError/ValueError) */
        if (known == NULL) {
            PyBuffer_Release(&view);
            return NULL;
        }
    }
    int has_found = views_of(found, given, 1);
    if (has_found < 0) {
        PyBuffer_Release(&view);
        return NULL;
    }
    Methods methods = {{0}, {0}, 0};
    if (PyTuple_GET_SIZE(keepalive) > 8) {
        PyBuffer_Release(&view);
        if (has_found) release_views(given, 1);
        PyErr_SetString(PyExc_ValueError, "sip_prepare: at most 8 keep-alive methods");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(keepalive); i++) {
        PyObject *method = PyTuple_GET_ITEM(keepalive, i);
        if (!PyBytes_Check(method)) {
            PyBuffer_Release(&view);
            if (has_found) release_views(given, 1);
            PyErr_SetString(PyExc_TypeError, "sip_prepare: keepalive must hold bytes");
            return NULL;
        }
        methods.text[methods.count] = PyBytes_AS_STRING(method);
        methods.size[methods.count++] = PyBytes_GET_SIZE(method);
    }
    const char *b = view.buf;
    Py_ssize_t n = view.len;
    SipRows rows = {0};
    Sorted sorted;
    memset(&sorted, 0, sizeof sorted);
    int failed = 0;
    Py_BEGIN_ALLOW_THREADS
    Ints starts = {0};
    Needle module = {SIP_MODULE, (Py_ssize_t)strlen(SIP_MODULE), &starts};
    failed = find_or_take(b, n, &module, 1, has_found ? given : NULL);
    if (!failed && starts.size > 0) { /* (a row per start at most: no array copied as it grows) */
        rows.items = malloc((size_t)starts.size * sizeof *rows.items);
        rows.room = starts.size;
        failed = rows.items == NULL;
    }
    Py_ssize_t pos = 0;
    for (Py_ssize_t i = 0; i < starts.size && !failed; i++) {
        Py_ssize_t at = starts.items[i], end = at + 1;
        SipRow row;
        if (i + PREFETCH_AHEAD < starts.size) prefetch_line(b, n, starts.items[i + PREFETCH_AHEAD]);
        if (at < pos) continue; /* inside the row before (as re.finditer goes on) */
        if (sip_row(b, n, at, &row, &end)) {
            row_facts(b, &row, &methods);
            failed = rows_push(&rows, &row) != 0;
            pos = end > at ? end : at + 1;
        }
    }
    ints_free(&starts);
    if (!failed && rows.size) failed = sort_rows(b, &rows, known, &sorted) != 0;
    Py_END_ALLOW_THREADS
    if (has_found) release_views(given, 1);
    PyObject *result = NULL;
    if (failed == -2)
        PyErr_SetString(PyExc_ValueError, FOUND_ERROR);
    else if (failed)
        PyErr_NoMemory();
    else if (rows.size == 0)
        result = Py_NewRef(Py_None);
    else
        result = sorted_answer(b, &sorted);
    sorted_free(&sorted);
    free(rows.items);
    PyBuffer_Release(&view);
    return result;
}

/* ------------------------------------------------------------------ sign-in lines */

static const char MODULE_QUOTE[] = "Module=\"";
static const char *const COUNTED[] = {"network.http.trafficserver\"",
                                      "network.http.edgeconfigprovisioning\""};
static const char COUNTED_PREFIX[] = "Module=\"network.http."; /* MODULE_QUOTE, both kinds' */
static const char *const READ_ONLY[] = {"Sending HTTP error response",
                                        "Failed to authenticate user"};

/* signin_marks(block, lines, found=None) -> (counted, starts | None)
 * calls.signin.mark_block: counted, the occurrences of the first two kinds right after
 * Module="; starts (unless lines is false), the starts of the lines holding any of the four
 * kinds, ascending, but those starting with a space, a tab or '|'. found: None, or a tuple of
 * the offsets of the four kinds in the block another pass found (see found_in; COUNTED then
 * READ_ONLY), taken instead of a pass of its own. */
static PyObject *signin_marks(PyObject *self, PyObject *args) {
    Py_buffer view, given[4];
    int lines;
    PyObject *found = Py_None;
    if (!PyArg_ParseTuple(args, "y*p|O", &view, &lines, &found)) return NULL;
    int has_found = views_of(found, given, 4);
    if (has_found < 0) {
        PyBuffer_Release(&view);
        return NULL;
    }
    const char *b = view.buf;
    Py_ssize_t n = view.len, counted = 0;
    Ints kinds[3] = {{0}, {0}, {0}}, starts = {0};
    int failed = 0;
    Py_BEGIN_ALLOW_THREADS
    Ints counted_kinds[2] = {{0}, {0}};
    Needle needles[4] = {{COUNTED[0], (Py_ssize_t)strlen(COUNTED[0]), &counted_kinds[0]},
                         {COUNTED[1], (Py_ssize_t)strlen(COUNTED[1]), &counted_kinds[1]},
                         {READ_ONLY[0], (Py_ssize_t)strlen(READ_ONLY[0]), &kinds[1]},
                         {READ_ONLY[1], (Py_ssize_t)strlen(READ_ONLY[1]), &kinds[2]}};
    Py_ssize_t quote = (Py_ssize_t)strlen(MODULE_QUOTE);
    if (has_found) {
        failed = find_or_take(b, n, needles, 4, given);
    } else if (!lines) { /* only the count: one needle, Module="network.http., then either kind */
        Ints prefixed = {0};
        Py_ssize_t size = (Py_ssize_t)strlen(COUNTED_PREFIX);
        Needle prefix = {COUNTED_PREFIX, size, &prefixed};
        failed = find_all(b, n, &prefix, 1) != 0;
        for (Py_ssize_t i = 0; i < prefixed.size && !failed; i++) {
            Py_ssize_t rest = prefixed.items[i] + size;
            for (int k = 0; k < 2; k++) {
                const char *kind = COUNTED[k] + strlen("network.http.");
                size_t length = strlen(kind);
                if ((size_t)(n - rest) >= length && memcmp(b + rest, kind, length) == 0) counted++;
            }
        }
        ints_free(&prefixed);
    } else {
        failed = find_all(b, n, needles, 4) != 0;
    }
    for (int k = 0; k < 2 && (lines || has_found) && !failed; k++) {
        for (Py_ssize_t i = 0; i < counted_kinds[k].size; i++) {
            Py_ssize_t at = counted_kinds[k].items[i];
            if (at >= quote && memcmp(b + at - quote, MODULE_QUOTE, (size_t)quote) == 0) counted++;
        }
    }
    if (lines && !failed) { /* the two counted kinds as one ascending list */
        Py_ssize_t x = 0, y = 0;
        while (!failed && (x < counted_kinds[0].size || y < counted_kinds[1].size)) {
            int from_first = y >= counted_kinds[1].size ||
                             (x < counted_kinds[0].size &&
                              counted_kinds[0].items[x] <= counted_kinds[1].items[y]);
            failed = ints_push(&kinds[0], from_first ? counted_kinds[0].items[x++]
                                                     : counted_kinds[1].items[y++]) != 0;
        }
    }
    ints_free(&counted_kinds[0]);
    ints_free(&counted_kinds[1]);
    if (lines && !failed) { /* merge, then each line's start once (each byte looked at once) */
        Py_ssize_t heads[3] = {0, 0, 0}, line_start = 0, searched_to = 0;
        for (;;) {
            int pick = -1;
            for (int k = 0; k < 3; k++)
                if (heads[k] < kinds[k].size &&
                    (pick < 0 || kinds[k].items[heads[k]] < kinds[pick].items[heads[pick]]))
                    pick = k;
            if (pick < 0) break;
            Py_ssize_t at = kinds[pick].items[heads[pick]++];
            if (at > searched_to) {
                const char *nl = memrchr(b + searched_to, '\n', (size_t)(at - searched_to));
                if (nl != NULL && nl - b + 1 > line_start) line_start = nl - b + 1;
                searched_to = at;
            }
            if (starts.size == 0 || starts.items[starts.size - 1] != line_start) {
                if (ints_push(&starts, line_start)) {
                    failed = 1;
                    break;
                }
            }
        }
        Py_ssize_t kept = 0; /* lines quoted inside a payload are not log lines */
        for (Py_ssize_t i = 0; i < starts.size; i++) {
            char first = b[starts.items[i]];
            if (first != ' ' && first != '\t' && first != '|') starts.items[kept++] = starts.items[i];
        }
        starts.size = kept;
    }
    Py_END_ALLOW_THREADS
    if (has_found) release_views(given, 4);
    PyObject *result = NULL;
    if (failed == -2) {
        PyErr_SetString(PyExc_ValueError, FOUND_ERROR);
    } else if (failed) {
        PyErr_NoMemory();
    } else if (!lines) {
        result = Py_BuildValue("(nO)", counted, Py_None);
    } else {
        PyObject *list = ints_list(starts.items, starts.size);
        if (list != NULL) result = Py_BuildValue("(nN)", counted, list);
    }
    for (int k = 0; k < 3; k++) ints_free(&kinds[k]);
    ints_free(&starts);
    PyBuffer_Release(&view);
    return result;
}

/* ------------------------------------------------------------------ a SIPMSG block's head */

/* calls.sipmsg.read_head_in_python, for a head of plain ASCII (tab, CR, LF and the printable
 * characters): there bytes and the decoded text are the same characters and the expressions'
 * \s is [ \t\r\n]. Any other head gets None and is read by Python. */

typedef struct {
    Py_ssize_t start, end; /* end exclusive */
} Span;

#define MAX_VALUE_CHARS 2000
#define MAX_HEAD_CHARS 65536
#define MAX_DIAGNOSTICS_CHARS 2000
#define MAX_CALL_ID_CHARS 300
#define MAX_METHOD_CHARS 32

static int is_space(char ch) { return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n'; }
static int is_upper(char ch) { return ch >= 'A' && ch <= 'Z'; }
static int is_digit(char ch) { return ch >= '0' && ch <= '9'; }
static char lower(char ch) { return is_upper(ch) ? (char)(ch + 32) : ch; }

static Span strip(const char *b, Span s) {
    while (s.start < s.end && is_space(b[s.start])) s.start++;
    while (s.end > s.start && is_space(b[s.end - 1])) s.end--;
    return s;
}

static Py_ssize_t find_char(const char *b, Py_ssize_t from, Py_ssize_t to, char ch) {
    if (from >= to) return -1;
    if (to - from > 64) { /* (a long span: memchr's own loop; a short one costs less here) */
        const char *at = memchr(b + from, ch, (size_t)(to - from));
        return at == NULL ? -1 : at - b;
    }
    Py_ssize_t i = from;
#if defined(__SSE2__)
    const __m128i wanted = _mm_set1_epi8(ch);
    for (; i + 16 <= to; i += 16) {
        int found = _mm_movemask_epi8(
            _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(b + i)), wanted));
        if (found) return i + __builtin_ctz((unsigned)found);
    }
#endif
    for (; i < to; i++)
        if (b[i] == ch) return i;
    return -1;
}

/* b[s] equals `lowered` (lower case) without regard to ASCII case */
static int same_lower(const char *b, Span s, const char *lowered) {
    size_t length = strlen(lowered);
    if ((size_t)(s.end - s.start) != length) return 0;
    for (size_t i = 0; i < length; i++)
        if (lower(b[s.start + (Py_ssize_t)i]) != lowered[i]) return 0;
    return 1;
}

/* the headers read, by their canonical name; a compact form names the same slot */
enum { H_FROM, H_TO, H_VIA, H_USER_AGENT, H_SERVER, H_SESSION, H_CALL_ID, H_CSEQ, H_COUNT };
static const struct {
    const char *name;
    Py_ssize_t size; /* (its length: a header line is compared only with names as long) */
    int slot;
    int diagnostic;
} WANTED[] = {
#define WANT(name, slot, diagnostic) {name, sizeof name - 1, slot, diagnostic}
    WANT("from", H_FROM, 0),         WANT("f", H_FROM, 0),           WANT("to", H_TO, 0),
    WANT("t", H_TO, 0),              WANT("via", H_VIA, 0),          WANT("v", H_VIA, 0),
    WANT("user-agent", H_USER_AGENT, 0), WANT("server", H_SERVER, 0),
    WANT("session-id", H_SESSION, 0), WANT("call-id", H_CALL_ID, 0), WANT("i", H_CALL_ID, 0),
    WANT("cseq", H_CSEQ, 0),         WANT("reason", -1, 1),          WANT("warning", -1, 1),
    WANT("ms-diagnostics", -1, 1),   WANT("x-ms-diagnostics", -1, 1),
#undef WANT
};

/* sipmsg.uri_of: the first <…> (1 to 2000 characters), else the leading run of [^;\s] */
static Span uri_of(const char *b, Span v) {
    for (Py_ssize_t p = find_char(b, v.start, v.end, '<'); p != -1;
         p = find_char(b, p + 1, v.end, '<')) {
        Py_ssize_t q = find_char(b, p + 1, v.end, '>');
        if (q == -1) break; /* no '>' after this '<': none after a later one either */
        if (q - p - 1 >= 1 && q - p - 1 <= MAX_VALUE_CHARS) return strip(b, (Span){p + 1, q});
    }
    Py_ssize_t at = v.start;
    while (at < v.end && is_space(b[at])) at++;
    Py_ssize_t end = at;
    while (end < v.end && end - at < MAX_VALUE_CHARS && b[end] != ';' && !is_space(b[end])) end++;
    return end > at ? (Span){at, end} : (Span){0, 0};
}

/* sipmsg.tag_of: `;\s*tag=` (any case) and its 1 to 200 characters of [^;\s>] */
static Span tag_of(const char *b, Span v) {
    for (Py_ssize_t p = find_char(b, v.start, v.end, ';'); p != -1;
         p = find_char(b, p + 1, v.end, ';')) {
        Py_ssize_t at = p + 1;
        while (at < v.end && is_space(b[at])) at++;
        if (v.end - at < 4 || !same_lower(b, (Span){at, at + 4}, "tag=")) continue;
        Py_ssize_t end = at += 4;
        while (end < v.end && end - at < 200 && b[end] != ';' && b[end] != '>' && !is_space(b[end]))
            end++;
        if (end > at) return (Span){at, end};
    }
    return (Span){0, 0};
}

/* sipmsg.transport_of: the 2 to 5 letters after the first `SIP/2.0/` (any case) */
static Span transport_of(const char *b, Span v) {
    for (Py_ssize_t at = v.start; at + 8 <= v.end; at++) {
        if (!same_lower(b, (Span){at, at + 8}, "sip/2.0/")) continue;
        Py_ssize_t end = at + 8;
        while (end < v.end && end - (at + 8) < 5 && is_alpha(b[end])) end++;
        if (end - (at + 8) >= 2) return (Span){at + 8, end};
    }
    return (Span){0, 0};
}

/* A tuple of the `n` new references `items` (taken, also when it fails); NULL, with the
 * exception set, when one of them is NULL or memory ran out (Py_BuildValue's "N", without
 * reading a format for every line). */
static PyObject *tuple_of(PyObject **items, Py_ssize_t n) {
    PyObject *tuple = NULL;
    for (Py_ssize_t i = 0; i < n; i++)
        if (items[i] == NULL) goto failed;
    tuple = PyTuple_New(n);
    if (tuple == NULL) goto failed;
    for (Py_ssize_t i = 0; i < n; i++) PyTuple_SET_ITEM(tuple, i, items[i]);
    return tuple;
failed:
    for (Py_ssize_t i = 0; i < n; i++) Py_XDECREF(items[i]);
    return NULL;
}

/* The SharedText of the run (sip_run, signin_run) this thread is in, else NULL: its strings
 * are then looked up there before one is made (see shared_text_of). Per thread: a run holds
 * the GIL from start to end, but another thread's run may start while this one calls into
 * Python. */
static _Thread_local void *making_with = NULL;
static PyObject *shared_text_of(void *table, const char *p, Py_ssize_t n);

static PyObject *text_of(const char *b, Span s) {
    if (making_with != NULL) return shared_text_of(making_with, b + s.start, s.end - s.start);
    return PyUnicode_FromStringAndSize(b + s.start, s.end - s.start);
}

/* the str of b[s.start:s.end] (UTF-8) made anew, not looked up in the run's shared table */
static PyObject *unshared_text(const char *b, Span s) {
    return PyUnicode_FromStringAndSize(b + s.start, s.end - s.start);
}

/* text_of for text already cut out: the str of the UTF-8 text p[0:n] */
static PyObject *text_at(const char *p, Py_ssize_t n) {
    return making_with != NULL ? shared_text_of(making_with, p, n)
                               : PyUnicode_FromStringAndSize(p, n);
}

static PyObject *upper_text(const char *b, Span s) {
    char word[5]; /* a transport: at most 5 letters */
    Py_ssize_t n = s.end - s.start < 5 ? s.end - s.start : 5;
    for (Py_ssize_t i = 0; i < n; i++) {
        char ch = b[s.start + i];
        word[i] = ch >= 'a' && ch <= 'z' ? (char)(ch - 32) : ch;
    }
    return text_at(word, n);
}

/* sipmsg.session_uuids: the UUIDs of `<uuid>;remote=<uuid>` (lower case, null ones out) */
static PyObject *session_uuids(const char *b, Span v) {
    static const char NULLS[] = "00000000000000000000000000000000";
    PyObject *found = PyTuple_New(0);
    Py_ssize_t n = v.end - v.start;
    if (found == NULL || n == 0) return found;
    if (n == 32 && memcmp(b + v.start, NULLS, 32) == 0) return found;
    if (n == 72 && memcmp(b + v.start, NULLS, 32) == 0 && memcmp(b + v.start + 32, ";remote=", 8) == 0 &&
        memcmp(b + v.start + 40, NULLS, 32) == 0)
        return found;
    Span parts[2];
    int count = 1;
    Py_ssize_t semi = find_char(b, v.start, v.end, ';');
    parts[0] = (Span){v.start, semi == -1 ? v.end : semi};
    if (semi != -1) { /* `;\s*remote\s*=\s*`, else `;` */
        Py_ssize_t at = semi + 1;
        while (at < v.end && is_space(b[at])) at++;
        if (v.end - at >= 6 && memcmp(b + at, "remote", 6) == 0) {
            Py_ssize_t after = at + 6;
            while (after < v.end && is_space(b[after])) after++;
            if (after < v.end && b[after] == '=') {
                after++;
                while (after < v.end && is_space(b[after])) after++;
                at = after;
            } else {
                at = semi + 1;
            }
        } else {
            at = semi + 1;
        }
        Py_ssize_t next = find_char(b, at, v.end, ';');
        parts[1] = (Span){at, next == -1 ? v.end : next};
        count = 2;
    }
    for (int k = 0; k < count; k++) {
        Span part = strip(b, parts[k]);
        if (part.end - part.start != 32) continue;
        char uuid[32];
        int ok = 1, null = 1;
        for (int i = 0; i < 32; i++) {
            char ch = lower(b[part.start + i]);
            uuid[i] = ch;
            ok &= is_digit(ch) || (ch >= 'a' && ch <= 'f');
            null &= ch == '0';
        }
        if (!ok || null) continue;
        PyObject *text = text_at(uuid, 32);
        if (text == NULL || _PyTuple_Resize(&found, PyTuple_GET_SIZE(found) + 1) < 0) {
            Py_XDECREF(text);
            Py_XDECREF(found);
            return NULL;
        }
        PyTuple_SET_ITEM(found, PyTuple_GET_SIZE(found) - 1, text);
    }
    return found;
}

/* `joined` with " | " (unless first) and "name: value" added, as far as MAX_DIAGNOSTICS_CHARS
 * (the Python join is cut there: what lies past it is never seen) */
static Py_ssize_t append_diagnostic(char *joined, Py_ssize_t length, int separated, const char *b,
                                    Span name, Span value) {
    const char *pieces[4] = {" | ", b + name.start, ": ", b + value.start};
    Py_ssize_t sizes[4] = {separated ? 3 : 0, name.end - name.start, 2, value.end - value.start};
    for (int i = 0; i < 4; i++) {
        Py_ssize_t take = MAX_DIAGNOSTICS_CHARS - length;
        if (take <= 0) break;
        if (sizes[i] < take) take = sizes[i];
        memcpy(joined + length, pieces[i], (size_t)take);
        length += take;
    }
    return length;
}

/* sip_head(raw) -> None | (method, request_uri, status, reason, call_id, cseq, from_uri,
 * from_tag, to_uri, to_tag, transport, user_agent, server, diagnostics, via_count,
 * session_ids): calls.sipmsg.Head (see above for None) */
static PyObject *head_fields(const char *b, Py_ssize_t n);

static PyObject *sip_head(PyObject *self, PyObject *args) {
    Py_buffer view;
    if (!PyArg_ParseTuple(args, "y*", &view)) return NULL;
    PyObject *result = head_fields(view.buf, view.len);
    PyBuffer_Release(&view);
    return result;
}

/* sip_head of b[0, n): a new reference to the Head fields' tuple, or to None (not plain ASCII) */
static PyObject *head_fields(const char *b, Py_ssize_t n) {
    Py_ssize_t text_end = n;
    for (Py_ssize_t i = find_char(b, 0, n, '\n'); i != -1; i = find_char(b, i + 1, n, '\n')) {
        Py_ssize_t j = i + 1; /* `\n ?\r?\n`: the empty line after the headers */
        if (j < n && b[j] == ' ') j++;
        if (j < n && b[j] == '\r') j++;
        if (j < n && b[j] == '\n') {
            text_end = i + 1;
            break;
        }
    }
    if (!plain_ascii(b, text_end, PLAIN_TAB | PLAIN_CR | PLAIN_LF))
        Py_RETURN_NONE; /* not plain ASCII: read by Python */
    Span method = {0, 0}, uri = {0, 0}, reason = {0, 0}, headers[H_COUNT];
    int has_header[H_COUNT] = {0}, status = -1, is_request = 0;
    long via_count = 0;
    char joined[MAX_DIAGNOSTICS_CHARS + 64]; /* "Name: value" of each, joined with " | " */
    Py_ssize_t joined_length = 0, diagnostics = 0;
    Py_ssize_t frame = find_char(b, 0, text_end, '|');
    Py_ssize_t line_end = frame == -1 ? -1 : find_char(b, frame, text_end, '\n');
    if (frame != -1) {
        Span start = strip(b, (Span){frame + 1, line_end == -1 ? text_end : line_end});
        Py_ssize_t space = find_char(b, start.start, start.end, ' ');
        Py_ssize_t length = start.end - start.start;
        if (space != -1 && space - start.start >= 2 && space - start.start <= 32 &&
            is_upper(b[start.start]) && length >= 8 &&
            memcmp(b + start.end - 8, " SIP/2.0", 8) == 0 && start.end - 8 > space + 1 &&
            start.end - 8 - (space + 1) <= MAX_VALUE_CHARS) {
            int ok = 1;
            for (Py_ssize_t i = start.start + 1; i < space; i++) ok &= is_upper(b[i]) || b[i] == '-';
            for (Py_ssize_t i = space + 1; i < start.end - 8; i++) ok &= !is_space(b[i]);
            if (ok) {
                is_request = 1;
                method = (Span){start.start, space};
                uri = (Span){space + 1, start.end - 8};
            }
        }
        if (!is_request && length >= 11 && memcmp(b + start.start, "SIP/2.0 ", 8) == 0 &&
            b[start.start + 8] >= '1' && b[start.start + 8] <= '6' && is_digit(b[start.start + 9]) &&
            is_digit(b[start.start + 10]) &&
            (length == 11 || (b[start.start + 11] == ' ' && length - 12 <= 200))) {
            status = (b[start.start + 8] - '0') * 100 + (b[start.start + 9] - '0') * 10 +
                     (b[start.start + 10] - '0');
            if (length > 11) reason = strip(b, (Span){start.start + 12, start.end});
        }
    }
    if (line_end != -1) {
        Py_ssize_t head_end = text_end - line_end > MAX_HEAD_CHARS ? line_end + MAX_HEAD_CHARS : text_end;
        for (Py_ssize_t at = line_end; at + 8 <= head_end;) {
            const char *found = find_in(b + at, head_end - at, "SIP/2.0/", 8);
            if (found == NULL) break;
            via_count++;
            at = found - b + 8;
        }
        for (Py_ssize_t line = line_end; line <= head_end;) {
            Py_ssize_t end = find_char(b, line, head_end, '\n');
            if (end == -1) end = head_end;
            Py_ssize_t colon = find_char(b, line, end, ':');
            if (colon != -1) {
                Span name = {line, colon};
                if (name.start < name.end && b[name.start] == ' ') name.start++;
                while (name.end > name.start && (b[name.end - 1] == ' ' || b[name.end - 1] == '\t'))
                    name.end--;
                for (size_t w = 0; w < sizeof WANTED / sizeof WANTED[0]; w++) {
                    if (WANTED[w].size != name.end - name.start ||
                        !same_lower(b, name, WANTED[w].name))
                        continue;
                    Span value = strip(b, (Span){colon + 1, end});
                    if (value.end - value.start > MAX_VALUE_CHARS) value.end = value.start + MAX_VALUE_CHARS;
                    if (WANTED[w].diagnostic) {
                        joined_length = append_diagnostic(joined, joined_length, diagnostics++ > 0,
                                                          b, name, value);
                    } else if (!has_header[WANTED[w].slot]) {
                        has_header[WANTED[w].slot] = 1;
                        headers[WANTED[w].slot] = value;
                    }
                    break;
                }
            }
            line = end + 1;
        }
    }
    for (int h = 0; h < H_COUNT; h++)
        if (!has_header[h]) headers[h] = (Span){0, 0};
    Span call_id = headers[H_CALL_ID];
    if (call_id.end - call_id.start > MAX_CALL_ID_CHARS) call_id.end = call_id.start + MAX_CALL_ID_CHARS;
    PyObject *none_or_method = Py_None, *none_or_status = Py_None, *sessions = Py_None;
    Py_INCREF(Py_None), Py_INCREF(Py_None), Py_INCREF(Py_None);
    if (is_request) {
        Py_DECREF(none_or_method);
        none_or_method = text_of(b, method);
    }
    if (status != -1) {
        Py_DECREF(none_or_status);
        none_or_status = PyLong_FromLong(status);
    }
    if (has_header[H_SESSION]) {
        Py_DECREF(sessions);
        sessions = session_uuids(b, headers[H_SESSION]);
    }
    if (none_or_method == NULL || none_or_status == NULL || sessions == NULL) {
        Py_XDECREF(none_or_method), Py_XDECREF(none_or_status), Py_XDECREF(sessions);
        return NULL;
    }
    PyObject *items[16] = {
        none_or_method, text_of(b, uri), none_or_status,
        text_of(b, reason), text_of(b, call_id), text_of(b, headers[H_CSEQ]),
        text_of(b, uri_of(b, headers[H_FROM])), text_of(b, tag_of(b, headers[H_FROM])),
        text_of(b, uri_of(b, headers[H_TO])), text_of(b, tag_of(b, headers[H_TO])),
        upper_text(b, transport_of(b, headers[H_VIA])), text_of(b, headers[H_USER_AGENT]),
        text_of(b, headers[H_SERVER]), text_at(joined, joined_length),
        PyLong_FromLong(via_count), sessions,
    };
    return tuple_of(items, 16);
}

/* ------------------------------------------------------------------ one SIP line */

/* calls.sipline.read_line_in_python: extract._LINE at `at`, then its Detail's pairs
 * `(?:^|,)[ \t]*([A-Za-z][\w\-]*)=([^,]*)` (the last of a name wins). A Detail that is not
 * plain ASCII (tab, CR and printables) gets False and is read by Python. */

enum {
    P_METHOD, P_CALL_ID, P_CODE, P_CSEQ, P_REQUEST_URI, P_TO, P_FROM_TAG, P_TO_TAG, P_MSG_HASH,
    P_LOCAL_SESSION, P_REMOTE_SESSION, PAIRS
};
static const char *const PAIR_NAMES[PAIRS] = {
    "Method", "Call-ID", "Code", "CSeq", "Request-URI", "To", "From-Tag", "To-Tag", "Msg-Hash",
    "Local-SessionID", "Remote-SessionID",
};
static const Py_ssize_t PAIR_SIZES[PAIRS] = {6, 7, 4, 4, 11, 2, 8, 6, 8, 15, 16};

static int is_word(char ch) { return is_alpha(ch) || is_digit(ch) || ch == '_' || ch == '-'; }

/* the pair starting at `p` (after `^` or a comma); its value's span, or 0 */
static int detail_pair(const char *b, Py_ssize_t p, Py_ssize_t end, Span *name, Span *value) {
    while (p < end && (b[p] == ' ' || b[p] == '\t')) p++;
    if (p >= end || !is_alpha(b[p])) return 0;
    Py_ssize_t q = p + 1;
    while (q < end && is_word(b[q])) q++;
    if (q >= end || b[q] != '=') return 0;
    Py_ssize_t stop = find_char(b, q + 1, end, ',');
    *name = (Span){p, q};
    *value = (Span){q + 1, stop == -1 ? end : stop};
    return 1;
}

/* number(): 1 to 10 digits, blanks around allowed; -1 otherwise */
static long long digits_of(const char *b, Span v) {
    Span s = strip(b, v);
    if (s.end - s.start < 1 || s.end - s.start > 10) return -1;
    long long n = 0;
    for (Py_ssize_t i = s.start; i < s.end; i++) {
        if (!is_digit(b[i])) return -1;
        n = n * 10 + (b[i] - '0');
    }
    return n;
}

static PyObject *number_or_none(const char *b, Span v, int present) {
    long long n = present ? digits_of(b, v) : -1;
    if (n < 0) Py_RETURN_NONE;
    return PyLong_FromLongLong(n);
}

static PyObject *decoded(const char *b, Py_ssize_t start, Py_ssize_t end) {
    return PyUnicode_DecodeUTF8(b + start, end - start, "replace");
}

static int all_ascii(const char *p, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++)
        if ((unsigned char)p[i] >= 0x80) return 0;
    return 1;
}

static PyObject *address_of(const char *b, Py_ssize_t *ip, Py_ssize_t *port) {
    Py_ssize_t n_ip = ip[1] - ip[0], n_port = port[1] - port[0];
    char joined[96];
    if (n_ip + 1 + n_port <= (Py_ssize_t)sizeof joined && all_ascii(b + ip[0], n_ip) &&
        all_ascii(b + port[0], n_port)) { /* (the common case: no decoding, no format) */
        memcpy(joined, b + ip[0], (size_t)n_ip);
        joined[n_ip] = ':';
        memcpy(joined + n_ip + 1, b + port[0], (size_t)n_port);
        return text_at(joined, n_ip + 1 + n_port);
    }
    PyObject *host = decoded(b, ip[0], ip[1]), *number = decoded(b, port[0], port[1]), *text = NULL;
    if (host != NULL && number != NULL) text = PyUnicode_FromFormat("%U:%U", host, number);
    Py_XDECREF(host);
    Py_XDECREF(number);
    return text;
}

/* sip_line(block, at, end) -> None | False | the fields of calls.sipline.SipLine */
static PyObject *line_fields(const char *b, Py_ssize_t at, Py_ssize_t end);

static PyObject *sip_line(PyObject *self, PyObject *args) {
    Py_buffer view;
    Py_ssize_t at, end;
    if (!PyArg_ParseTuple(args, "y*nn", &view, &at, &end)) return NULL;
    PyObject *result = NULL;
    if (at < 0 || end > view.len || at > end)
        PyErr_SetString(PyExc_ValueError, "sip_line: at and end must lie within the block");
    else
        result = line_fields(view.buf, at, end);
    PyBuffer_Release(&view);
    return result;
}

/* sip_line of b[at, end): a new reference to the SipLine fields' tuple, None or False */
/* A SIP line's leading fields, read without making an object (see line_fields) */
typedef struct {
    Py_ssize_t local_ip[2], local_port[2], ip[2], port[2];
    Py_ssize_t detail[2]; /* the Detail's value ({-1, -1}: a block line, with hash) */
    Py_ssize_t hash[2];   /* a block line's Msg-Hash ({-1, -1}: a summary, with detail) */
    int received, request;
} SipFields;

/* 1: b[at:end] is a SIP summary (detail set) or block line (hash set) of domain.md §2.4's
 * form, its fields in *f; 0: it is not (line_fields gives None) */
static int sip_fields(const char *b, Py_ssize_t at, Py_ssize_t end, SipFields *f) {
    Cursor c = {b, end, at};
    Py_ssize_t *local_ip = f->local_ip, *local_port = f->local_port, *ip = f->ip, *port = f->port;
    Py_ssize_t *detail = f->detail, *hash = f->hash;
    detail[0] = detail[1] = hash[0] = hash[1] = -1;
    f->received = f->request = 0;
    int ok = take(&c, SIP_MODULE) && blanks(&c) && take(&c, "Level=\"");
    while (ok && c.at < end && is_alpha(b[c.at])) c.at++;
    ok = ok && take(&c, "\"");
    if (ok) take(&c, ":");
    ok = ok && blanks(&c) && take(&c, "Action=\"");
    if (ok) {
        f->received = take(&c, "Received");
        ok = (f->received || take(&c, "Sent")) && take(&c, "\"") && blanks(&c);
    }
    ok = ok && take(&c, "Local-ip=\"") && quoted(&c, &local_ip[0], &local_ip[1]) && blanks(&c);
    ok = ok && take(&c, "Local-port=\"") && quoted(&c, &local_port[0], &local_port[1]) && blanks(&c);
    ok = ok && (take(&c, "Src-ip=\"") || take(&c, "Dst-ip=\"")) && quoted(&c, &ip[0], &ip[1]) &&
         blanks(&c);
    ok = ok && (take(&c, "Src-port=\"") || take(&c, "Dst-port=\"")) &&
         quoted(&c, &port[0], &port[1]) && blanks(&c);
    if (ok && take(&c, "Detail=\"")) {
        blanks(&c);
        ok = (take(&c, "Receive") || take(&c, "Sending")) && blanks(&c);
        if (ok) {
            f->request = take(&c, "Request");
            ok = f->request || take(&c, "Response");
        }
        if (ok) {
            blanks(&c);
            ok = quoted(&c, &detail[0], &detail[1]);
        }
    } else if (ok && take(&c, "Msg-Hash=\"")) {
        ok = quoted(&c, &hash[0], &hash[1]) && hash[1] - hash[0] >= 1 && hash[1] - hash[0] <= 64;
    } else {
        ok = 0;
    }
    if (!ok) detail[0] = detail[1] = hash[0] = hash[1] = -1;
    return ok;
}

static PyObject *line_fields(const char *b, Py_ssize_t at, Py_ssize_t end) {
    PyObject *result = NULL;
    SipFields f;
    int ok = sip_fields(b, at, end, &f);
    Py_ssize_t *local_ip = f.local_ip, *local_port = f.local_port, *ip = f.ip, *port = f.port;
    Py_ssize_t *detail = f.detail, *hash = f.hash;
    int received = f.received, request = f.request;
    if (!ok) {
        result = Py_None;
        Py_INCREF(result);
        goto done;
    }
    Span pairs[PAIRS];
    int present[PAIRS] = {0};
    if (detail[0] >= 0) {
        if (!plain_ascii(b + detail[0], detail[1] - detail[0], PLAIN_TAB | PLAIN_CR)) {
            result = Py_False; /* not plain ASCII: read by Python */
            Py_INCREF(result);
            goto done;
        }
        for (Py_ssize_t p = detail[0]; p < detail[1];) {
            Span name, value;
            /* `^` at the Detail's start, else a comma (where every later try starts) */
            int found = p == detail[0] && detail_pair(b, p, detail[1], &name, &value);
            if (!found && b[p] == ',') found = detail_pair(b, p + 1, detail[1], &name, &value);
            if (!found) {
                p = find_char(b, p + 1, detail[1], ',');
                if (p == -1) break;
                continue;
            }
            for (int k = 0; k < PAIRS; k++) {
                if (PAIR_SIZES[k] == name.end - name.start &&
                    memcmp(b + name.start, PAIR_NAMES[k], (size_t)(name.end - name.start)) == 0) {
                    pairs[k] = value;
                    present[k] = 1;
                    break;
                }
            }
            p = value.end;
            if (p >= detail[1]) break;
        }
    }
    for (int k = 0; k < PAIRS; k++)
        if (!present[k]) pairs[k] = (Span){0, 0};
    PyObject *local = address_of(b, local_ip, local_port), *remote = address_of(b, ip, port);
    PyObject *peer = PyBytes_FromStringAndSize(NULL, ip[1] - ip[0] + 1 + port[1] - port[0]);
    if (peer != NULL) {
        char *out = PyBytes_AS_STRING(peer);
        memcpy(out, b + ip[0], (size_t)(ip[1] - ip[0]));
        out[ip[1] - ip[0]] = ':';
        memcpy(out + ip[1] - ip[0] + 1, b + port[0], (size_t)(port[1] - port[0]));
    }
    if (local == NULL || remote == NULL || peer == NULL) {
        Py_XDECREF(local), Py_XDECREF(remote), Py_XDECREF(peer);
        goto done;
    }
    PyObject *direction = text_at(received ? "in" : "out", received ? 2 : 3);
    if (direction == NULL) {
        Py_DECREF(local), Py_DECREF(remote), Py_DECREF(peer);
        goto done;
    }
    if (detail[0] < 0) {
        result = Py_BuildValue("(ONNNNy#OsszzssssN)", Py_False, direction, local, remote, peer,
                               b + hash[0], hash[1] - hash[0], Py_False, "", "", NULL, NULL,
                               "", "", "", "", PyTuple_New(0));
        goto done;
    }
    Span method = strip(b, pairs[P_METHOD]), call_id = strip(b, pairs[P_CALL_ID]);
    char upper[MAX_METHOD_CHARS];
    Py_ssize_t method_length = method.end - method.start < MAX_METHOD_CHARS ? method.end - method.start
                                                                             : MAX_METHOD_CHARS;
    for (Py_ssize_t i = 0; i < method_length; i++) {
        char ch = b[method.start + i];
        upper[i] = ch >= 'a' && ch <= 'z' ? (char)(ch - 32) : ch;
    }
    if (call_id.end - call_id.start > MAX_CALL_ID_CHARS) call_id.end = call_id.start + MAX_CALL_ID_CHARS;
    Span msg_hash = strip(b, pairs[P_MSG_HASH]);
    PyObject *sessions = session_uuids(b, pairs[P_LOCAL_SESSION]);
    PyObject *remote_sessions = session_uuids(b, pairs[P_REMOTE_SESSION]);
    PyObject *both = sessions != NULL && remote_sessions != NULL
                         ? PySequence_Concat(sessions, remote_sessions)
                         : NULL;
    Py_XDECREF(sessions);
    Py_XDECREF(remote_sessions);
    PyObject *method_text = both != NULL ? text_at(upper, method_length) : NULL;
    if (method_text == NULL) {
        Py_XDECREF(both);
        Py_DECREF(local), Py_DECREF(remote), Py_DECREF(peer), Py_DECREF(direction);
        goto done;
    }
    PyObject *items[16] = {
        Py_NewRef(Py_True), direction, local, remote, peer,
        PyBytes_FromStringAndSize(b + msg_hash.start, msg_hash.end - msg_hash.start),
        Py_NewRef(request ? Py_True : Py_False), method_text,
        text_of(b, call_id), number_or_none(b, pairs[P_CODE], present[P_CODE]),
        number_or_none(b, pairs[P_CSEQ], present[P_CSEQ]),
        text_of(b, strip(b, pairs[P_REQUEST_URI])), text_of(b, strip(b, pairs[P_TO])),
        text_of(b, strip(b, pairs[P_FROM_TAG])), text_of(b, strip(b, pairs[P_TO_TAG])), both,
    };
    result = tuple_of(items, 16);
done:
    return result;
}

/* ------------------------------------------------------------------ one sign-in line */

/* `n` characters of `set` (`digits` or "[^\"\n]") from c->at, 0 to `most` of them */
static Py_ssize_t run_of(Cursor *c, int digits, Py_ssize_t most) {
    Py_ssize_t start = c->at;
    while (c->at < c->n && c->at - start < most &&
           (digits ? is_digit(c->b[c->at]) : c->b[c->at] != '"' && c->b[c->at] != '\n'))
        c->at++;
    return c->at - start;
}

static int exactly_digits(Cursor *c, Py_ssize_t count) { return run_of(c, 1, count) == count; }

/* signin._TS_FAST matched at c->at (just after `UTCTime="`); the groups' spans */
static int ts_fast(Cursor *c, Span *g) {
    Py_ssize_t s = c->at;
    if (!(exactly_digits(c, 4) && take(c, "-") && exactly_digits(c, 2) && take(c, "-") &&
          exactly_digits(c, 2) && take(c, " ") && exactly_digits(c, 2) && take(c, ":") &&
          exactly_digits(c, 2) && take(c, ":") && exactly_digits(c, 2)))
        return 0;
    g[0] = (Span){s, c->at};
    g[1] = (Span){c->at, c->at};
    Cursor save = *c;
    if (take(c, ",")) {
        Py_ssize_t digits = run_of(c, 1, 6);
        if (digits >= 1 && c->at < c->n && c->b[c->at] == '"') g[1] = (Span){save.at, c->at};
        else *c = save;
    }
    if (!take(c, "\"") || !blanks(c) || !take(c, "Module=\"network.http.trafficserver\"") ||
        !blanks(c) || !take(c, "Level=\""))
        return 0;
    Py_ssize_t level = c->at;
    while (c->at < c->n && c->at - level < 12 && is_alpha(c->b[c->at])) c->at++;
    if (!take(c, "\"")) return 0;
    take(c, ":");
    if (!blanks(c) || !take(c, "Detail=\"")) return 0;
    g[2] = (Span){c->at, c->at + 8};
    if (!take(c, "Sending") && !take(c, "Received")) return 0;
    g[2].end = c->at;
    if (!take(c, " ")) return 0;
    g[3] = (Span){c->at, c->at};
    if (!take(c, "Request") && !take(c, "Response")) return 0;
    g[3].end = c->at;
    if (!take(c, "\"") || !blanks(c) || !take(c, "Txn-id=\"")) return 0;
    g[4].start = c->at;
    run_of(c, 0, 40);
    g[4].end = c->at;
    if (!take(c, "\"")) return 0;
    g[5] = (Span){-1, -1};
    save = *c;
    if (blanks(c) && take(c, "TrackingID=\"")) {
        Py_ssize_t start = c->at;
        run_of(c, 0, 80);
        if (take(c, "\"")) g[5] = (Span){start, c->at - 1};
        else *c = save;
    } else {
        *c = save;
    }
    if (!blanks(c)) return 0; /* (a TrackingID the ip does not follow: the regex fails too) */
    if (!take(c, "Src-ip=\"") && !take(c, "Dst-ip=\"")) return 0;
    g[6].start = c->at;
    run_of(c, 0, 64);
    g[6].end = c->at;
    if (!take(c, "\"") || !blanks(c)) return 0;
    if (!take(c, "Src-port=\"") && !take(c, "Dst-port=\"")) return 0;
    g[7].start = c->at;
    run_of(c, 0, 8);
    g[7].end = c->at;
    return take(c, "\"");
}

/* The fields of a Traffic Server line of doc 225746's form (signin._TS_FAST's groups) in
 * b[0, n): 1 found (g filled), 0 not that form (or an HTTPMSG on it), -1 not plain ASCII (tab
 * and printables; Python reads it). */
static int signin_fields(const char *b, Py_ssize_t n, Span *g) {
    if (!plain_ascii(b, n, PLAIN_TAB)) return -1;
    if (find_in(b, n, "HTTPMSG:", 8) != NULL) return 0;
    if (find_in(b, n, "network.http.trafficserver\"", 27) == NULL) return 0;
    for (const char *at = find_in(b, n, "UTCTime=\"", 9); at != NULL;
         at = find_in(at + 1, b + n - at - 1, "UTCTime=\"", 9)) {
        Cursor c = {b, n, at - b + 9};
        if (ts_fast(&c, g)) return 1;
    }
    return 0;
}

/* the peer of found fields: "ip:port", "ip" without a port, "" without an ip */
static PyObject *signin_peer(const char *b, const Span *g) {
    Span ip = strip(b, g[6]), port = strip(b, g[7]);
    if (ip.end == ip.start) return PyUnicode_FromString("");
    if (port.end == port.start) return text_of(b, ip);
    char both[64 + 1 + 8]; /* (at most 64 and 8 characters) */
    Py_ssize_t size = ip.end - ip.start;
    memcpy(both, b + ip.start, (size_t)size);
    both[size++] = ':';
    memcpy(both + size, b + port.start, (size_t)(port.end - port.start));
    return text_at(both, size + port.end - port.start);
}

/* signin_line(line) -> None | False | (second, fraction, received, request, txn_id,
 * tracking_id, peer): calls.signin.fast_line_in_python for a line of plain ASCII (tab and
 * printables); False for any other line, which Python reads */
static PyObject *signin_line(PyObject *self, PyObject *args) {
    Py_buffer view;
    if (!PyArg_ParseTuple(args, "y*", &view)) return NULL;
    const char *b = view.buf;
    Span g[8] = {{0, 0}};
    int found = signin_fields(b, view.len, g);
    PyObject *result;
    if (found <= 0) {
        result = Py_NewRef(found < 0 ? Py_False : Py_None);
    } else {
        PyObject *peer = signin_peer(b, g);
        result = peer == NULL ? NULL
                              : Py_BuildValue("(NNOONNN)", text_of(b, g[0]), text_of(b, g[1]),
                                              b[g[2].start] == 'R' ? Py_True : Py_False,
                                              b[g[3].start + 2] == 'q' ? Py_True : Py_False,
                                              text_of(b, g[4]),
                                              g[5].start < 0 ? PyUnicode_FromString("")
                                                             : text_of(b, g[5]),
                                              peer);
    }
    PyBuffer_Release(&view);
    return result;
}

/* ------------------------------------------------------------------ shared text */

/* SharedText: one str object per distinct value, for the messages of one collector.
 *
 * sys.intern did this before, at a price the bench showed: 0.2 s of a 2.2 s analysis of the
 * 1 GiB bench bundle, every call of it a lookup in the interpreter's table of interned
 * strings, grown by every Txn-id and Call-ID to a few hundred thousand entries whose probes
 * each read a string object elsewhere in memory (a cache miss), with the GIL held. This table
 * belongs to its collector (freed with it, holding a reference to each of its strings), keeps
 * every slot's hash beside it (a probe reads no string unless the hashes agree), and is small:
 * the values of one analysis' kept messages.
 *
 * Bounded: at most `limit` strings (past it a value is kept as it is, not shared) and at most
 * MAX_PROBE slots looked at per value (a log made so that its values fall on one slot costs
 * MAX_PROBE comparisons per value, not a walk of the table, and those values stay unshared).
 * The hash is seeded per table. Used with the GIL held only (the collectors' readers). */
#define SHARED_MIN_SLOTS 1024
#define SHARED_MAX_PROBE 32
#define SHARED_DEFAULT_LIMIT (1 << 18)

typedef struct {
    uint64_t hash;
    PyObject *text; /* a reference, or NULL: a free slot */
} SharedSlot;       /* (hash and text side by side: a probe costs one cache miss, not two) */

typedef struct {
    PyObject_HEAD SharedSlot *slots;
    Py_ssize_t mask, used, limit;
    uint64_t seed;
} SharedText;

static PyTypeObject SharedTextType;

/* the hash of p[0, n) (its length mixed in first: the last word may overlap the one before);
 * *high: the high bits of its bytes (0: plain ASCII), found in the same pass */
static inline uint64_t text_hash_of(const char *p, Py_ssize_t n, uint64_t seed, uint64_t *high) {
    uint64_t h = seed ^ ((uint64_t)n * 0x9E3779B97F4A7C15ULL), bits = 0, word = 0;
    for (; n >= 8; p += 8, n -= 8) {
        word = read8(p);
        bits |= word;
        h = (h ^ word) * 0xff51afd7ed558ccdULL;
        h ^= h >> 29;
    }
    if (n >= 4)
        word = read4(p) | (read4(p + n - 4) << 32);
    else if (n > 0)
        word = (uint64_t)(unsigned char)p[0] | (uint64_t)(unsigned char)p[n >> 1] << 8 |
               (uint64_t)(unsigned char)p[n - 1] << 16;
    else
        word = 0;
    bits |= word;
    h = (h ^ word) * 0xc4ceb9fe1a85ec53ULL;
    *high = bits & 0x8080808080808080ULL;
    return h ^ (h >> 32);
}

static uint64_t text_hash(const char *p, Py_ssize_t n, uint64_t seed) {
    uint64_t high;
    return text_hash_of(p, n, seed, &high);
}

static PyObject *shared_text_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    static char *keywords[] = {"limit", NULL};
    Py_ssize_t limit = SHARED_DEFAULT_LIMIT;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|n", keywords, &limit)) return NULL;
    if (limit < 0) {
        PyErr_SetString(PyExc_ValueError, "SharedText: limit >= 0");
        return NULL;
    }
    SharedText *self = (SharedText *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    self->slots = calloc(SHARED_MIN_SLOTS, sizeof *self->slots);
    if (self->slots == NULL) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    self->mask = SHARED_MIN_SLOTS - 1;
    self->limit = limit;
    /* a seed of its own per table (its address, the clock): not a secret, see MAX_PROBE */
    self->seed = text_hash((const char *)&self, sizeof self, (uint64_t)time(NULL));
    return (PyObject *)self;
}

static void shared_text_dealloc(SharedText *self) {
    if (self->slots != NULL)
        for (Py_ssize_t i = 0; i <= self->mask; i++) Py_XDECREF(self->slots[i].text);
    free(self->slots);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static Py_ssize_t shared_text_len(SharedText *self) { return self->used; }

/* the table at twice its size; -1 when memory ran out (it then stays as it was) */
static int shared_text_grow(SharedText *t) {
    Py_ssize_t size = (t->mask + 1) * 2;
    SharedSlot *slots = calloc((size_t)size, sizeof *slots);
    if (slots == NULL) return -1;
    for (Py_ssize_t i = 0; i <= t->mask; i++) {
        if (t->slots[i].text == NULL) continue;
        Py_ssize_t slot = (Py_ssize_t)(t->slots[i].hash & (uint64_t)(size - 1));
        while (slots[slot].text != NULL) slot = (slot + 1) & (size - 1);
        slots[slot] = t->slots[i];
    }
    free(t->slots);
    t->slots = slots;
    t->mask = size - 1;
    return 0;
}

/* the table's str of kind `kind` whose data is data[0, n) (n: bytes; hash h), or NULL; *empty:
 * the empty slot the probe ended on, -1 when it ended on none (MAX_PROBE slots looked at) */
static PyObject *shared_find(const SharedText *t, uint64_t h, int kind, const char *data,
                             Py_ssize_t n, Py_ssize_t *empty) {
    Py_ssize_t slot = (Py_ssize_t)(h & (uint64_t)t->mask);
    *empty = -1;
    for (int probe = 0; probe < SHARED_MAX_PROBE; probe++, slot = (slot + 1) & t->mask) {
        PyObject *item = t->slots[slot].text;
        if (item == NULL) {
            *empty = slot;
            return NULL;
        }
        /* (equal str have the same kind: PEP 393's canonical form) */
        if (t->slots[slot].hash == h && PyUnicode_KIND(item) == kind &&
            PyUnicode_GET_LENGTH(item) * kind == n &&
            same_bytes(PyUnicode_DATA(item), data, (size_t)n))
            return item;
    }
    return NULL;
}

/* the table grown when half full, below its limit (out of memory: it stays as it is, and
 * takes no more: see shared_add) */
static void shared_make_room(SharedText *t) {
    if (t->used * 2 > t->mask && t->used < t->limit) (void)shared_text_grow(t);
}

/* `value` (hash h) put in the empty slot `empty` that shared_find gave, when the table has room */
static void shared_add(SharedText *t, Py_ssize_t empty, PyObject *value, uint64_t h) {
    if (empty < 0 || t->used >= t->limit || t->used * 2 > t->mask) return;
    t->slots[empty].text = Py_NewRef(value);
    t->slots[empty].hash = h;
    t->used++;
}

/* A new reference to the table's str equal to the str `value`: `value` itself when it is
 * added, or when it cannot be (the table full, its probe too long, memory short). */
static PyObject *shared_str(SharedText *t, PyObject *value) {
    shared_make_room(t);
    int kind = PyUnicode_KIND(value);
    Py_ssize_t n = PyUnicode_GET_LENGTH(value) * kind, empty;
    const char *data = PyUnicode_DATA(value);
    uint64_t h = text_hash(data, n, t->seed ^ (uint64_t)kind);
    PyObject *found = shared_find(t, h, kind, data, n, &empty);
    if (found != NULL) return Py_NewRef(found);
    shared_add(t, empty, value, h);
    return Py_NewRef(value);
}

/* text_of within a run: the table's str of the ASCII text p[0:n] when it holds one (nothing
 * made: most of a SIP message's fields repeat those of the messages before it), else a new
 * str, shared as shared_str shares it; text that is not ASCII is decoded as text_of does. */
static PyObject *shared_text_of(void *table, const char *p, Py_ssize_t n) {
    SharedText *t = table;
    if (n == 0) return PyUnicode_FromStringAndSize(p, 0); /* (the empty str: one already) */
    uint64_t high;
    uint64_t h = text_hash_of(p, n, t->seed ^ (uint64_t)PyUnicode_1BYTE_KIND, &high);
    if (high) return PyUnicode_FromStringAndSize(p, n); /* not ASCII: decoded, not shared */
    shared_make_room(t);
    Py_ssize_t empty;
    PyObject *found = shared_find(t, h, PyUnicode_1BYTE_KIND, p, n, &empty);
    if (found != NULL) return Py_NewRef(found);
    PyObject *made = PyUnicode_New(n, 127);
    if (made == NULL) return NULL;
    memcpy(PyUnicode_DATA(made), p, (size_t)n);
    shared_add(t, empty, made, h); /* (where the probe ended: no second hash and probe) */
    return made;
}

static PyObject *shared_text_share(SharedText *self, PyObject *value) {
    if (!PyUnicode_CheckExact(value)) {
        PyErr_SetString(PyExc_TypeError, "SharedText.share: a str");
        return NULL;
    }
    return shared_str(self, value);
}

static PyMethodDef shared_text_methods[] = {
    {"share", (PyCFunction)shared_text_share, METH_O,
     "share(text) -> the table's str equal to text (text itself when added, or past the "
     "table's bounds)"},
    {NULL, NULL, 0, NULL},
};

static PySequenceMethods shared_text_as_sequence = {.sq_length = (lenfunc)shared_text_len};

static PyTypeObject SharedTextType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "app._native.SharedText",
    .tp_basicsize = sizeof(SharedText),
    .tp_dealloc = (destructor)shared_text_dealloc,
    .tp_as_sequence = &shared_text_as_sequence,
    .tp_methods = shared_text_methods,
    .tp_new = shared_text_new,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "SharedText(limit=262144): one str per distinct value for one collector's "
              "messages (len: the strings it holds)",
};

/* the SharedText of an optional argument: NULL for None (sys.intern's table then), -1 with
 * TypeError for anything else */
static int shared_of(PyObject *arg, SharedText **table) {
    *table = NULL;
    if (arg == NULL || arg == Py_None) return 0;
    if (!Py_IS_TYPE(arg, &SharedTextType)) {
        PyErr_SetString(PyExc_TypeError, "shared: a SharedText or None");
        return -1;
    }
    *table = (SharedText *)arg;
    return 0;
}

/* the shared copy of one str: the table's (a new reference), else interned in place */
static PyObject *shared_one(PyObject *value, SharedText *table) {
    if (table != NULL) return shared_str(table, value);
    Py_INCREF(value);
    PyUnicode_InternInPlace(&value);
    return value;
}

/* A new reference to the shared copy of the str `value` (the table's, or interned without
 * one), or to a copy of the tuple `value` with its strings shared (made only when one of them
 * may change); NULL when `value` stays as it is, or with an exception set when memory ran
 * out. An interned str is left as it is (the methods and constants of the readers). */
static PyObject *shared_copy(PyObject *value, SharedText *table) {
    if (PyUnicode_CheckExact(value)) {
        if (PyUnicode_CHECK_INTERNED(value)) return NULL;
        return shared_one(value, table);
    }
    if (!PyTuple_CheckExact(value)) return NULL;
    Py_ssize_t size = PyTuple_GET_SIZE(value), i;
    for (i = 0; i < size; i++) {
        PyObject *part = PyTuple_GET_ITEM(value, i);
        if (PyUnicode_CheckExact(part) && !PyUnicode_CHECK_INTERNED(part)) break;
    }
    if (i == size) return NULL;
    PyObject *copy = PyTuple_New(size);
    if (copy == NULL) return NULL;
    for (i = 0; i < size; i++) {
        PyObject *part = PyTuple_GET_ITEM(value, i);
        if (PyUnicode_CheckExact(part) && !PyUnicode_CHECK_INTERNED(part))
            part = shared_one(part, table);
        else
            Py_INCREF(part);
        PyTuple_SET_ITEM(copy, i, part);
    }
    return copy;
}

/* intern_slots(slots, item, shared=None): each str value of item's slots replaced by its
 * shared copy (the SharedText `shared`'s; interned when None), and each tuple of them by one of
 * shared copies; the slots of its __slots__ class given as their member descriptors (looked up
 * once per class by calls.interning.slot_interner), each read and written at its offset,
 * without an attribute lookup per field. Every descriptor must be a writable object slot of
 * item's type (TypeError otherwise: nothing is read from a wrong offset). */
static int slots_of(PyObject *slots, PyObject *item);
static int intern_item(PyObject *slots, PyObject *item, SharedText *table);

static PyObject *intern_slots(PyObject *self, PyObject *args) {
    PyObject *item, *slots, *shared = Py_None;
    SharedText *table;
    if (!PyArg_ParseTuple(args, "O!O|O", &PyTuple_Type, &slots, &item, &shared)) return NULL;
    if (shared_of(shared, &table) || slots_of(slots, item) || intern_item(slots, item, table))
        return NULL;
    Py_RETURN_NONE;
}

/* 0 when every member descriptor of the tuple `slots` is a writable object slot of `type`
 * (or a base of it); -1 with TypeError naming `who` otherwise: nothing is then read or written
 * at a wrong offset (intern_slots, makers) */
static int writable_slots(PyObject *slots, PyTypeObject *type, const char *who) {
    Py_ssize_t count = PyTuple_GET_SIZE(slots);
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *descr = PyTuple_GET_ITEM(slots, i);
        if (!Py_IS_TYPE(descr, &PyMemberDescr_Type)) {
            PyErr_Format(PyExc_TypeError, "%s: not a member descriptor", who);
            return -1;
        }
        PyMemberDescrObject *member = (PyMemberDescrObject *)descr;
        if (member->d_member->type != T_OBJECT_EX || (member->d_member->flags & READONLY) ||
            !PyType_IsSubtype(type, member->d_common.d_type)) {
            PyErr_Format(PyExc_TypeError, "%s: not a writable object slot of the class", who);
            return -1;
        }
    }
    return 0;
}

static int slots_of(PyObject *slots, PyObject *item) {
    return writable_slots(slots, Py_TYPE(item), "intern_slots");
}

/* share the text of item's slots (checked by slots_of) through `table` (NULL: intern it); -1
 * when memory ran out */
static int intern_item(PyObject *slots, PyObject *item, SharedText *table) {
    Py_ssize_t count = PyTuple_GET_SIZE(slots);
    for (Py_ssize_t i = 0; i < count; i++) {
        PyMemberDef *def = ((PyMemberDescrObject *)PyTuple_GET_ITEM(slots, i))->d_member;
        PyObject **slot = (PyObject **)((char *)item + def->offset);
        PyObject *value = *slot;
        if (value == NULL) continue;
        PyObject *shared = shared_copy(value, table);
        if (shared == NULL) {
            if (PyErr_Occurred()) return -1;
            continue;
        }
        *slot = shared; /* (the slot held a reference to value: given back below) */
        Py_DECREF(value);
    }
    return 0;
}

/* ------------------------------------------------------------------ log times */

/* The `n` ASCII digits at `p` as a number; -1 when one is not a digit. */
static long digits_at(const char *p, int n) {
    long value = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return -1;
        value = value * 10 + (p[i] - '0');
    }
    return value;
}

/* utc_datetime(value, decimal): the UTC datetime of `value` (bytes or str) when it is exactly
 * `YYYY-MM-DD HH:MM:SS`, optionally followed by `,` and one or more ASCII digits; False for
 * any other form and for a date or time out of range (the Python readers answer those). The
 * digits: with `decimal`, a decimal fraction of the second (its first six: `,92` = 920 ms, the
 * sign-in rule of calls.signin); without, one to three are milliseconds as written (`,9` = 9
 * ms) and more a decimal fraction (the SIP rule of calls.extract.utc_time). */
static PyObject *utc_of(const char *text, Py_ssize_t size, int decimal);

static PyObject *utc_datetime(PyObject *self, PyObject *args) {
    PyObject *value;
    int decimal;
    if (!PyArg_ParseTuple(args, "Op", &value, &decimal)) return NULL;
    const char *text;
    Py_ssize_t size;
    if (PyBytes_Check(value)) {
        text = PyBytes_AS_STRING(value);
        size = PyBytes_GET_SIZE(value);
    } else if (PyUnicode_Check(value)) {
        if (PyUnicode_READY(value) < 0) return NULL;
        if (!PyUnicode_IS_ASCII(value)) Py_RETURN_FALSE;
        text = (const char *)PyUnicode_DATA(value);
        size = PyUnicode_GET_LENGTH(value);
    } else {
        PyErr_SetString(PyExc_TypeError, "utc_datetime: bytes or str");
        return NULL;
    }
    return utc_of(text, size, decimal);
}

/* utc_datetime of text[0, size): a new reference to the datetime or to False; NULL on error */
static PyObject *utc_of(const char *text, Py_ssize_t size, int decimal) {
    if (size < 19 || text[4] != '-' || text[7] != '-' || text[10] != ' ' || text[13] != ':' ||
        text[16] != ':')
        Py_RETURN_FALSE;
    long year = digits_at(text, 4), month = digits_at(text + 5, 2), day = digits_at(text + 8, 2);
    long hour = digits_at(text + 11, 2), minute = digits_at(text + 14, 2);
    long second = digits_at(text + 17, 2);
    if (year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0)
        Py_RETURN_FALSE;
    long micro = 0;
    if (size > 19) {
        Py_ssize_t count = size - 20; /* digits after the comma */
        if (text[19] != ',' || count < 1) Py_RETURN_FALSE;
        for (Py_ssize_t i = 20; i < size; i++)
            if (text[i] < '0' || text[i] > '9') Py_RETURN_FALSE;
        if (!decimal && count <= 3) {
            micro = digits_at(text + 20, (int)count) * 1000;
        } else {
            int used = count < 6 ? (int)count : 6;
            micro = digits_at(text + 20, used);
            for (int i = used; i < 6; i++) micro *= 10;
        }
    }
    PyObject *when = PyDateTimeAPI->DateTime_FromDateAndTime(
        (int)year, (int)month, (int)day, (int)hour, (int)minute, (int)second, (int)micro,
        PyDateTime_TimeZone_UTC, PyDateTimeAPI->DateTimeType);
    if (when == NULL && PyErr_ExceptionMatches(PyExc_ValueError)) {
        PyErr_Clear(); /* (out of range: month 13, 29 February of a common year, second 60) */
        Py_RETURN_FALSE;
    }
    return when;
}

/* ------------------------------------------------------------------ sign-in runs */

static PyObject *name_user, *name_client_ip, *name_forwarded_for, *name_request_client,
    *name_tracking_id, *name_request_tracking, *name_path, *name_young, *name_old, *name_rotate;

/* The two dicts of a calls.signin.RecentRequests (new references in *young and *old, the
 * previous ones given back); -1 with an exception when they are not dicts */
static int generations_of(PyObject *requests, PyObject **young, PyObject **old) {
    PyObject *new_young = PyObject_GetAttr(requests, name_young);
    PyObject *new_old = new_young != NULL ? PyObject_GetAttr(requests, name_old) : NULL;
    if (new_old == NULL || !PyDict_CheckExact(new_young) || !PyDict_CheckExact(new_old)) {
        if (new_old != NULL || PyErr_ExceptionMatches(PyExc_AttributeError))
            PyErr_SetString(PyExc_TypeError, "requests: a RecentRequests (young and old dicts)");
        Py_XDECREF(new_young);
        Py_XDECREF(new_old);
        return -1;
    }
    Py_XSETREF(*young, new_young);
    Py_XSETREF(*old, new_old);
    return 0;
}

/* A response paired with its request `asked` (calls.signin.SigninReader._keep_fast) */
static int take_request(PyObject *message, PyObject *asked) {
    PyObject *user = PyObject_GetAttr(asked, name_user);
    if (user == NULL) return -1;
    int failed = PyObject_SetAttr(message, name_user, user);
    Py_DECREF(user);
    if (failed) return -1;
    PyObject *client = PyObject_GetAttr(asked, name_client_ip);
    if (client == NULL) return -1;
    int named = PyObject_IsTrue(client);
    if (named == 0) {
        Py_SETREF(client, PyObject_GetAttr(asked, name_forwarded_for));
        if (client == NULL) return -1;
    }
    failed = named < 0 || PyObject_SetAttr(message, name_request_client, client);
    Py_DECREF(client);
    if (failed) return -1;
    PyObject *tracking = PyObject_GetAttr(asked, name_tracking_id);
    if (tracking == NULL) return -1;
    failed = PyObject_SetAttr(message, name_request_tracking, tracking);
    Py_DECREF(tracking);
    if (failed) return -1;
    PyObject *path = PyObject_GetAttr(asked, name_path);
    if (path == NULL) return -1;
    failed = PyObject_SetAttr(message, name_path, path);
    Py_DECREF(path);
    return failed ? -1 : 0;
}

/* ------------------------------------------------------------------ messages made in C */

/* A maker (calls.construct.slot_maker): (cls, slots, defaults), what cls(*fields) does for a
 * dataclass(slots=True) without __post_init__, made here without running its Python __init__:
 * an instance of the type cls, its slots (member descriptors, in the order of the fields) set
 * to the given fields, then to `defaults` (the defaults of the fields not given).
 *
 * Why: a reader making thousands of messages in one call ran that __init__ for each, and the
 * interpreter hands the GIL to a waiting thread at the start of any Python function: the
 * thread feeding the scan then gave the GIL away once per message and waited to get it back
 * (signin_run: 0.55 s of waiting against 0.15 s of work on the 1 GiB bench bundle, while the
 * scan of the other threads waited for its blocks). Made here, a call keeps the GIL from its
 * first message to its last. */
typedef struct {
    PyTypeObject *type;
    PyObject *slots;    /* tuple of member descriptors */
    PyObject *defaults; /* tuple */
} Maker;

/* the Maker of `arg` for `given` fields: 1 for a maker, 0 for a plain class (called as it is),
 * -1 with TypeError or ValueError when it is neither a class nor a well-formed maker */
static int maker_of(PyObject *arg, Py_ssize_t given, Maker *maker) {
    if (PyType_Check(arg)) return 0;
    if (!PyTuple_Check(arg) || PyTuple_GET_SIZE(arg) != 3 ||
        !PyType_Check(PyTuple_GET_ITEM(arg, 0)) || !PyTuple_Check(PyTuple_GET_ITEM(arg, 1)) ||
        !PyTuple_Check(PyTuple_GET_ITEM(arg, 2))) {
        PyErr_SetString(PyExc_TypeError, "cls: a class or a maker (class, slots, defaults)");
        return -1;
    }
    maker->type = (PyTypeObject *)PyTuple_GET_ITEM(arg, 0);
    maker->slots = PyTuple_GET_ITEM(arg, 1);
    maker->defaults = PyTuple_GET_ITEM(arg, 2);
    if (PyTuple_GET_SIZE(maker->slots) != given + PyTuple_GET_SIZE(maker->defaults)) {
        PyErr_SetString(PyExc_ValueError, "maker: a slot per field given and per default");
        return -1;
    }
    return writable_slots(maker->slots, maker->type, "maker") < 0 ? -1 : 1;
}

/* a new instance of the maker's class, its slots set to fields[0, given) then the defaults */
static PyObject *make_instance(const Maker *maker, PyObject *const *fields, Py_ssize_t given) {
    PyObject *made = maker->type->tp_alloc(maker->type, 0); /* (every slot NULL) */
    if (made == NULL) return NULL;
    Py_ssize_t count = PyTuple_GET_SIZE(maker->slots);
    for (Py_ssize_t i = 0; i < count; i++) {
        PyMemberDef *def = ((PyMemberDescrObject *)PyTuple_GET_ITEM(maker->slots, i))->d_member;
        PyObject *value = i < given ? fields[i] : PyTuple_GET_ITEM(maker->defaults, i - given);
        PyObject **slot = (PyObject **)((char *)made + def->offset);
        Py_XSETREF(*slot, Py_NewRef(value));
    }
    return made;
}

/* signin_run(block, starts, numbers, index, pos, lines_before, cls, consts, requests,
 *            generation, room, into, slots, shared=None) -> (index, pos, kept, last)
 * calls.signin.SigninReader.feed's common case in one call: from starts[index] on (the log
 * lines that may be sign-in lines, ascending; numbers[i]: the newlines before starts[i]), each
 * Traffic Server line of doc 225746's form that a log line follows (no HTTPMSG block) is made,
 * paired and kept as SigninReader._keep_fast does: cls(time, file, line, "trafficserver",
 * direction, peer, "?" | None, "", None, "", txn_id, tracking_id) with consts = (file,
 * "trafficserver", "in", "out", "?", ""); a request put in `requests` (a
 * calls.signin.RecentRequests: its dict `young`, and `rotate()` once that holds `generation`
 * keys) by its Txn-id, a response given the user, client, tracking and path of the request its
 * Txn-id names in `young`, else in `old`; appended to `into` with its text shared (`slots`, `shared`: as intern_slots).
 * Lines before `pos` are skipped (inside an HTTPMSG block read). Stops at the first line it
 * does not make, that Python reads (another form or kind, a block after it, not plain ASCII, a
 * time out of range), or when `room` messages are kept: the index of that line, the position
 * after the last line made, how many were kept and the last one (None: none). */
static PyObject *signin_run(PyObject *self, PyObject *args) {
    Py_buffer view;
    PyObject *starts, *numbers, *cls, *consts, *requests, *into, *slots, *shared = Py_None;
    PyObject *young = NULL, *old = NULL;
    Py_ssize_t index, pos, lines_before, generation, room;
    SharedText *table;
    if (!PyArg_ParseTuple(args, "y*O!O!nnnOO!OnnO!O!|O", &view, &PyList_Type, &starts,
                          &PyList_Type, &numbers, &index, &pos, &lines_before, &cls,
                          &PyTuple_Type, &consts, &requests, &generation, &room, &PyList_Type,
                          &into, &PyTuple_Type, &slots, &shared))
        return NULL;
    Maker maker = {NULL, NULL, NULL};
    int made_here = shared_of(shared, &table) ? -1 : maker_of(cls, 12, &maker);
    if (made_here < 0) {
        PyBuffer_Release(&view);
        return NULL;
    }
    void *outer_table = making_with; /* (text_of looks its strings up in the table) */
    making_with = table;
    PyObject *last = Py_None, *result = NULL;
    Py_INCREF(last);
    Py_ssize_t kept = 0, count = PyList_GET_SIZE(starts);
    const char *b = view.buf;
    Py_ssize_t size = view.len;
    int checked = 0;
    if (PyTuple_GET_SIZE(consts) != 6 || PyList_GET_SIZE(numbers) != count || generation < 1) {
        PyErr_SetString(PyExc_ValueError,
                        "signin_run: 6 consts, a number per start, a generation of 1 or more");
        goto done;
    }
    if (name_user == NULL) {
        name_user = PyUnicode_InternFromString("user");
        name_client_ip = PyUnicode_InternFromString("client_ip");
        name_forwarded_for = PyUnicode_InternFromString("forwarded_for");
        name_request_client = PyUnicode_InternFromString("request_client");
        name_tracking_id = PyUnicode_InternFromString("tracking_id");
        name_request_tracking = PyUnicode_InternFromString("request_tracking");
        name_path = PyUnicode_InternFromString("path");
        name_young = PyUnicode_InternFromString("young");
        name_old = PyUnicode_InternFromString("old");
        name_rotate = PyUnicode_InternFromString("rotate");
        if (!name_user || !name_client_ip || !name_forwarded_for || !name_request_client ||
            !name_tracking_id || !name_request_tracking || !name_path || !name_young ||
            !name_old || !name_rotate)
            goto done;
    }
    if (generations_of(requests, &young, &old) < 0) goto done;
    for (; index < count && kept < room; index++) {
        Py_ssize_t start = PyLong_AsSsize_t(PyList_GET_ITEM(starts, index));
        Py_ssize_t before = PyLong_AsSsize_t(PyList_GET_ITEM(numbers, index));
        if ((start == -1 || before == -1) && PyErr_Occurred()) goto done;
        prefetch_listed(b, size, starts, index);
        if (start < pos) continue; /* inside the HTTPMSG block just read */
        if (start >= size) break;
        const char *newline = memchr(b + start, '\n', (size_t)(size - start));
        Py_ssize_t end = newline != NULL ? newline - b : size, after = end + 1;
        if (after >= size || b[after] == ' ' || b[after] == '\t' || b[after] == '|' ||
            (size - after >= 8 && memcmp(b + after, "HTTPMSG:", 8) == 0))
            break; /* the last line, or a block may follow: Python reads it */
        Py_ssize_t stop = end;
        while (stop > start && b[stop - 1] == '\r') stop--;
        const char *line = b + start;
        Span g[8] = {{0, 0}};
        if (signin_fields(line, stop - start, g) != 1) break;
        Py_ssize_t utc_end = g[1].end > g[1].start ? g[1].end : g[0].end;
        PyObject *when = utc_of(line + g[0].start, utc_end - g[0].start, 1);
        if (when == NULL) goto done;
        if (when == Py_False) {
            Py_DECREF(when);
            break; /* (out of range: Python's reader answers it) */
        }
        int request = line[g[3].start + 2] == 'q';
        PyObject *fields[12] = {
            when,
            PyTuple_GET_ITEM(consts, 0),
            PyLong_FromSsize_t(lines_before + before + 1),
            PyTuple_GET_ITEM(consts, 1),
            PyTuple_GET_ITEM(consts, line[g[2].start] == 'R' ? 2 : 3),
            signin_peer(line, g),
            request ? PyTuple_GET_ITEM(consts, 4) : Py_None,
            PyTuple_GET_ITEM(consts, 5),
            Py_None,
            PyTuple_GET_ITEM(consts, 5),
            /* (a Txn-id names one request and its response: looked up in the shared table,
             * nearly every one missed it, each at the cost of a cache miss; the peer and the
             * TrackingID, which repeat, are shared) */
            unshared_text(line, g[4]),
            g[5].start < 0 ? Py_NewRef(PyTuple_GET_ITEM(consts, 5)) : text_of(line, g[5]),
        };
        PyObject *message = NULL;
        if (fields[2] != NULL && fields[5] != NULL && fields[10] != NULL && fields[11] != NULL)
            message = made_here ? make_instance(&maker, fields, 12)
                                : PyObject_Vectorcall(cls, fields, 12, NULL);
        PyObject *txn = fields[10];
        Py_XINCREF(txn);
        Py_DECREF(when);
        Py_XDECREF(fields[2]);
        Py_XDECREF(fields[5]);
        Py_XDECREF(fields[10]);
        Py_XDECREF(fields[11]);
        if (message == NULL) {
            Py_XDECREF(txn);
            goto done;
        }
        int failed = 0;
        if (PyUnicode_GET_LENGTH(txn) > 0) { /* RecentRequests.put / .get: by the Txn-id */
            if (request) {
                failed = PyDict_SetItem(young, txn, message) < 0;
                if (!failed && PyDict_GET_SIZE(young) >= generation) {
                    PyObject *rotated = PyObject_CallMethodNoArgs(requests, name_rotate);
                    failed = rotated == NULL || generations_of(requests, &young, &old) < 0;
                    Py_XDECREF(rotated);
                }
            } else {
                PyObject *asked = PyDict_GetItemWithError(young, txn); /* (borrowed) */
                if (asked == NULL && !PyErr_Occurred()) asked = PyDict_GetItemWithError(old, txn);
                if (asked == NULL) {
                    failed = PyErr_Occurred() != NULL;
                } else {
                    Py_INCREF(asked); /* (take_request reads it: held while it does) */
                    failed = asked != Py_None && take_request(message, asked) < 0;
                    Py_DECREF(asked);
                }
            }
        }
        Py_DECREF(txn);
        if (!failed && !checked) { /* (every message is of one class) */
            failed = slots_of(slots, message) < 0;
            checked = 1;
        }
        /* (with a table, every text was taken from it as it was made: nothing left to share) */
        if (failed || (table == NULL && intern_item(slots, message, table) < 0) ||
            PyList_Append(into, message) < 0) {
            Py_DECREF(message);
            goto done;
        }
        Py_SETREF(last, message);
        kept++;
        pos = after;
    }
    result = Py_BuildValue("(nnnO)", index, pos, kept, last);
done:
    making_with = outer_table;
    Py_DECREF(last);
    Py_XDECREF(young);
    Py_XDECREF(old);
    PyBuffer_Release(&view);
    return result;
}

/* ------------------------------------------------------------------ SIP runs */

static int nonempty(PyObject *text) { return PyUnicode_GET_LENGTH(text) > 0; }

/* tuple(dict.fromkeys((*first, *second))): the UUIDs of both, each once, in order */
static PyObject *joined_sessions(PyObject *first, PyObject *second) {
    Py_ssize_t a = PyTuple_GET_SIZE(first), n = a + PyTuple_GET_SIZE(second), kept = 0;
    PyObject *out = PyTuple_New(n);
    if (out == NULL) return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = i < a ? PyTuple_GET_ITEM(first, i) : PyTuple_GET_ITEM(second, i - a);
        int seen = 0;
        for (Py_ssize_t j = 0; j < kept && !seen; j++) {
            seen = PyObject_RichCompareBool(PyTuple_GET_ITEM(out, j), item, Py_EQ);
            if (seen < 0) {
                Py_DECREF(out);
                return NULL;
            }
        }
        if (!seen) PyTuple_SET_ITEM(out, kept++, Py_NewRef(item));
    }
    if (kept < n && _PyTuple_Resize(&out, kept) < 0) return NULL;
    return out;
}

/* The message calls.extract.FileExtractor._message_with_head makes of the summary `line` and
 * the `head` of its SIPMSG block (their fields' tuples, as sip_line and sip_head give them);
 * made here when `maker` is given (see Maker), else by calling cls */
static PyObject *message_of(PyObject *cls, const Maker *maker, PyObject *line, PyObject *head,
                            PyObject *when,
                            PyObject *file, Py_ssize_t line_no, Py_ssize_t body_offset,
                            Py_ssize_t body_length, PyObject *empty) {
#define L(i) PyTuple_GET_ITEM(line, i)
#define H(i) PyTuple_GET_ITEM(head, i)
    int request = L(6) == Py_True;
    PyObject *method = request ? L(7) : Py_None, *status = request ? Py_None : L(9);
    PyObject *agent = method != Py_None && nonempty(method) ? H(11) : H(12);
    PyObject *sessions = H(15) == Py_None ? Py_NewRef(L(15)) : joined_sessions(L(15), H(15));
    PyObject *hash = PyUnicode_DecodeUTF8(PyBytes_AS_STRING(L(5)), PyBytes_GET_SIZE(L(5)),
                                          "replace");
    PyObject *number = PyLong_FromSsize_t(line_no), *offset = PyLong_FromSsize_t(body_offset);
    PyObject *length = PyLong_FromSsize_t(body_length), *message = NULL;
    if (sessions != NULL && hash != NULL && number != NULL && offset != NULL && length != NULL) {
        PyObject *fields[25] = {
            when,
            file,
            number,
            L(1),
            L(2),
            L(3),
            nonempty(L(8)) ? L(8) : H(4),
            L(10),
            L(7),
            method,
            status,
            status != Py_None && nonempty(H(3)) ? H(3) : empty,
            method != Py_None && nonempty(H(1)) ? H(1) : L(11),
            H(6),
            nonempty(L(13)) ? L(13) : H(7),
            nonempty(H(8)) ? H(8) : L(12),
            nonempty(L(14)) ? L(14) : H(9),
            sessions,
            H(10),
            nonempty(agent) ? agent : nonempty(H(11)) ? H(11) : H(12),
            H(13),
            H(14),
            hash,
            offset,
            length,
        };
        message = maker != NULL ? make_instance(maker, fields, 25)
                                : PyObject_Vectorcall(cls, fields, 25, NULL);
    }
#undef L
#undef H
    Py_XDECREF(sessions);
    Py_XDECREF(hash);
    Py_XDECREF(number);
    Py_XDECREF(offset);
    Py_XDECREF(length);
    return message;
}

/* The end of a SIPMSG block starting at `from` (calls.extract._BODY_END, `\n(?! )`): the
 * position after its last line, or -1 when it may go on in the next block */
static Py_ssize_t body_stop(const char *b, Py_ssize_t size, Py_ssize_t from) {
    Py_ssize_t p = from;
#if defined(__SSE2__)
    /* 16 bytes at a time: a newline whose next byte is not a space (a SIPMSG block's lines
     * are a few dozen bytes: a memchr call per line cost more than the search) */
    const __m128i lf = _mm_set1_epi8('\n'), space = _mm_set1_epi8(' ');
    for (; p + 17 <= size; p += 16) {
        __m128i here = _mm_loadu_si128((const __m128i *)(b + p));
        __m128i next = _mm_loadu_si128((const __m128i *)(b + p + 1));
        unsigned ends = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(here, lf)) &
                        ~(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(next, space));
        if (ends) return p + __builtin_ctz(ends) + 1;
    }
#endif
    while (p < size) {
        const char *newline = memchr(b + p, '\n', (size_t)(size - p));
        if (newline == NULL) return -1;
        p = newline - b;
        if (p >= size - 1) return -1;
        if (b[p + 1] != ' ') return p + 1;
        p++;
    }
    return -1;
}

/* calls.extract._utc_at: the UTCTime value of the log line holding `at` (the line looked back
 * for at most `lookback` bytes; its closing quote within 80 bytes of the `UTCTime="`), else
 * b"" */
static PyObject *utc_bytes_at(const char *b, Py_ssize_t n, Py_ssize_t at, Py_ssize_t lookback) {
    Py_ssize_t floor = at - lookback > 0 ? at - lookback : 0, start = floor;
    const char *newline = at > floor ? memrchr(b + floor, '\n', (size_t)(at - floor)) : NULL;
    if (newline != NULL) start = newline - b + 1;
    else if (floor > 0) return PyBytes_FromStringAndSize(NULL, 0); /* (the line starts too far) */
    const char *found = at > start ? find_in(b + start, at - start, "UTCTime=\"", 9) : NULL;
    if (found == NULL) return PyBytes_FromStringAndSize(NULL, 0);
    Py_ssize_t value = found - b + 9, stop = value + 71 < n ? value + 71 : n; /* found + 80 */
    const char *quote = stop > value ? memchr(b + value, '"', (size_t)(stop - value)) : NULL;
    if (quote == NULL) return PyBytes_FromStringAndSize(NULL, 0);
    return PyBytes_FromStringAndSize(b + value, quote - b - value);
}

/* keepalive_rows(block, keys, fresh, offsets, lasts, counts, numbers, lines_before, file,
 *                tallies, rows, found, maker, max_rows, lookback) -> made
 * calls.extract.FileExtractor._new_rows' loop in one call: for each position p of `offsets`
 * (the first offset of the group fresh[p], whose key keys[fresh[p]] is b"peer\nmethod";
 * lasts[p] and counts[p], its last offset and its count; numbers[p], the newlines before its
 * first), while `tallies` holds fewer than max_rows rows: a row made by `maker` (a _Tally:
 * line lines_before + numbers[p] + 1, counts[p] messages, no failures, no statuses, first
 * the UTCTime of its first line and last the greater of that and its last line's, see
 * utc_bytes_at) and put in tallies[(file, peer, method)], rows[key] and found[fresh[p]].
 * Answers how many were made (Python counts the rest as overflow). Why: 10,000 rows made and
 * counted in Python cost 27 ms of the thread reading SIP lines, in the scan's first blocks. */
static PyObject *keepalive_rows(PyObject *self, PyObject *args) {
    Py_buffer view;
    PyObject *keys, *fresh, *offsets, *lasts, *counts, *numbers, *file, *tallies, *rows, *found;
    PyObject *cls;
    Py_ssize_t lines_before, max_rows, lookback;
    if (!PyArg_ParseTuple(args, "y*O!O!O!O!O!O!nUO!O!O!Onn", &view, &PyList_Type, &keys,
                          &PyList_Type, &fresh, &PyList_Type, &offsets, &PyList_Type, &lasts,
                          &PyList_Type, &counts, &PyList_Type, &numbers, &lines_before, &file,
                          &PyDict_Type, &tallies, &PyDict_Type, &rows, &PyList_Type, &found,
                          &cls, &max_rows, &lookback))
        return NULL;
    Maker maker = {NULL, NULL, NULL};
    Py_ssize_t made = -1, count = PyList_GET_SIZE(offsets);
    PyObject *zero = PyLong_FromLong(0);
    if (zero == NULL || maker_of(cls, 6, &maker) != 1) {
        if (zero != NULL && !PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "keepalive_rows: maker of a class of 6 fields");
        goto done;
    }
    if (PyList_GET_SIZE(numbers) != count || PyList_GET_SIZE(lasts) != count ||
        PyList_GET_SIZE(counts) != count || count > PyList_GET_SIZE(fresh) || lookback < 0) {
        PyErr_SetString(PyExc_ValueError, "keepalive_rows: a number per offset, a group each");
        goto done;
    }
    const char *b = view.buf;
    Py_ssize_t size = view.len;
    for (made = 0; made < count && PyDict_GET_SIZE(tallies) < max_rows; made++) {
        Py_ssize_t index = PyLong_AsSsize_t(PyList_GET_ITEM(fresh, made));
        Py_ssize_t at = PyLong_AsSsize_t(PyList_GET_ITEM(offsets, made));
        Py_ssize_t before = PyLong_AsSsize_t(PyList_GET_ITEM(numbers, made));
        Py_ssize_t last_at = PyLong_AsSsize_t(PyList_GET_ITEM(lasts, made));
        if ((index == -1 || at == -1 || before == -1 || last_at == -1) && PyErr_Occurred())
            goto failed;
        if (index < 0 || index >= PyList_GET_SIZE(keys) || index >= PyList_GET_SIZE(found) ||
            at < 0 || at > size || last_at < 0 || last_at > size) {
            PyErr_SetString(PyExc_ValueError, "keepalive_rows: an index or offset out of range");
            goto failed;
        }
        PyObject *key = PyList_GET_ITEM(keys, index);
        if (!PyBytes_Check(key)) {
            PyErr_SetString(PyExc_TypeError, "keepalive_rows: keys must be bytes");
            goto failed;
        }
        const char *text = PyBytes_AS_STRING(key);
        Py_ssize_t length = PyBytes_GET_SIZE(key);
        const char *cut = memrchr(text, '\n', (size_t)length); /* (key.rpartition(b"\n")) */
        Py_ssize_t split = cut != NULL ? cut - text : 0;
        PyObject *peer = PyBytes_FromStringAndSize(text, split);
        PyObject *method = PyBytes_FromStringAndSize(cut != NULL ? cut + 1 : text,
                                                     cut != NULL ? length - split - 1 : length);
        PyObject *utc = utc_bytes_at(b, size, at, lookback);
        PyObject *last = utc == NULL || last_at == at ? Py_XNewRef(utc)
                                                      : utc_bytes_at(b, size, last_at, lookback);
        if (utc != NULL && last != NULL && last != utc) { /* max(first, last): bytes order */
            Py_ssize_t n1 = PyBytes_GET_SIZE(utc), n2 = PyBytes_GET_SIZE(last);
            int order = memcmp(PyBytes_AS_STRING(utc), PyBytes_AS_STRING(last),
                               (size_t)(n1 < n2 ? n1 : n2));
            if (order > 0 || (order == 0 && n1 >= n2)) Py_SETREF(last, Py_NewRef(utc));
        }
        PyObject *line = PyLong_FromSsize_t(lines_before + before + 1);
        PyObject *statuses = PyDict_New(), *row = NULL, *where = NULL;
        int failed = 1;
        if (peer && method && utc && last && line && statuses) {
            PyObject *fields[6] = {line, PyList_GET_ITEM(counts, made), zero, statuses, utc, last};
            row = make_instance(&maker, fields, 6);
            where = row != NULL ? PyTuple_Pack(3, file, peer, method) : NULL;
            failed = where == NULL || PyDict_SetItem(tallies, where, row) < 0 ||
                     PyDict_SetItem(rows, key, row) < 0 ||
                     PyList_SetItem(found, index, Py_NewRef(row)) < 0;
        }
        Py_XDECREF(peer);
        Py_XDECREF(method);
        Py_XDECREF(utc);
        Py_XDECREF(last);
        Py_XDECREF(line);
        Py_XDECREF(statuses);
        Py_XDECREF(row);
        Py_XDECREF(where);
        if (failed) goto failed;
    }
    goto done;
failed:
    made = -1;
done:
    Py_XDECREF(zero);
    PyBuffer_Release(&view);
    return made < 0 ? NULL : PyLong_FromSsize_t(made);
}

/* sip_run(block, hits, numbers, index, pos, lines_before, offset, cls, file, awaiting, evict,
 *         max_awaiting, background, invite_call_ids, room, into, slots, max_keep, shared=None)
 *   -> (index, pos, kept)
 * calls.extract.FileExtractor._walk's common case in one call: from hits[index] on (the
 * offsets of `Module="network.sip"` of the lines to read; numbers[i]: the newlines before
 * hits[i]), a summary line whose block line follows it at once with its SIPMSG block (see
 * FileExtractor._with_block) is made into its message, kept and read whole as _with_block does:
 * cls(...) (SipMessage) at file offset `offset` + its block's, its Msg-Hash taken out of
 * `awaiting` (else the oldest evicted, `evict()`, once it holds max_awaiting), its Call-ID put in
 * `invite_call_ids` for an INVITE, appended to `into` with its text shared (`slots`, `shared`:
 * as intern_slots); its head read from at most max_keep bytes of the block. Lines that are no
 * message (another network.sip line) or quoted in a payload are passed over. Stops at the
 * first hit it does not read this way, which Python reads: one that no block line (with
 * `Msg-Hash="`) follows on the next line (checked before the hit is read, so that a log of
 * summaries alone is not read twice), a block line, a summary of another form or of
 * a keep-alive method (`background`), a head or a Detail that is not plain
 * ASCII, a time that is not of the plain form; or once `room` messages are kept. Answers the
 * index of that hit, the position from which Python reads, and how many messages were kept. */
static PyObject *sip_run(PyObject *self, PyObject *args) {
    Py_buffer view;
    PyObject *hits, *numbers, *cls, *file, *awaiting, *evict, *background, *invites, *into,
        *slots, *shared = Py_None;
    Py_ssize_t index, pos, lines_before, offset, max_awaiting, room, max_keep;
    SharedText *table;
    if (!PyArg_ParseTuple(args, "y*O!O!nnnnOUO!OnO!O!nO!O!n|O", &view, &PyList_Type, &hits,
                          &PyList_Type, &numbers, &index, &pos, &lines_before, &offset, &cls,
                          &file, &PyDict_Type, &awaiting, &evict, &max_awaiting,
                          &PyFrozenSet_Type, &background, &PySet_Type, &invites, &room,
                          &PyList_Type, &into, &PyTuple_Type, &slots, &max_keep, &shared))
        return NULL;
    Maker maker = {NULL, NULL, NULL};
    int made_here = shared_of(shared, &table) ? -1 : maker_of(cls, 25, &maker);
    if (made_here < 0) {
        PyBuffer_Release(&view);
        return NULL;
    }
    void *outer_table = making_with; /* (text_of looks its strings up in the table) */
    making_with = table;
    const char *b = view.buf;
    Py_ssize_t size = view.len, count = PyList_GET_SIZE(hits), kept = 0;
    PyObject *result = NULL, *empty = PyUnicode_FromString(""), *invite = NULL;
    int checked = 0;
    if (empty == NULL || (invite = PyUnicode_InternFromString("INVITE")) == NULL) goto done;
    if (PyList_GET_SIZE(numbers) != count || max_keep < 0) {
        PyErr_SetString(PyExc_ValueError, "sip_run: a number per hit, max_keep >= 0");
        goto done;
    }
    while (index < count && kept < room) {
        Py_ssize_t hit = PyLong_AsSsize_t(PyList_GET_ITEM(hits, index));
        if (hit == -1 && PyErr_Occurred()) goto done;
        prefetch_listed(b, size, hits, index);
        if (hit < pos) { /* inside the SIPMSG block just read */
            index++;
            continue;
        }
        if (hit >= size) break;
        const char *newline = memchr(b + hit, '\n', (size_t)(size - hit));
        Py_ssize_t end = newline != NULL ? newline - b : size, after = end + 1;
        /* the block line must be the next line: checked before reading this one, so that a
         * log of summaries alone (INFO-level logging) is not read twice, here and by Python */
        Py_ssize_t next_hit = index + 1 < count
                                  ? PyLong_AsSsize_t(PyList_GET_ITEM(hits, index + 1)) : -1;
        if (next_hit == -1 && PyErr_Occurred()) goto done;
        if (next_hit < after || next_hit >= size || b[after] == ' ' || b[after] == '\t' ||
            b[after] == '|' || memchr(b + after, '\n', (size_t)(next_hit - after)) != NULL)
            break; /* the last hit, or no log line with a hit right after it */
        const char *next_newline = memchr(b + next_hit, '\n', (size_t)(size - next_hit));
        Py_ssize_t next_end = next_newline != NULL ? next_newline - b : -1;
        if (next_end < 0 || find_in(b + next_hit, next_end - next_hit, "Msg-Hash=\"", 10)
                                 == NULL)
            break; /* that line is no block line (a summary: INFO-level logging) */
        PyObject *line = line_fields(b, hit, end);
        if (line == NULL) goto done;
        if (line == Py_False) {
            Py_DECREF(line);
            break;
        }
        const char *before = memrchr(b, '\n', (size_t)hit);
        Py_ssize_t start = before != NULL ? before - b + 1 : 0;
        if (line == Py_None || b[start] == ' ' || b[start] == '\t' || b[start] == '|') {
            Py_DECREF(line); /* no message, or quoted inside a payload: passed over */
            pos = after;
            index++;
            continue;
        }
        PyObject *head = NULL, *when = NULL, *message = NULL;
        int read = 0; /* 1: made and kept; 0: left to Python; -1: an error */
        const char *utc = find_in(b + start, hit - start, "UTCTime=\"", 9);
        const char *quote = utc != NULL ? memchr(utc + 9, '"', (size_t)(b + hit - utc - 9)) : NULL;
        Py_ssize_t stop = -1, body_start = -1;
        if (PyTuple_GET_ITEM(line, 0) != Py_True || quote == NULL ||
            PyBytes_GET_SIZE(PyTuple_GET_ITEM(line, 5)) == 0)
            goto line_done; /* a block line, no time: Python reads it */
        SipFields block_line; /* the block line: only its Msg-Hash is read (no objects) */
        if (!sip_fields(b, next_hit, next_end, &block_line) || block_line.hash[0] < 0)
            goto line_done;
        PyObject *summary_hash = PyTuple_GET_ITEM(line, 5);
        Py_ssize_t hash_size = block_line.hash[1] - block_line.hash[0];
        int same = PyBytes_GET_SIZE(summary_hash) == hash_size &&
                   memcmp(PyBytes_AS_STRING(summary_hash), b + block_line.hash[0],
                          (size_t)hash_size) == 0;
        body_start = next_end + 1;
        if (!same || body_start >= size || b[body_start] != ' ') goto line_done;
        stop = body_stop(b, size, body_start);
        if (stop < 0) goto line_done; /* the SIPMSG block may go on in the next block */
        int folded = PySet_Contains(background, PyTuple_GET_ITEM(line, 7));
        if (folded) {
            read = folded < 0 ? -1 : 0; /* keep-alive traffic: Python decides */
            goto line_done;
        }
        Py_ssize_t keep = stop - body_start < max_keep ? stop - body_start : max_keep;
        head = head_fields(b + body_start, keep);
        if (head == NULL) goto line_failed;
        if (head == Py_None) goto line_done; /* not plain ASCII: read by Python */
        when = utc_of(utc + 9, quote - utc - 9, 0);
        if (when == NULL) goto line_failed;
        if (when == Py_False) goto line_done;
        int is_invite = PyUnicode_Compare(PyTuple_GET_ITEM(line, 7), invite) == 0;
        if (is_invite && PySet_Add(invites, PyTuple_GET_ITEM(line, 8)) < 0) goto line_failed;
        Py_ssize_t before_header = PyLong_AsSsize_t(PyList_GET_ITEM(numbers, index + 1));
        if (before_header == -1 && PyErr_Occurred()) goto line_failed;
        message = message_of(cls, made_here ? &maker : NULL, line, head, when, file,
                             lines_before + before_header + 1,
                             offset + body_start, stop - body_start, empty);
        if (message == NULL) goto line_failed;
        PyObject *msg_hash = PyTuple_GET_ITEM(line, 5);
        int waiting = PyDict_Contains(awaiting, msg_hash);
        if (waiting < 0) goto line_failed;
        if (waiting) {
            if (PyObject_DelItem(awaiting, msg_hash) < 0) goto line_failed;
        } else {
            Py_ssize_t held = PyObject_Size(awaiting);
            if (held < 0) goto line_failed;
            if (held >= max_awaiting) {
                PyObject *gone = PyObject_CallNoArgs(evict);
                if (gone == NULL) goto line_failed;
                Py_DECREF(gone);
            }
        }
        if (!checked) { /* (every message is of one class) */
            if (slots_of(slots, message) < 0) goto line_failed;
            checked = 1;
        }
        /* (with a table, every text was taken from it as it was made: nothing left to share) */
        if ((table == NULL && intern_item(slots, message, table) < 0) ||
            PyList_Append(into, message) < 0)
            goto line_failed;
        read = 1;
        goto line_done;
    line_failed:
        read = -1;
    line_done:
        Py_DECREF(line);
        Py_XDECREF(head);
        Py_XDECREF(when);
        Py_XDECREF(message);
        if (read < 0) goto done;
        if (read == 0) break;
        kept++;
        pos = stop;
        index++;
    }
    result = Py_BuildValue("(nnn)", index, pos, kept);
done:
    making_with = outer_table;
    Py_XDECREF(empty);
    Py_XDECREF(invite);
    PyBuffer_Release(&view);
    return result;
}

/* ------------------------------------------------------------------ line-aligned blocks */

/* The writable memory of a block being filled, lent to readinto: each view of it (and each
 * slice of a view) holds this object, which holds the block, so that a view kept past its call
 * never outlives the block's memory; `exports` counts the views not yet released. */
typedef struct {
    PyObject_HEAD PyObject *block;
    char *buf;
    Py_ssize_t len; /* the room lent: buf[0:len] */
    Py_ssize_t exports;
} Room;

static int room_getbuffer(Room *self, Py_buffer *view, int flags) {
    if (PyBuffer_FillInfo(view, (PyObject *)self, self->buf, self->len, 0, flags) < 0) return -1;
    self->exports++;
    return 0;
}

static void room_releasebuffer(Room *self, Py_buffer *view) {
    (void)view;
    self->exports--;
}

static void room_dealloc(Room *self) {
    Py_XDECREF(self->block);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyBufferProcs room_as_buffer = {(getbufferproc)room_getbuffer,
                                       (releasebufferproc)room_releasebuffer};

static PyTypeObject RoomType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "app._native._Room",
    .tp_basicsize = sizeof(Room),
    .tp_dealloc = (destructor)room_dealloc,
    .tp_as_buffer = &room_as_buffer,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "the room of a block fill_lines lends to readinto",
};

/* fill_lines(readinto, head, size) -> (block, rest, end)
 * One block of at most `size` bytes for streams.InflateAhead: `head` (bytes shorter than half
 * of size) followed by what readinto(view) writes into a writable view of the room left in the
 * block, called until it is full or readinto returns 0; then cut after its last newline, the
 * bytes after the cut returned as `rest` (the next block's head), so that blocks end at line
 * ends and the scan takes them without a copy (engine.BlockFeeder.write). No cut when nothing
 * after `head` is a newline, when the rest would be half of size or more (a long line: every
 * call then moves on by at least half a block), or at the end. `end`: None while more may
 * come, True once readinto returned 0, else the exception readinto raised (the block then
 * holds every byte written before it).
 *
 * readinto writes straight into the block (a bytes object of `size` bytes made for it, not yet
 * seen by anyone else); the cut only lowers its length. Its memory stays the size of every
 * block, so that the heap gives the next block the memory of one freed before: shrinking each
 * block to its length left holes just too small for the next one (700 MB where 260 MB did),
 * and inflating into a scratch buffer cost a copy of every byte (0.14 s per GiB). Each view is
 * released after its call: a readinto that kept a view of it (a slice) fails the call
 * (BufferError), and the block lives as long as that view (see Room). */
static PyObject *fill_lines(PyObject *self, PyObject *args) {
    PyObject *readinto, *head;
    Py_ssize_t size;
    if (!PyArg_ParseTuple(args, "OO!n", &readinto, &PyBytes_Type, &head, &size)) return NULL;
    Py_ssize_t start = PyBytes_GET_SIZE(head), filled = start;
    if (size <= 0 || start >= size - start) {
        PyErr_SetString(PyExc_ValueError, "fill_lines: head shorter than half of size");
        return NULL;
    }
    PyObject *block = PyBytes_FromStringAndSize(NULL, size), *end = NULL, *rest = NULL;
    Room *room = NULL;
    if (block == NULL) return NULL;
    char *buf = PyBytes_AS_STRING(block);
    memcpy(buf, PyBytes_AS_STRING(head), (size_t)start);
    end = Py_NewRef(Py_None);
    room = PyObject_New(Room, &RoomType);
    if (room == NULL) goto failed;
    room->block = Py_NewRef(block);
    room->exports = 0;
    while (filled < size) {
        room->buf = buf + filled;
        room->len = size - filled;
        PyObject *view = PyMemoryView_FromObject((PyObject *)room);
        if (view == NULL) goto failed;
        PyObject *got = PyObject_CallOneArg(readinto, view);
        PyObject *type = NULL, *value = NULL, *traceback = NULL;
        if (got == NULL) { /* hand on what came before, then the error */
            PyErr_Fetch(&type, &value, &traceback);
            PyErr_NormalizeException(&type, &value, &traceback);
            if (traceback != NULL && value != NULL) PyException_SetTraceback(value, traceback);
            Py_XDECREF(type);
            Py_XDECREF(traceback);
        }
        PyObject *released = PyObject_CallMethod(view, "release", NULL);
        Py_DECREF(view);
        if (released != NULL && room->exports != 0) { /* a view of it kept (a slice) */
            Py_CLEAR(released);
            PyErr_SetString(PyExc_BufferError,
                            "fill_lines: readinto kept a view of the room it was lent");
        }
        if (released == NULL) { /* (the block lives as long as that view: it holds the room) */
            Py_XDECREF(got);
            Py_XDECREF(value);
            goto failed;
        }
        Py_DECREF(released);
        if (got == NULL && value == NULL) goto failed;
        if (got == NULL) {
            Py_SETREF(end, value);
            break;
        }
        Py_ssize_t count = PyLong_AsSsize_t(got);
        Py_DECREF(got);
        if (count == -1 && PyErr_Occurred()) goto failed;
        if (count < 0 || count > size - filled) {
            PyErr_SetString(PyExc_ValueError, "fill_lines: readinto wrote outside the view");
            goto failed;
        }
        if (count == 0) {
            Py_SETREF(end, Py_NewRef(Py_True));
            break;
        }
        filled += count;
    }
    Py_ssize_t cut = filled;
    if (end == Py_None) {
        const char *last = memrchr(buf + start, '\n', (size_t)(filled - start));
        Py_ssize_t after = last != NULL ? filled - (last + 1 - buf) : size;
        if (after < size - after) cut = filled - after;
    }
    rest = PyBytes_FromStringAndSize(buf + cut, filled - cut);
    if (rest == NULL) goto failed;
    Py_SET_SIZE(block, cut); /* (its memory stays: see above) */
    buf[cut] = '\0';
    Py_DECREF(room); /* (no view of it is left: its last reference) */
    return Py_BuildValue("(NNN)", block, rest, end);
failed:
    Py_XDECREF(room);
    Py_XDECREF(block);
    Py_XDECREF(end);
    return NULL;
}

/* set_avx2(on) -> whether the AVX2 loops ran before: they run when `on` is true and the CPU has
 * AVX2 (as at import), else the SSE2 ones (tests compare the two). */
static PyObject *set_avx2(PyObject *self, PyObject *args) {
    int on, before = use_avx2;
    if (!PyArg_ParseTuple(args, "p", &on)) return NULL;
#if defined(HAVE_AVX2_TARGET)
    __builtin_cpu_init();
    use_avx2 = on && __builtin_cpu_supports("avx2");
#else
    (void)on;
#endif
    return PyBool_FromLong(before);
}

/* ------------------------------------------------------------------ sign-in attempts */

/* The object in slot `i` of `slots` (member descriptors, checked by writable_slots against
 * the item's type) of `item`: a borrowed reference; NULL with AttributeError when unset. */
static inline PyObject *slot_at(PyObject *slots, Py_ssize_t i, PyObject *item) {
    PyMemberDef *def = ((PyMemberDescrObject *)PyTuple_GET_ITEM(slots, i))->d_member;
    PyObject *value = *(PyObject **)((char *)item + def->offset);
    if (value == NULL) PyErr_Format(PyExc_AttributeError, "%s is not set", def->name);
    return value;
}

/* 0 when `item` is of `*checked` (or of a type whose slots `slots` are: then `*checked`
 * becomes it), -1 with TypeError otherwise (nothing is read at a wrong offset) */
static int item_of(PyObject *slots, PyObject *item, PyTypeObject **checked, const char *who) {
    if (Py_TYPE(item) == *checked) return 0;
    if (writable_slots(slots, Py_TYPE(item), who) < 0) return -1;
    *checked = Py_TYPE(item);
    return 0;
}

/* days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil) */
static long long days_from_civil(long long y, unsigned m, unsigned d) {
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (long long)doe - 719468;
}

/* a datetime's fields as microseconds (its tzinfo left aside) */
static long long datetime_micros(PyObject *when) {
    long long days = days_from_civil(PyDateTime_GET_YEAR(when), PyDateTime_GET_MONTH(when),
                                     PyDateTime_GET_DAY(when));
    long long seconds = days * 86400 + PyDateTime_DATE_GET_HOUR(when) * 3600 +
                        PyDateTime_DATE_GET_MINUTE(when) * 60 + PyDateTime_DATE_GET_SECOND(when);
    return seconds * 1000000 + PyDateTime_DATE_GET_MICROSECOND(when);
}

/* `later - earlier > gap` (1, 0; -1 on error): in integers when both are datetimes with the
 * same tzinfo (what Python's subtraction then does too: the tzinfo is not consulted), else by
 * Python's own subtraction and comparison */
static int apart_more_than(PyObject *later, PyObject *earlier, PyObject *gap, long long gap_us) {
    if (PyDateTime_CheckExact(later) && PyDateTime_CheckExact(earlier) &&
        PyDateTime_DATE_GET_TZINFO(later) == PyDateTime_DATE_GET_TZINFO(earlier))
        return datetime_micros(later) - datetime_micros(earlier) > gap_us;
    PyObject *apart = PyNumber_Subtract(later, earlier);
    if (apart == NULL) return -1;
    int more = PyObject_RichCompareBool(apart, gap, Py_GT);
    Py_DECREF(apart);
    return more;
}

/* `dict.setdefault(key, value)` when key is true (a non-empty text); 0, -1 on error */
static int remember(PyObject *dict, PyObject *key, PyObject *value) {
    int named = PyObject_IsTrue(key);
    if (named <= 0) return named;
    return PyDict_SetDefault(dict, key, value) == NULL ? -1 : 0;
}

/* `dict.get(key, "")` truth: a borrowed reference to the value when it is true, else NULL
 * (and *failed set on error) */
static PyObject *known_as(PyObject *dict, PyObject *key, int *failed) {
    PyObject *value = PyDict_GetItemWithError(dict, key);
    if (value == NULL) {
        *failed = PyErr_Occurred() != NULL;
        return NULL;
    }
    int truth = PyObject_IsTrue(value);
    if (truth < 0) *failed = 1;
    return truth > 0 ? value : NULL;
}

/* A new list of the items of the list `given` (NULL on error): a C loop reads its own copy,
 * whose items it holds, whatever Python code a comparison or a callback runs does to `given`. */
static PyObject *own_copy(PyObject *given) {
    return PyList_GetSlice(given, 0, PyList_GET_SIZE(given));
}

/* The client of each message: its own when it names one, else that of a message with its
 * TrackingID (its own, else its request's), else of its user, else `unknown` (a new list) */
static PyObject *resolved_clients(PyObject *slots, PyObject *ordered, PyObject *clients,
                                  PyObject *unknown) {
    Py_ssize_t count = PyList_GET_SIZE(ordered);
    PyObject *by_tracking = PyDict_New(), *by_user = PyDict_New();
    PyObject *resolved = PyList_New(count);
    PyTypeObject *checked = NULL;
    if (by_tracking == NULL || by_user == NULL || resolved == NULL) goto failed;
    for (int pass = 0; pass < 2; pass++) {
        for (Py_ssize_t i = 0; i < count; i++) {
            PyObject *message = PyList_GET_ITEM(ordered, i);
            PyObject *client = PyList_GET_ITEM(clients, i);
            if (item_of(slots, message, &checked, "signin_groups") < 0) goto failed;
            PyObject *tracking = slot_at(slots, 0, message);
            PyObject *request_tracking = slot_at(slots, 1, message);
            PyObject *user = slot_at(slots, 2, message);
            if (tracking == NULL || request_tracking == NULL || user == NULL) goto failed;
            int named = PyObject_IsTrue(client);
            if (named < 0) goto failed;
            if (pass == 0) { /* what the messages that name their client tell of the others */
                if (named && (remember(by_tracking, tracking, client) < 0 ||
                              remember(by_tracking, request_tracking, client) < 0 ||
                              remember(by_user, user, client) < 0))
                    goto failed;
                continue;
            }
            if (!named) {
                int error = 0, tracked = PyObject_IsTrue(tracking);
                if (tracked < 0) goto failed;
                client = known_as(by_tracking, tracked ? tracking : request_tracking, &error);
                if (client == NULL && !error) client = known_as(by_user, user, &error);
                if (error) goto failed;
                if (client == NULL) client = unknown;
            }
            PyList_SET_ITEM(resolved, i, Py_NewRef(client));
        }
    }
    Py_DECREF(by_tracking);
    Py_DECREF(by_user);
    return resolved;
failed:
    Py_XDECREF(by_tracking);
    Py_XDECREF(by_user);
    Py_XDECREF(resolved);
    return NULL;
}

/* signin_groups(slots, ordered, clients, gap, unknown) -> [(client, messages), ...]:
 * calls.signin_flow.client_groups_in_python in C (its reference; see there), over the messages
 * `ordered` (HttpMessage, in time order) and the client each names ("" for none); `slots`:
 * the member descriptors of tracking_id, request_tracking, user and time; `gap`: a timedelta. */
static PyObject *client_groups(PyObject *slots, PyObject *ordered, PyObject *clients,
                               PyObject *gap, PyObject *unknown);

static PyObject *signin_groups(PyObject *self, PyObject *args) {
    PyObject *slots, *given, *named, *gap, *unknown;
    if (!PyArg_ParseTuple(args, "O!O!O!O!U", &PyTuple_Type, &slots, &PyList_Type, &given,
                          &PyList_Type, &named, PyDateTimeAPI->DeltaType, &gap, &unknown))
        return NULL;
    if (PyTuple_GET_SIZE(slots) != 4 || PyList_GET_SIZE(named) != PyList_GET_SIZE(given)) {
        PyErr_SetString(PyExc_ValueError, "signin_groups: four slots, a client per message");
        return NULL;
    }
    PyObject *ordered = own_copy(given), *clients = own_copy(named), *groups = NULL;
    if (ordered != NULL && clients != NULL)
        groups = client_groups(slots, ordered, clients, gap, unknown);
    Py_XDECREF(ordered);
    Py_XDECREF(clients);
    return groups;
}

static PyObject *client_groups(PyObject *slots, PyObject *ordered, PyObject *clients,
                               PyObject *gap, PyObject *unknown) {
    long long gap_us = ((long long)PyDateTime_DELTA_GET_DAYS(gap) * 86400 +
                        PyDateTime_DELTA_GET_SECONDS(gap)) * 1000000 +
                       PyDateTime_DELTA_GET_MICROSECONDS(gap);
    PyObject *resolved = resolved_clients(slots, ordered, clients, unknown);
    if (resolved == NULL) return NULL;
    PyObject *open = PyDict_New(), *last = PyDict_New(), *groups = PyList_New(0);
    if (open == NULL || last == NULL || groups == NULL) goto failed;
    Py_ssize_t count = PyList_GET_SIZE(ordered);
    for (Py_ssize_t i = 0; i < count; i++) {
        /* (the types were checked by resolved_clients, and a list of ours holds them) */
        PyObject *message = PyList_GET_ITEM(ordered, i);
        PyObject *client = PyList_GET_ITEM(resolved, i);
        PyObject *when = slot_at(slots, 3, message);
        if (when == NULL) goto failed;
        PyObject *group = PyDict_GetItemWithError(open, client);
        if (group == NULL && PyErr_Occurred()) goto failed;
        PyObject *previous = PyDict_GetItemWithError(last, client);
        if (previous == NULL && PyErr_Occurred()) goto failed;
        int fresh = group == NULL;
        if (!fresh && when != Py_None && previous != NULL && previous != Py_None) {
            fresh = apart_more_than(when, previous, gap, gap_us);
            if (fresh < 0) goto failed;
        }
        if (fresh) {
            group = PyList_New(0);
            if (group == NULL) goto failed;
            PyObject *pair = PyTuple_Pack(2, client, group);
            int stored = pair == NULL ? -1 : PyDict_SetItem(open, client, group);
            if (stored == 0) stored = PyList_Append(groups, pair);
            Py_XDECREF(pair);
            Py_DECREF(group); /* (open holds it) */
            if (stored < 0) goto failed;
        }
        if (PyList_Append(group, message) < 0) goto failed;
        if (when != Py_None && PyDict_SetItem(last, client, when) < 0) goto failed;
    }
    Py_DECREF(resolved);
    Py_DECREF(open);
    Py_DECREF(last);
    return groups;
failed:
    Py_DECREF(resolved);
    Py_XDECREF(open);
    Py_XDECREF(last);
    Py_XDECREF(groups);
    return NULL;
}

/* `text.endswith(suffixes)` (1, 0; -1 on error), without a method call for a str */
static int ends_with_any(PyObject *text, PyObject *suffixes) {
    if (PyUnicode_CheckExact(text)) {
        Py_ssize_t count = PyTuple_GET_SIZE(suffixes);
        for (Py_ssize_t i = 0; i < count; i++) {
            PyObject *suffix = PyTuple_GET_ITEM(suffixes, i);
            if (!PyUnicode_Check(suffix)) goto general;
            Py_ssize_t found = PyUnicode_Tailmatch(text, suffix, 0, PY_SSIZE_T_MAX, 1);
            if (found != 0) return found < 0 ? -1 : 1;
        }
        return 0;
    }
general:;
    PyObject *answer = PyObject_CallMethod(text, "endswith", "O", suffixes);
    int truth = answer == NULL ? -1 : PyObject_IsTrue(answer);
    Py_XDECREF(answer);
    return truth;
}

/* `*first` set to `value` when none is yet and `value` is true (a non-empty text): the first
 * true value of a slot over the messages of a loop, borrowed; 0, -1 on error */
static int first_true(PyObject *value, PyObject **first) {
    if (*first != NULL) return 0;
    int truth = PyObject_IsTrue(value);
    if (truth > 0) *first = value;
    return truth < 0 ? -1 : 0;
}

/* `*earliest`/`*latest` moved to `when` when it is earlier / later (min and max: the first of
 * equal ones; None is left aside); -1 on error */
static int widen_span(PyObject *when, PyObject **earliest, PyObject **latest) {
    if (when == Py_None) return 0;
    int earlier = *earliest == NULL ? 1 : PyObject_RichCompareBool(when, *earliest, Py_LT);
    if (earlier < 0) return -1;
    if (earlier) *earliest = when;
    int later = *latest == NULL ? 1 : PyObject_RichCompareBool(when, *latest, Py_GT);
    if (later < 0) return -1;
    if (later) *latest = when;
    return 0;
}

/* What signin_steps reads of every message besides its step (slots 6, 7, 8: user, time,
 * node): the first user named, the earliest and latest time (min and max: the first of equal
 * ones), the nodes in the order they show (keys of `nodes`); borrowed references; -1 on error */
static int attempt_span(PyObject *slots, PyObject *message, PyObject **user, PyObject **started,
                        PyObject **ended, PyObject *nodes) {
    PyObject *named = slot_at(slots, 6, message), *when = slot_at(slots, 7, message);
    PyObject *node = slot_at(slots, 8, message);
    if (named == NULL || when == NULL || node == NULL) return -1;
    if (first_true(named, user) < 0 || widen_span(when, started, ended) < 0) return -1;
    return PyDict_SetDefault(nodes, node, Py_None) == NULL ? -1 : 0;
}

/* signin_steps(slots, messages, names, steps_of_path, tftp_ports) -> (steps, last_response,
 * notes, agent, user, nodes, started, ended): the pass of calls.signin_flow._attempt over its
 * messages in C (see attempt_facts_in_python, its reference, and step_of; None where it has
 * None). The list is read from a copy (whatever `steps_of_path` does to it); `steps_of_path`
 * must not change the messages of the earlier ones (their agent, user and times are held as
 * read). `slots`: the member descriptors of source, path, peer, method, status, user_agent,
 * user, time and node; `names`: ("note", "UDS", "TFTP config",
 * "HTTP", "HTTP (path not logged)", "HTTP (request not logged)"); `steps_of_path(path)`: the
 * (before, after) of a path, called once per path of the call. */
static PyObject *attempt_facts(PyObject *slots, PyObject *messages, PyObject *names,
                               PyObject *steps_of_path, PyObject *tftp_ports);

static PyObject *signin_steps(PyObject *self, PyObject *args) {
    PyObject *slots, *given, *names, *steps_of_path, *tftp_ports;
    if (!PyArg_ParseTuple(args, "O!O!O!OO!", &PyTuple_Type, &slots, &PyList_Type, &given,
                          &PyTuple_Type, &names, &steps_of_path, &PyTuple_Type, &tftp_ports))
        return NULL;
    if (PyTuple_GET_SIZE(slots) != 9 || PyTuple_GET_SIZE(names) != 6) {
        PyErr_SetString(PyExc_ValueError, "signin_steps: nine slots and six names");
        return NULL;
    }
    PyObject *messages = own_copy(given);
    if (messages == NULL) return NULL;
    PyObject *facts = attempt_facts(slots, messages, names, steps_of_path, tftp_ports);
    Py_DECREF(messages);
    return facts;
}

static PyObject *attempt_facts(PyObject *slots, PyObject *messages, PyObject *names,
                               PyObject *steps_of_path, PyObject *tftp_ports) {
    PyObject *note = PyTuple_GET_ITEM(names, 0), *uds = PyTuple_GET_ITEM(names, 1);
    PyObject *tftp = PyTuple_GET_ITEM(names, 2), *http = PyTuple_GET_ITEM(names, 3);
    PyObject *no_path = PyTuple_GET_ITEM(names, 4), *no_request = PyTuple_GET_ITEM(names, 5);
    PyObject *steps = PyDict_New(), *last_response = PyDict_New(), *paths = PyDict_New();
    PyObject *notes = PyList_New(0), *nodes = PyDict_New(), *agent = NULL, *user = NULL;
    PyObject *started = NULL, *ended = NULL;
    PyTypeObject *checked = NULL;
    if (steps == NULL || last_response == NULL || paths == NULL || notes == NULL || nodes == NULL)
        goto failed;
    Py_ssize_t count = PyList_GET_SIZE(messages);
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *message = PyList_GET_ITEM(messages, i);
        if (item_of(slots, message, &checked, "signin_steps") < 0) goto failed;
        PyObject *source = slot_at(slots, 0, message), *method = slot_at(slots, 3, message);
        if (source == NULL || method == NULL) goto failed;
        if (agent == NULL && method != Py_None) { /* the first request's User-Agent */
            PyObject *user_agent = slot_at(slots, 5, message);
            if (user_agent == NULL || first_true(user_agent, &agent) < 0) goto failed;
        }
        if (attempt_span(slots, message, &user, &started, &ended, nodes) < 0) goto failed;
        int is_note = PyObject_RichCompareBool(source, note, Py_EQ);
        if (is_note < 0) goto failed;
        if (is_note) {
            if (PyDict_SetItem(steps, uds, Py_None) < 0 || PyList_Append(notes, message) < 0)
                goto failed;
            continue;
        }
        PyObject *path = slot_at(slots, 1, message), *peer = slot_at(slots, 2, message);
        if (path == NULL || peer == NULL) goto failed;
        int has_path = PyObject_IsTrue(path);
        if (has_path < 0) goto failed;
        PyObject *step = NULL, *after = Py_None;
        if (has_path) {
            PyObject *pair = PyDict_GetItemWithError(paths, path);
            if (pair == NULL) {
                if (PyErr_Occurred()) goto failed;
                Py_INCREF(path); /* (held through the call, which may run any Python) */
                pair = PyObject_CallOneArg(steps_of_path, path);
                int stored = pair == NULL ? -1 : PyDict_SetItem(paths, path, pair);
                Py_DECREF(path);
                Py_XDECREF(pair); /* (paths holds it) */
                if (stored < 0) goto failed;
                /* (the slots read anew: the call may have set them) */
                if ((peer = slot_at(slots, 2, message)) == NULL) goto failed;
                if ((method = slot_at(slots, 3, message)) == NULL) goto failed;
                if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
                    PyErr_SetString(PyExc_TypeError, "steps_of_path: a pair");
                    goto failed;
                }
            }
            if (PyTuple_GET_ITEM(pair, 0) != Py_None) step = PyTuple_GET_ITEM(pair, 0);
            after = PyTuple_GET_ITEM(pair, 1);
        }
        if (step == NULL) {
            int tftp_peer = ends_with_any(peer, tftp_ports);
            if (tftp_peer < 0) goto failed;
            if (tftp_peer)
                step = tftp;
            else if (after != Py_None)
                step = after;
            else if (has_path)
                step = http;
            else
                step = method != Py_None ? no_path : no_request;
        }
        if (PyDict_SetItem(steps, step, Py_None) < 0) goto failed;
        PyObject *status = slot_at(slots, 4, message);
        if (status == NULL) goto failed;
        if (method == Py_None && status != Py_None &&
            PyDict_SetItem(last_response, step, message) < 0)
            goto failed;
    }
    Py_DECREF(paths);
    PyObject *listed = PyDict_Keys(nodes);
    Py_DECREF(nodes);
    if (listed == NULL) {
        nodes = NULL;
        goto failed;
    }
    return Py_BuildValue("(NNNOONOO)", steps, last_response, notes, agent ? agent : Py_None,
                         user ? user : Py_None, listed, started ? started : Py_None,
                         ended ? ended : Py_None);
failed:
    Py_XDECREF(steps);
    Py_XDECREF(last_response);
    Py_XDECREF(paths);
    Py_XDECREF(notes);
    Py_XDECREF(nodes);
    return NULL;
}

/* ------------------------------------------------------------------ calls */

/* `a == b` for two str (or other objects): 1, 0; -1 on error */
static inline int same_text(PyObject *a, PyObject *b) {
    return a == b ? 1 : PyObject_RichCompareBool(a, b, Py_EQ);
}

/* the status of a SIP message as a C long, or -1 for None (TypeError for another object) */
static long status_of(PyObject *status) {
    if (status == Py_None) return -1;
    if (!PyLong_Check(status)) {
        PyErr_SetString(PyExc_TypeError, "call_facts: a status is an int or None");
        return -2;
    }
    int overflow;
    long value = PyLong_AsLongAndOverflow(status, &overflow);
    if (value == -1 && PyErr_Occurred()) return -2;
    if (overflow) return overflow > 0 ? LONG_MAX : 0; /* (compared as Python compares them) */
    return value < 0 ? 0 : value; /* (a negative status is no final one, as in Python) */
}

enum { F_METHOD, F_CSEQ_METHOD, F_STATUS, F_TIME, F_CALL_ID, F_NODE, F_FROM_URI, F_TO_URI,
       F_REASON_HEADER, F_SLOTS };

/* call_facts(slots, found, names) -> (first, final, started, ended, call_ids, nodes, from_uri,
 * to_uri, bye, cancel, reason): what calls.group._summarise reads of a call's messages `found`
 * (SipMessage, in time order), in two passes in C (call_facts_in_python is its reference; see
 * there). `slots`: the member descriptors of method, cseq_method, status, time, call_id, node,
 * from_uri, to_uri and reason_header; `names`: ("INVITE", "ACK", "BYE", "CANCEL", ""). */
static PyObject *facts_of_call(PyObject *slots, PyObject *found, PyObject *names);

static PyObject *call_facts(PyObject *self, PyObject *args) {
    PyObject *slots, *given, *names;
    if (!PyArg_ParseTuple(args, "O!O!O!", &PyTuple_Type, &slots, &PyList_Type, &given,
                          &PyTuple_Type, &names))
        return NULL;
    if (PyTuple_GET_SIZE(slots) != F_SLOTS || PyTuple_GET_SIZE(names) != 5) {
        PyErr_SetString(PyExc_ValueError, "call_facts: nine slots and five names");
        return NULL;
    }
    PyObject *found = own_copy(given);
    if (found == NULL) return NULL;
    PyObject *facts = facts_of_call(slots, found, names);
    Py_DECREF(found);
    return facts;
}

static PyObject *facts_of_call(PyObject *slots, PyObject *found, PyObject *names) {
    Py_ssize_t count = PyList_GET_SIZE(found);
    if (count == 0) {
        PyErr_SetString(PyExc_IndexError, "call_facts: a call of no message");
        return NULL;
    }
    PyObject *invite = PyTuple_GET_ITEM(names, 0), *ack = PyTuple_GET_ITEM(names, 1);
    PyObject *bye_name = PyTuple_GET_ITEM(names, 2), *cancel_name = PyTuple_GET_ITEM(names, 3);
    PyObject *empty = PyTuple_GET_ITEM(names, 4);
    PyObject *call_ids = PyDict_New(), *nodes = PyDict_New();
    PyObject *first_invite = NULL, *first_request = NULL, *started = NULL, *ended = NULL;
    PyObject *from_uri = NULL, *to_uri = NULL, *bye = NULL, *cancel = NULL, *reason = NULL;
    PyObject *success = NULL, *last_real = NULL, *last_final = NULL;
    PyTypeObject *checked = NULL;
    if (call_ids == NULL || nodes == NULL) goto failed;
    PyObject *v[F_SLOTS];
    for (Py_ssize_t i = 0; i < count; i++) { /* the first pass: all but the final response */
        PyObject *message = PyList_GET_ITEM(found, i);
        if (item_of(slots, message, &checked, "call_facts") < 0) goto failed;
        for (int s = 0; s < F_SLOTS; s++)
            if ((v[s] = slot_at(slots, s, message)) == NULL) goto failed;
        PyObject *method = v[F_METHOD];
        if (first_invite == NULL && method != Py_None) {
            int is_invite = same_text(method, invite), is_ack = same_text(method, ack);
            if (is_invite < 0 || is_ack < 0) goto failed;
            if (is_invite) first_invite = message;
            if (!is_ack && first_request == NULL) first_request = message;
        }
        if (widen_span(v[F_TIME], &started, &ended) < 0 ||
            PyDict_SetDefault(call_ids, v[F_CALL_ID], Py_None) == NULL ||
            PyDict_SetDefault(nodes, v[F_NODE], Py_None) == NULL)
            goto failed;
        if (first_true(v[F_FROM_URI], &from_uri) < 0 || first_true(v[F_TO_URI], &to_uri) < 0)
            goto failed;
        if (bye != NULL) continue; /* (what ends the call: the first BYE, what came before it) */
        int is_bye = method == Py_None ? 0 : same_text(method, bye_name);
        if (is_bye < 0) goto failed;
        if (is_bye) {
            bye = message;
            continue;
        }
        if (cancel == NULL && method != Py_None) {
            int is_cancel = same_text(method, cancel_name);
            if (is_cancel < 0) goto failed;
            if (is_cancel) cancel = message;
        }
        if (first_true(v[F_REASON_HEADER], &reason) < 0) goto failed;
    }
    PyObject *first = first_invite    ? first_invite
                      : first_request ? first_request
                                      : PyList_GET_ITEM(found, 0);
    PyObject *method = slot_at(slots, F_METHOD, first);
    if (method == NULL) goto failed;
    int named = PyObject_IsTrue(method);
    if (named < 0) goto failed;
    if (!named && (method = slot_at(slots, F_CSEQ_METHOD, first)) == NULL) goto failed;
    for (Py_ssize_t i = 0; i < count && success == NULL; i++) { /* the final response */
        PyObject *message = PyList_GET_ITEM(found, i);
        PyObject *status = slot_at(slots, F_STATUS, message);
        PyObject *cseq_method = slot_at(slots, F_CSEQ_METHOD, message);
        if (status == NULL || cseq_method == NULL) goto failed;
        long code = status_of(status);
        if (code == -2) goto failed;
        if (code < 200) continue;
        int same = same_text(cseq_method, method);
        if (same < 0) goto failed;
        if (!same) continue;
        if (code < 300) success = message;
        if (code != 401 && code != 407) last_real = message;
        last_final = message;
    }
    PyObject *final = success ? success : last_real ? last_real : last_final;
    PyObject *ids = PyDict_Keys(call_ids), *listed = PyDict_Keys(nodes);
    Py_DECREF(call_ids);
    Py_DECREF(nodes);
    if (ids == NULL || listed == NULL) {
        Py_XDECREF(ids);
        Py_XDECREF(listed);
        return NULL;
    }
#define OR_NONE(x) ((x) != NULL ? (x) : Py_None)
    return Py_BuildValue("(OOOONNOOOOO)", first, OR_NONE(final), OR_NONE(started),
                         OR_NONE(ended), ids, listed, from_uri ? from_uri : empty,
                         to_uri ? to_uri : empty, OR_NONE(bye), OR_NONE(cancel),
                         reason ? reason : empty);
#undef OR_NONE
failed:
    Py_XDECREF(call_ids);
    Py_XDECREF(nodes);
    return NULL;
}

/* ------------------------------------------------------------------ module */

static PyMethodDef methods[] = {
    {"newlines_answer", newlines_answer, METH_VARARGS,
     "newlines_answer(block, asked, checkpoints=True) -> (answers, offsets | None, "
     "counts | None)"},
    {"sip_prepare", sip_prepare, METH_VARARGS,
     "sip_prepare(block, keepalive, index=None, found=None) -> None | (groups, maybe_late, "
     "statuses, hits, tail, overflow)"},
    {"keepalive_index", keepalive_index, METH_VARARGS,
     "keepalive_index(keys) -> the capsule of an index of keep-alive keys (bytes), for "
     "sip_prepare"},
    {"signin_marks", signin_marks, METH_VARARGS,
     "signin_marks(block, lines, found=None) -> (counted, starts | None)"},
    {"sip_head", sip_head, METH_VARARGS,
     "sip_head(raw) -> None | the fields of calls.sipmsg.Head (a head of plain ASCII)"},
    {"sip_line", sip_line, METH_VARARGS,
     "sip_line(block, at, end) -> None | False | the fields of calls.sipline.SipLine"},
    {"signin_line", signin_line, METH_VARARGS,
     "signin_line(line) -> None | False | (second, fraction, received, request, txn_id, "
     "tracking_id, peer)"},
    {"signin_run", signin_run, METH_VARARGS,
     "signin_run(block, starts, numbers, index, pos, lines_before, cls, consts, requests, "
     "generation, room, into, slots, shared=None) -> (index, pos, kept, last)"},
    {"signin_groups", signin_groups, METH_VARARGS,
     "signin_groups(slots, ordered, clients, gap, unknown) -> [(client, messages), ...]"},
    {"signin_steps", signin_steps, METH_VARARGS,
     "signin_steps(slots, messages, names, steps_of_path, tftp_ports) -> (steps, "
     "last_response, notes, agent, user, nodes, started, ended)"},
    {"call_facts", call_facts, METH_VARARGS,
     "call_facts(slots, found, names) -> (first, final, started, ended, call_ids, nodes, "
     "from_uri, to_uri, bye, cancel, reason)"},
    {"keepalive_rows", keepalive_rows, METH_VARARGS,
     "keepalive_rows(block, keys, fresh, offsets, lasts, counts, numbers, lines_before, file, "
     "tallies, rows, found, maker, max_rows, lookback) -> made"},
    {"sip_run", sip_run, METH_VARARGS,
     "sip_run(block, hits, numbers, index, pos, lines_before, offset, cls, file, awaiting, "
     "evict, max_awaiting, background, invite_call_ids, room, into, slots, max_keep, "
     "shared=None) -> (index, pos, kept)"},
    {"utc_datetime", utc_datetime, METH_VARARGS,
     "utc_datetime(value, decimal) -> datetime | False (a logged UTCTime of the plain form)"},
    {"intern_slots", intern_slots, METH_VARARGS,
     "intern_slots(slots, item, shared=None): share the text of item's slots (member "
     "descriptors) through the SharedText `shared` (None: intern it)"},
    {"locate_lines", locate_lines, METH_VARARGS,
     "locate_lines(block, candidates, gate, gates, first_extra) -> (starts, ends, kept, extra)"},
    {"fill_lines", fill_lines, METH_VARARGS,
     "fill_lines(readinto, head, size) -> (block, rest, end): a block of whole lines (see "
     "streams.InflateAhead)"},
    {"set_avx2", set_avx2, METH_VARARGS,
     "set_avx2(on) -> bool: run the AVX2 loops (when the CPU has AVX2); the setting before"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "app._native",
    "The per-line loops of a block's scan in C, the GIL released (see app/native.py).", -1,
    methods,
};

PyMODINIT_FUNC PyInit__native(void) {
#if defined(HAVE_AVX2_TARGET)
    __builtin_cpu_init();
    use_avx2 = __builtin_cpu_supports("avx2");
#endif
    PyObject *probe = PyBytes_FromString("app._native span_hash key"); /* (keyed as hash()) */
    if (probe == NULL) return NULL;
    Py_hash_t keyed = PyObject_Hash(probe);
    Py_DECREF(probe);
    if (keyed == -1 && PyErr_Occurred()) return NULL;
    hash_key ^= (uint64_t)keyed;
    PyDateTime_IMPORT; /* (utc_datetime) */
    if (PyDateTimeAPI == NULL) return NULL;
    if (PyType_Ready(&RoomType) < 0 || PyType_Ready(&SharedTextType) < 0) return NULL;
    PyObject *created = PyModule_Create(&module);
    if (created == NULL) return NULL;
    if (PyModule_AddObjectRef(created, "SharedText", (PyObject *)&SharedTextType) < 0) {
        Py_DECREF(created);
        return NULL;
    }
    return created;
}
