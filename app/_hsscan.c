/* app._hsscan: the signature literals' Hyperscan pass with no Python call per match.
 *
 * The hyperscan package calls back into Python for every match, taking the GIL each time:
 * while another thread runs Python (the scan confirming hits, the call-flow readers), each
 * callback of a matcher thread waits for the GIL (up to the 5 ms switch interval), so the
 * matcher threads spend most of their time waiting. Here Hyperscan (libhs, linked when its
 * headers are there at build time; app.signatures.matchers falls back on the package
 * otherwise) reports matches to a C callback that keeps one candidate per literal and line,
 * exactly as HyperscanMatcher.scan_with_markers' `on_match` does, with the GIL released for
 * the whole scan; the candidates become Python objects once, after it.
 *
 * Literals(literals, flags, first_marker, owners, stored=None): a block-mode database of the
 * literals (expression id = position; flags as hs_compile_lit_multi takes them), loaded from
 * `stored` (what `serialized()` gave in another process) when this Hyperscan loads it, else
 * compiled (`compiled` says which; the caller keys what it stores by the literals); ids from
 * first_marker on are presence markers; owners[id] (id < first_marker) the signature indexes
 * that own literal id. Literals.scan(block) -> (candidates, markers, positions): [(signature
 * index, offset of the literal's last byte)], one per literal and line, in the order of the
 * matches, the marker numbers found (id - first_marker, in order of their first match) and
 * the positions (below).
 *
 * Literals(..., stored, first_position): ids from first_position to first_marker are position
 * literals (no owners: `owners` then holds first_position tuples), whose every occurrence the
 * scan records; scan(block) then also gives, per position literal in id order, the start
 * offsets of its occurrences (ascending) as bytes of native 64-bit integers: Literals.scan ->
 * (candidates, markers, positions), positions () when there is none. The call-flow readers
 * take them instead of a pass of their own over the block (app/calls).
 *
 * Families: signature literals (flags 0, before first_position) that are one prefix of 3 bytes
 * or more followed by 1 to 8 ASCII digits (the library's ~400 alarm literals `Id="20004`, ...),
 * FAMILY_MIN or more sharing the prefix, are not given to Hyperscan one by one: the prefix is,
 * once (id count + family number), and at each of its matches the digits after it are looked
 * up among the family's members. A member occurs exactly where its prefix occurs followed by
 * its digits, so the candidates are the ones its own literal gives (same offset, its last
 * byte; one per line); Hyperscan's pass over 1 GiB of the bench log went from 0.60 to 0.53 s,
 * each near-identical literal having cost it a confirmation per digit run that resembled it.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <hs/hs.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#define FAMILY_MIN 16   /* members a family needs to replace them by their prefix */
#define FAMILY_DIGITS 8 /* a member's digits, at most (their value fits 27 bits) */
#define FAMILY_PREFIX 3 /* a family's prefix, at least (bytes) */

typedef struct {
    uint64_t key; /* digits << 32 | value */
    unsigned int id;
} Member;

typedef struct {
    unsigned int lengths[FAMILY_DIGITS]; /* its members' digit counts, ascending, distinct */
    int length_count;
    Member *members; /* sorted by key */
    Py_ssize_t member_count;
} Family;

typedef struct {
    PyObject_HEAD hs_database_t *db;
    hs_scratch_t *prototype;
    hs_scratch_t **spare; /* scratch spaces not in use (one is needed per scanning thread) */
    Py_ssize_t spare_count, spare_room;
    PyThread_type_lock lock; /* (spare) */
    unsigned int first_marker, count;
    unsigned int first_position; /* ids [first_position, first_marker): position literals */
    Py_ssize_t *position_sizes;  /* their lengths (a match's start: its end minus the length) */
    int compiled; /* 1: compiled here; 0: loaded from the stored database */
    Py_ssize_t *owner_start; /* owners of id: owner_items[owner_start[id], owner_start[id + 1]) */
    Py_ssize_t *owner_items;
    Py_ssize_t index_room; /* above every owner's index (scan_lines' index tables) */
    Family *families; /* Hyperscan id count + k: the prefix of families[k] */
    unsigned int family_count;
} Literals;

typedef struct {
    unsigned int id;
    unsigned long long offset;
} Candidate;

typedef struct {
    int64_t *items;
    Py_ssize_t size, room;
} Offsets;

typedef struct {
    const char *b;
    unsigned long long n; /* the block's length */
    unsigned int count;   /* literals given: Hyperscan ids from here on are families' prefixes */
    const Family *families;
    unsigned int family_count;
    unsigned int first_position;
    const Py_ssize_t *position_sizes;
    Offsets *positions; /* per position literal */
    unsigned long long last; /* offset of the last match (its line's literals are in stamp) */
    uint32_t *stamp;         /* literal id -> the line number (gen) it was last kept on */
    uint32_t gen;
    unsigned int first_marker;
    Candidate *items;
    Py_ssize_t size, room;
    unsigned int *markers;
    Py_ssize_t marker_count, marker_room;
    int failed;
} Found;

/* Keep literal `id` ending at `offset` (its last byte) unless it is on its line already; `at`:
 * where its line is told from, on the same line, never below the `at` before it (Hyperscan
 * reports matches by their end). 1: out of memory (the scan stops). */
static int keep(Found *f, unsigned int id, unsigned long long at, unsigned long long offset) {
    if (at < f->last || memchr(f->b + f->last, '\n', (size_t)(at - f->last)) != NULL)
        f->gen++; /* another line: its literals are new */
    f->last = at;
    if (f->stamp[id] == f->gen) return 0; /* this literal is on the line already */
    f->stamp[id] = f->gen;
    if (f->size == f->room) {
        Py_ssize_t room = f->room ? 2 * f->room : 256;
        Candidate *grown = realloc(f->items, (size_t)room * sizeof *grown);
        if (grown == NULL) {
            f->failed = 1;
            return 1; /* stop the scan */
        }
        f->items = grown;
        f->room = room;
    }
    f->items[f->size++] = (Candidate){id, offset};
    return 0;
}

static const Member *member_of(const Family *family, uint64_t key) {
    Py_ssize_t low = 0, high = family->member_count;
    while (low < high) {
        Py_ssize_t middle = low + (high - low) / 2;
        uint64_t here = family->members[middle].key;
        if (here == key) return &family->members[middle];
        if (here < key)
            low = middle + 1;
        else
            high = middle;
    }
    return NULL;
}

/* A family's prefix ends at `to`: its members whose digits follow, kept as their own literals
 * would have been (their line told from the prefix's last byte: no digit is a newline). */
static int on_family(Found *f, const Family *family, unsigned long long to) {
    const unsigned char *digits = (const unsigned char *)f->b + to;
    unsigned long long left = f->n - to;
    uint64_t value = 0;
    unsigned int read = 0;
    for (int k = 0; k < family->length_count; k++) {
        unsigned int wanted = family->lengths[k];
        if (wanted > left) return 0;
        for (; read < wanted; read++) {
            unsigned int digit = (unsigned int)digits[read] - '0';
            if (digit > 9) return 0; /* (longer members need this one to be a digit too) */
            value = value * 10 + digit;
        }
        const Member *member = member_of(family, (uint64_t)wanted << 32 | value);
        if (member != NULL && keep(f, member->id, to - 1, to - 1 + wanted)) return 1;
    }
    return 0;
}

static int on_match(unsigned int id, unsigned long long from, unsigned long long to,
                    unsigned int flags, void *context) {
    Found *f = context;
    (void)from;
    (void)flags;
    if (id >= f->count) { /* a family's prefix */
        if (id - f->count >= f->family_count) return 0;
        return on_family(f, &f->families[id - f->count], to);
    }
    if (id >= f->first_marker) { /* once per block (HS_FLAG_SINGLEMATCH) */
        if (f->marker_count < f->marker_room) f->markers[f->marker_count++] = id - f->first_marker;
        return 0;
    }
    if (id >= f->first_position) { /* every occurrence, by its start */
        Offsets *o = &f->positions[id - f->first_position];
        if (o->size == o->room) {
            Py_ssize_t room = o->room ? 2 * o->room : 256;
            int64_t *grown = realloc(o->items, (size_t)room * sizeof *grown);
            if (grown == NULL) {
                f->failed = 1;
                return 1;
            }
            o->items = grown;
            o->room = room;
        }
        o->items[o->size++] = (int64_t)to - (int64_t)f->position_sizes[id - f->first_position];
        return 0;
    }
    return keep(f, id, to - 1, to - 1);
}

typedef struct {
    const char *text;
    size_t prefix, digits; /* the prefix's length; the digits after it */
    unsigned int id;
} Entry;

static int by_prefix_then_id(const void *a, const void *b) {
    const Entry *x = a, *y = b;
    if (x->prefix != y->prefix) return x->prefix < y->prefix ? -1 : 1;
    int order = memcmp(x->text, y->text, x->prefix);
    if (order != 0) return order;
    return x->id < y->id ? -1 : x->id > y->id;
}

static int by_key(const void *a, const void *b) {
    const Member *x = a, *y = b;
    return x->key < y->key ? -1 : x->key > y->key;
}

/* The families (see the module's docstring) of literals [0, first) with flags 0: sets
 * self->families, self->family_count, member[id] = 1 for each literal a family stands for, and
 * prefixes[k] (pointing into the literal's text), prefix_sizes[k] for family k (room for
 * `first` of each). 0, or -1 when memory ran out. */
static int make_families(Literals *self, const char **expressions, const size_t *lengths,
                         const unsigned int *flags, unsigned int first, char *member,
                         const char **prefixes, size_t *prefix_sizes) {
    Entry *entries = malloc((first ? first : 1) * sizeof *entries);
    self->families = malloc((first ? first : 1) * sizeof *self->families);
    if (entries == NULL || self->families == NULL) {
        free(entries);
        return -1;
    }
    size_t count = 0;
    for (unsigned int id = 0; id < first; id++) {
        size_t size = lengths[id], digits = 0;
        while (digits < size && digits <= FAMILY_DIGITS &&
               (unsigned char)(expressions[id][size - 1 - digits] - '0') <= 9)
            digits++;
        if (flags[id] != 0 || digits == 0 || digits > FAMILY_DIGITS ||
            size - digits < FAMILY_PREFIX)
            continue;
        entries[count++] = (Entry){expressions[id], size - digits, digits, id};
    }
    qsort(entries, count, sizeof *entries, by_prefix_then_id);
    int failed = 0;
    for (size_t start = 0, end; start < count && !failed; start = end) {
        for (end = start + 1; end < count && entries[end].prefix == entries[start].prefix &&
                              memcmp(entries[end].text, entries[start].text,
                                     entries[start].prefix) == 0;
             end++)
            ;
        if (end - start < FAMILY_MIN) continue;
        Family *family = &self->families[self->family_count];
        family->members = malloc((end - start) * sizeof *family->members);
        if (family->members == NULL) {
            failed = 1;
            break;
        }
        family->member_count = (Py_ssize_t)(end - start);
        family->length_count = 0;
        for (size_t k = start; k < end; k++) {
            uint64_t value = 0;
            for (size_t d = 0; d < entries[k].digits; d++)
                value = value * 10 + (uint64_t)(entries[k].text[entries[k].prefix + d] - '0');
            family->members[k - start] = (Member){(uint64_t)entries[k].digits << 32 | value,
                                                  entries[k].id};
            member[entries[k].id] = 1;
        }
        qsort(family->members, (size_t)family->member_count, sizeof(Member), by_key);
        for (Py_ssize_t k = 0; k < family->member_count; k++) { /* keys start with the count */
            unsigned int digits = (unsigned int)(family->members[k].key >> 32);
            if (!family->length_count || family->lengths[family->length_count - 1] != digits)
                family->lengths[family->length_count++] = digits;
        }
        prefixes[self->family_count] = entries[start].text;
        prefix_sizes[self->family_count] = entries[start].prefix;
        self->family_count++;
    }
    free(entries);
    return failed ? -1 : 0;
}

static void literals_dealloc(Literals *self) {
    if (self->db != NULL) hs_free_database(self->db);
    if (self->prototype != NULL) hs_free_scratch(self->prototype);
    for (Py_ssize_t i = 0; i < self->spare_count; i++) hs_free_scratch(self->spare[i]);
    free(self->spare);
    free(self->owner_start);
    free(self->owner_items);
    free(self->position_sizes);
    for (unsigned int k = 0; k < self->family_count; k++) free(self->families[k].members);
    free(self->families);
    if (self->lock != NULL) PyThread_free_lock(self->lock);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int literals_init(Literals *self, PyObject *args, PyObject *kwargs) {
    PyObject *literals, *flags, *owners, *stored = Py_None, *position_arg = Py_None;
    unsigned int first_marker, first_position;
    if (!PyArg_ParseTuple(args, "O!O!IO!|OO", &PyTuple_Type, &literals, &PyTuple_Type, &flags,
                          &first_marker, &PyTuple_Type, &owners, &stored, &position_arg))
        return -1;
    if (position_arg == Py_None) {
        first_position = first_marker;
    } else {
        unsigned long value = PyLong_AsUnsignedLong(position_arg);
        if (PyErr_Occurred()) return -1;
        if (value > first_marker) {
            PyErr_SetString(PyExc_ValueError, "Literals: first_position <= first_marker");
            return -1;
        }
        first_position = (unsigned int)value;
    }
    if (stored != Py_None && !PyBytes_Check(stored)) {
        PyErr_SetString(PyExc_TypeError, "Literals: stored is bytes or None");
        return -1;
    }
    if (self->db != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Literals: already made");
        return -1;
    }
    Py_ssize_t count = PyTuple_GET_SIZE(literals);
    if (count == 0 || count > INT_MAX || PyTuple_GET_SIZE(flags) != count ||
        first_marker > (unsigned int)count ||
        PyTuple_GET_SIZE(owners) != (Py_ssize_t)first_position) {
        PyErr_SetString(PyExc_ValueError,
                        "Literals: one flag per literal, an owners tuple per literal before "
                        "first_position (else first_marker), at least one literal");
        return -1;
    }
    const char **expressions = malloc((size_t)count * sizeof *expressions);
    size_t *lengths = malloc((size_t)count * sizeof *lengths);
    unsigned int *hs_flags = malloc((size_t)count * sizeof *hs_flags);
    unsigned int *ids = malloc((size_t)count * sizeof *ids);
    self->owner_start = malloc((size_t)(first_position + 1) * sizeof(Py_ssize_t));
    self->position_sizes =
        malloc((size_t)(first_marker - first_position + 1) * sizeof(Py_ssize_t));
    int failed = expressions == NULL || lengths == NULL || hs_flags == NULL || ids == NULL ||
                 self->owner_start == NULL || self->position_sizes == NULL;
    Py_ssize_t owned = 0;
    for (Py_ssize_t i = 0; i < count && !failed; i++) {
        PyObject *literal = PyTuple_GET_ITEM(literals, i), *flag = PyTuple_GET_ITEM(flags, i);
        if (!PyBytes_Check(literal) || PyBytes_GET_SIZE(literal) == 0 || !PyLong_Check(flag)) {
            PyErr_SetString(PyExc_TypeError, "Literals: non-empty bytes and int flags");
            failed = 1;
            break;
        }
        expressions[i] = PyBytes_AS_STRING(literal);
        lengths[i] = (size_t)PyBytes_GET_SIZE(literal);
        hs_flags[i] = (unsigned int)PyLong_AsUnsignedLong(flag);
        ids[i] = (unsigned int)i;
        if (PyErr_Occurred()) failed = 1;
        if (i >= (Py_ssize_t)first_position && i < (Py_ssize_t)first_marker)
            self->position_sizes[i - first_position] = PyBytes_GET_SIZE(literal);
        if (i < (Py_ssize_t)first_position) {
            PyObject *own = PyTuple_GET_ITEM(owners, i);
            if (!PyTuple_Check(own)) {
                PyErr_SetString(PyExc_TypeError, "Literals: owners holds tuples of ints");
                failed = 1;
                break;
            }
            owned += PyTuple_GET_SIZE(own);
        }
    }
    if (!failed) {
        self->owner_items = malloc((size_t)(owned ? owned : 1) * sizeof(Py_ssize_t));
        failed = self->owner_items == NULL;
        if (failed) PyErr_NoMemory();
    }
    Py_ssize_t at = 0;
    for (unsigned int i = 0; i < first_position && !failed; i++) {
        PyObject *own = PyTuple_GET_ITEM(owners, i);
        self->owner_start[i] = at;
        for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(own); k++) {
            Py_ssize_t index = PyLong_AsSsize_t(PyTuple_GET_ITEM(own, k));
            if (index < 0) {
                if (!PyErr_Occurred())
                    PyErr_SetString(PyExc_ValueError, "Literals: owners are indexes >= 0");
                failed = 1;
                break;
            }
            self->owner_items[at++] = index;
            if (index >= self->index_room) self->index_room = index + 1;
        }
    }
    if (!failed) self->owner_start[first_position] = at;
    hs_error_t status = HS_SUCCESS;
    hs_compile_error_t *error = NULL;
    if (!failed) {
        const char *blob = stored != Py_None ? PyBytes_AS_STRING(stored) : NULL;
        size_t blob_size = stored != Py_None ? (size_t)PyBytes_GET_SIZE(stored) : 0;
        /* what Hyperscan is given: the literals no family stands for, then the families'
         * prefixes (the first literals' rooms suffice: a family stands for 16 or more) */
        char *member = calloc((size_t)count, 1);
        const char **given = malloc((size_t)count * sizeof *given);
        size_t *given_lengths = malloc((size_t)count * sizeof *given_lengths);
        unsigned int *given_flags = malloc((size_t)count * sizeof *given_flags);
        unsigned int *given_ids = malloc((size_t)count * sizeof *given_ids);
        unsigned int given_count = 0;
        if (member == NULL || given == NULL || given_lengths == NULL || given_flags == NULL ||
            given_ids == NULL ||
            make_families(self, expressions, lengths, hs_flags, first_position, member, given,
                          given_lengths) != 0) {
            status = HS_NOMEM;
        } else {
            /* prefixes first, in the rooms make_families filled; then the rest after them */
            for (unsigned int k = 0; k < self->family_count; k++) {
                given_flags[k] = 0;
                given_ids[k] = (unsigned int)count + k;
            }
            given_count = self->family_count;
            for (Py_ssize_t i = 0; i < count; i++) {
                if (member[i]) continue;
                given[given_count] = expressions[i];
                given_lengths[given_count] = lengths[i];
                given_flags[given_count] = hs_flags[i];
                given_ids[given_count++] = ids[i];
            }
            Py_BEGIN_ALLOW_THREADS
            status = HS_INVALID;
            if (blob != NULL) { /* a database serialised by another process: used if it loads */
                status = hs_deserialize_database(blob, blob_size, &self->db);
                if (status != HS_SUCCESS) self->db = NULL;
            }
            if (status != HS_SUCCESS) {
                self->compiled = 1;
                status = hs_compile_lit_multi(given, given_flags, given_ids, given_lengths,
                                              given_count, HS_MODE_BLOCK, NULL, &self->db,
                                              &error);
            }
            if (status == HS_SUCCESS) status = hs_alloc_scratch(self->db, &self->prototype);
            Py_END_ALLOW_THREADS
        }
        free(member);
        free(given);
        free(given_lengths);
        free(given_flags);
        free(given_ids);
        if (status == HS_NOMEM) {
            PyErr_NoMemory();
            failed = 1;
        } else if (status != HS_SUCCESS) {
            PyErr_Format(PyExc_RuntimeError, "Literals: Hyperscan refused the literals: %s",
                         error != NULL ? error->message : "no scratch space");
            failed = 1;
        }
        if (error != NULL) hs_free_compile_error(error);
    }
    free(expressions);
    free(lengths);
    free(hs_flags);
    free(ids);
    if (!failed && (self->lock = PyThread_allocate_lock()) == NULL) {
        PyErr_NoMemory();
        failed = 1;
    }
    if (failed && !PyErr_Occurred()) PyErr_NoMemory();
    self->first_marker = first_marker;
    self->first_position = first_position;
    self->count = (unsigned int)count;
    return failed ? -1 : 0;
}

/* a scratch space for this scan: a spare one, else a clone (NULL when memory ran out) */
static hs_scratch_t *take_scratch(Literals *self) {
    hs_scratch_t *scratch = NULL;
    PyThread_acquire_lock(self->lock, WAIT_LOCK);
    if (self->spare_count) scratch = self->spare[--self->spare_count];
    PyThread_release_lock(self->lock);
    if (scratch == NULL && hs_clone_scratch(self->prototype, &scratch) != HS_SUCCESS) return NULL;
    return scratch;
}

static void give_scratch(Literals *self, hs_scratch_t *scratch) {
    PyThread_acquire_lock(self->lock, WAIT_LOCK);
    if (self->spare_count == self->spare_room) {
        Py_ssize_t room = self->spare_room ? 2 * self->spare_room : 4;
        hs_scratch_t **grown = realloc(self->spare, (size_t)room * sizeof *grown);
        if (grown != NULL) {
            self->spare = grown;
            self->spare_room = room;
        }
    }
    if (self->spare_count < self->spare_room) {
        self->spare[self->spare_count++] = scratch;
        scratch = NULL;
    }
    PyThread_release_lock(self->lock);
    if (scratch != NULL) hs_free_scratch(scratch);
}


/* ------------------------------------------------------------------ candidate lines */

typedef struct {
    Py_ssize_t start, end, index; /* a candidate's line, and its signature index */
} Placed;

typedef struct {
    Py_ssize_t start, end;                /* a line kept */
    Py_ssize_t chosen_first, chosen_count; /* its signatures: picked[first, first + count) */
    Py_ssize_t other_first, other_count;   /* its extra literals: put[first, first + count) */
} Kept;

static int by_line_then_index(const void *x, const void *y) {
    const Placed *a = x, *b = y;
    if (a->start != b->start) return a->start < b->start ? -1 : 1;
    return (a->index > b->index) - (a->index < b->index);
}

typedef struct {
    const char *text;
    Py_ssize_t size;
} Piece;

typedef struct {
    Py_ssize_t first, count; /* its pieces: pieces[first, first + count) */
} GatePattern;

typedef struct {
    Py_ssize_t first, count; /* its patterns: patterns[first, first + count); -1: no gate */
} Gate;

typedef struct {
    Piece *pieces;
    Py_ssize_t piece_count, piece_room;
    GatePattern *patterns;
    Py_ssize_t pattern_count, pattern_room;
} GateTable;

static int table_grow(void **items, Py_ssize_t *room, Py_ssize_t wanted, size_t size) {
    if (wanted <= *room) return 0;
    Py_ssize_t grown_room = *room ? *room : 64;
    while (grown_room < wanted) grown_room *= 2;
    void *grown = realloc(*items, (size_t)grown_room * size);
    if (grown == NULL) return -1;
    *items = grown;
    *room = grown_room;
    return 0;
}

/* Read a gate (a tuple of tuples of bytes, as engine's RawGate) into the table: its first
 * pattern and pattern count; -1 with TypeError or MemoryError. The bytes stay owned by the
 * gate, which the caller keeps a reference to while the table is read. */
static int read_gate(PyObject *gate, GateTable *t, Gate *out) {
    if (!PyTuple_Check(gate)) goto wrong;
    Py_ssize_t patterns = PyTuple_GET_SIZE(gate);
    if (table_grow((void **)&t->patterns, &t->pattern_room, t->pattern_count + patterns,
                   sizeof(GatePattern)))
        goto no_memory;
    out->first = t->pattern_count;
    out->count = patterns;
    for (Py_ssize_t p = 0; p < patterns; p++) {
        PyObject *pieces = PyTuple_GET_ITEM(gate, p);
        if (!PyTuple_Check(pieces)) goto wrong;
        Py_ssize_t count = PyTuple_GET_SIZE(pieces);
        if (table_grow((void **)&t->pieces, &t->piece_room, t->piece_count + count,
                       sizeof(Piece)))
            goto no_memory;
        t->patterns[t->pattern_count++] = (GatePattern){t->piece_count, count};
        for (Py_ssize_t k = 0; k < count; k++) {
            PyObject *piece = PyTuple_GET_ITEM(pieces, k);
            if (!PyBytes_Check(piece)) goto wrong;
            t->pieces[t->piece_count++] =
                (Piece){PyBytes_AS_STRING(piece), PyBytes_GET_SIZE(piece)};
        }
    }
    return 0;
wrong:
    PyErr_SetString(PyExc_TypeError, "Literals.scan_lines: a gate is a tuple of tuples of bytes");
    return -1;
no_memory:
    PyErr_NoMemory();
    return -1;
}

/* Whether b[start:end] holds every piece of one of the gate's patterns (required.passes) */
static int gate_passes(const GateTable *t, const Gate *gate, const char *b, Py_ssize_t start,
                       Py_ssize_t end) {
    for (Py_ssize_t p = gate->first; p < gate->first + gate->count; p++) {
        const GatePattern *pattern = &t->patterns[p];
        Py_ssize_t k;
        for (k = pattern->first; k < pattern->first + pattern->count; k++) {
            const Piece *piece = &t->pieces[k];
            if (piece->size > end - start) break;
            if (piece->size && memmem(b + start, (size_t)(end - start), piece->text,
                                      (size_t)piece->size) == NULL)
                break;
        }
        if (k == pattern->first + pattern->count) return 1;
    }
    return gate->count == 0;
}

static PyObject *int_list(const Py_ssize_t *items, Py_ssize_t size) {
    PyObject *list = PyList_New(size);
    if (list == NULL) return NULL;
    for (Py_ssize_t i = 0; i < size; i++) {
        PyObject *item = PyLong_FromSsize_t(items[i]);
        if (item == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, item);
    }
    return list;
}

/* Run the database over view: found filled (the GIL released for Hyperscan's pass); -1 with
 * the exception set (found is freed by found_free either way) */
static int run_scan(Literals *self, Py_buffer *view, Found *found) {
    unsigned int position_count = self->first_marker - self->first_position;
    unsigned int markers = self->count - self->first_marker;
    *found = (Found){.b = view->buf,
                     .n = (unsigned long long)view->len,
                     .count = self->count,
                     .families = self->families,
                     .family_count = self->family_count,
                     .first_position = self->first_position,
                     .position_sizes = self->position_sizes,
                     .gen = 1,
                     .first_marker = self->first_marker,
                     .marker_room = markers};
    found->positions = calloc(position_count ? position_count : 1, sizeof(Offsets));
    found->stamp = calloc(self->first_marker ? self->first_marker : 1, sizeof(uint32_t));
    found->markers = malloc((markers ? markers : 1) * sizeof(unsigned int));
    hs_scratch_t *scratch =
        found->stamp != NULL && found->markers != NULL && found->positions != NULL
            ? take_scratch(self)
            : NULL;
    if (scratch == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    hs_error_t status;
    Py_BEGIN_ALLOW_THREADS
    status = hs_scan(self->db, view->buf, (unsigned int)view->len, 0, scratch, on_match, found);
    Py_END_ALLOW_THREADS
    give_scratch(self, scratch);
    if (found->failed) {
        PyErr_NoMemory();
        return -1;
    }
    if (status != HS_SUCCESS) {
        PyErr_Format(PyExc_RuntimeError, "Literals.scan: Hyperscan error %d", (int)status);
        return -1;
    }
    return 0;
}

static void found_free(Literals *self, Found *found) {
    unsigned int position_count = self->first_marker - self->first_position;
    if (found->positions != NULL)
        for (unsigned int i = 0; i < position_count; i++) free(found->positions[i].items);
    free(found->positions);
    free(found->stamp);
    free(found->items);
    free(found->markers);
}

/* The marker numbers found, in order of their first match */
static PyObject *markers_of(const Found *found) {
    PyObject *seen = PyList_New(found->marker_count);
    if (seen == NULL) return NULL;
    for (Py_ssize_t i = 0; i < found->marker_count; i++) {
        PyObject *number = PyLong_FromUnsignedLong(found->markers[i]);
        if (number == NULL) {
            Py_DECREF(seen);
            return NULL;
        }
        PyList_SET_ITEM(seen, i, number);
    }
    return seen;
}

/* Per position literal, the start offsets of its occurrences (bytes of native int64) */
static PyObject *positions_of(Literals *self, const Found *found) {
    unsigned int position_count = self->first_marker - self->first_position;
    PyObject *positions = PyTuple_New(position_count);
    if (positions == NULL) return NULL;
    for (unsigned int i = 0; i < position_count; i++) {
        Offsets *o = &found->positions[i];
        PyObject *offsets = PyBytes_FromStringAndSize((const char *)o->items,
                                                      o->size * (Py_ssize_t)sizeof(int64_t));
        if (offsets == NULL) {
            Py_DECREF(positions);
            return NULL;
        }
        PyTuple_SET_ITEM(positions, i, offsets);
    }
    return positions;
}

static int check_block(Literals *self, Py_buffer *view) {
    if ((size_t)view->len > UINT_MAX) {
        PyErr_SetString(PyExc_ValueError, "Literals.scan: a block of at most 4 GiB");
        return -1;
    }
    return 0;
}

static PyObject *literals_scan(Literals *self, PyObject *args) {
    Py_buffer view;
    if (self->db == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Literals: not made");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "y*", &view)) return NULL;
    if (check_block(self, &view) < 0) {
        PyBuffer_Release(&view);
        return NULL;
    }
    Found found;
    PyObject *result = NULL, *candidates = NULL, *seen = NULL, *positions = NULL;
    if (run_scan(self, &view, &found) < 0) goto done;
    Py_ssize_t total = 0;
    for (Py_ssize_t i = 0; i < found.size; i++)
        total += self->owner_start[found.items[i].id + 1] - self->owner_start[found.items[i].id];
    candidates = PyList_New(total);
    if (candidates == NULL) goto done;
    Py_ssize_t k = 0;
    for (Py_ssize_t i = 0; i < found.size; i++) {
        Candidate *c = &found.items[i];
        for (Py_ssize_t o = self->owner_start[c->id]; o < self->owner_start[c->id + 1]; o++) {
            PyObject *pair = Py_BuildValue("(nK)", self->owner_items[o], c->offset);
            if (pair == NULL) goto done;
            PyList_SET_ITEM(candidates, k++, pair);
        }
    }
    seen = markers_of(&found);
    positions = seen != NULL ? positions_of(self, &found) : NULL;
    if (positions != NULL) result = PyTuple_Pack(3, candidates, seen, positions);
done:
    Py_XDECREF(candidates);
    Py_XDECREF(seen);
    Py_XDECREF(positions);
    found_free(self, &found);
    PyBuffer_Release(&view);
    return result;
}

/* scan_lines(block, gate, gates, first_extra) -> (starts, ends, kept, extra, markers, positions)
 * scan's candidates grouped by line as app._native.locate_lines groups them (engine.locate),
 * without making a Python object per candidate: the line of each, the sort and the gates'
 * tests run with the GIL released. gate: None (no gate) or a callable index -> RawGate, asked
 * once per index, its answer kept in the list gates (None: not asked yet); first_extra: -1
 * (none) or the first index of a tally's extra literals (never gated). */
static PyObject *literals_scan_lines(Literals *self, PyObject *args) {
    Py_buffer view;
    PyObject *gate, *gates;
    Py_ssize_t first_extra;
    if (self->db == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Literals: not made");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "y*OO!n", &view, &gate, &PyList_Type, &gates, &first_extra))
        return NULL;
    if (check_block(self, &view) < 0) {
        PyBuffer_Release(&view);
        return NULL;
    }
    Found found;
    Placed *placed = NULL;
    Py_ssize_t count = 0, distinct = 0; /* candidates placed; distinct gated indexes */
    Py_ssize_t *indexes = NULL, *slot = NULL; /* distinct gated indexes; index -> its slot */
    PyObject **held = NULL;                   /* the gates read, one reference each */
    Gate *read = NULL;
    GateTable table = {0};
    PyObject *result = NULL, *starts = NULL, *ends = NULL, *kept = NULL, *extra = NULL;
    PyObject *seen = NULL, *positions = NULL;
    if (run_scan(self, &view, &found) < 0) goto done;
    const char *b = view.buf;
    Py_ssize_t n = view.len, total = 0;
    for (Py_ssize_t i = 0; i < found.size; i++)
        total += self->owner_start[found.items[i].id + 1] - self->owner_start[found.items[i].id];
    Py_ssize_t index_room = self->index_room ? self->index_room : 1;
    placed = malloc((size_t)(total ? total : 1) * sizeof(Placed));
    slot = malloc((size_t)index_room * sizeof(Py_ssize_t));
    indexes = malloc((size_t)index_room * sizeof(Py_ssize_t));
    if (!placed || !slot || !indexes) {
        PyErr_NoMemory();
        goto done;
    }
    int ordered = 1;
    Py_BEGIN_ALLOW_THREADS
    Py_ssize_t line_start = 0, line_end = -1;
    for (Py_ssize_t i = 0; i < found.size; i++) {
        Candidate *c = &found.items[i];
        Py_ssize_t offset = (Py_ssize_t)c->offset;
        if (!(line_start <= offset && offset <= line_end)) {
            const char *before = memrchr(b, '\n', (size_t)offset);
            const char *after = memchr(b + offset, '\n', (size_t)(n - offset));
            line_start = before ? before - b + 1 : 0;
            line_end = after ? after - b : n;
        }
        for (Py_ssize_t o = self->owner_start[c->id]; o < self->owner_start[c->id + 1]; o++) {
            Placed *here = &placed[count];
            *here = (Placed){line_start, line_end, self->owner_items[o]};
            if (count && (here[-1].start > line_start ||
                          (here[-1].start == line_start && here[-1].index > here->index)))
                ordered = 0;
            count++;
        }
    }
    if (!ordered) qsort(placed, (size_t)count, sizeof *placed, by_line_then_index);
    /* the distinct gated indexes, each once */
    for (Py_ssize_t i = 0; i < index_room; i++) slot[i] = -1;
    for (Py_ssize_t i = 0; i < count; i++) {
        Py_ssize_t index = placed[i].index;
        if (gate == Py_None || (first_extra >= 0 && index >= first_extra)) continue;
        if (slot[index] < 0) {
            slot[index] = distinct;
            indexes[distinct++] = index;
        }
    }
    Py_END_ALLOW_THREADS
    /* their gates, read (asked for when not yet known) with the GIL */
    held = calloc((size_t)(distinct ? distinct : 1), sizeof(PyObject *));
    read = malloc((size_t)(distinct ? distinct : 1) * sizeof(Gate));
    if (held == NULL || read == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t d = 0; d < distinct; d++) {
        Py_ssize_t index = indexes[d];
        if (index >= PyList_GET_SIZE(gates)) {
            PyErr_SetString(PyExc_IndexError, "Literals.scan_lines: no gate slot for an index");
            goto done;
        }
        PyObject *pieces = PyList_GET_ITEM(gates, index);
        if (pieces == Py_None) {
            pieces = PyObject_CallFunction(gate, "n", index);
            if (pieces == NULL) goto done;
            if (index < PyList_GET_SIZE(gates) && PyList_GET_ITEM(gates, index) == Py_None)
                PyList_SetItem(gates, index, Py_NewRef(pieces)); /* (steals the new one) */
        } else {
            Py_INCREF(pieces);
        }
        held[d] = pieces; /* kept alive here whatever another thread puts in the slot */
        if (read_gate(pieces, &table, &read[d]) < 0) goto done;
    }
    /* the lines and what each keeps, the gates tested without the GIL */
    Kept *out = malloc((size_t)(count ? count : 1) * sizeof(Kept));
    Py_ssize_t *picked = malloc((size_t)(count ? count : 1) * sizeof(Py_ssize_t));
    Py_ssize_t *put = malloc((size_t)(count ? count : 1) * sizeof(Py_ssize_t));
    Py_ssize_t out_count = 0, picked_count = 0, put_count = 0;
    int no_memory = !out || !picked || !put;
    if (!no_memory) {
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t i = 0; i < count;) {
            Py_ssize_t start = placed[i].start, end = placed[i].end, last = -1;
            Kept line = {start, end, picked_count, 0, put_count, 0};
            for (; i < count && placed[i].start == start; i++) {
                Py_ssize_t index = placed[i].index;
                if (index == last) continue; /* (sorted: a repeat is next to its first) */
                last = index;
                if (first_extra >= 0 && index >= first_extra)
                    put[put_count++] = index;
                else if (gate == Py_None || gate_passes(&table, &read[slot[index]], b, start, end))
                    picked[picked_count++] = index;
            }
            line.chosen_count = picked_count - line.chosen_first;
            line.other_count = put_count - line.other_first;
            if (line.chosen_count || line.other_count) out[out_count++] = line;
        }
        Py_END_ALLOW_THREADS
        starts = PyList_New(out_count);
        ends = starts ? PyList_New(out_count) : NULL;
        kept = ends ? PyList_New(out_count) : NULL;
        extra = kept ? PyList_New(out_count) : NULL;
        for (Py_ssize_t k = 0; extra != NULL && k < out_count; k++) {
            const Kept *line = &out[k];
            PyObject *start = PyLong_FromSsize_t(line->start);
            PyObject *end = start ? PyLong_FromSsize_t(line->end) : NULL;
            PyObject *mine = end ? int_list(picked + line->chosen_first, line->chosen_count) : NULL;
            PyObject *theirs = mine ? int_list(put + line->other_first, line->other_count) : NULL;
            if (theirs == NULL) {
                Py_XDECREF(start);
                Py_XDECREF(end);
                Py_XDECREF(mine);
                Py_CLEAR(extra);
                break;
            }
            PyList_SET_ITEM(starts, k, start);
            PyList_SET_ITEM(ends, k, end);
            PyList_SET_ITEM(kept, k, mine);
            PyList_SET_ITEM(extra, k, theirs);
        }
    }
    free(out);
    free(picked);
    free(put);
    if (no_memory) {
        PyErr_NoMemory();
        goto done;
    }
    if (extra == NULL) goto done;
    seen = markers_of(&found);
    positions = seen != NULL ? positions_of(self, &found) : NULL;
    if (positions != NULL) result = PyTuple_Pack(6, starts, ends, kept, extra, seen, positions);
done:
    if (held != NULL)
        for (Py_ssize_t d = 0; d < distinct; d++) Py_XDECREF(held[d]);
    free(held);
    free(read);
    free(table.pieces);
    free(table.patterns);
    free(placed);
    free(slot);
    free(indexes);
    Py_XDECREF(starts);
    Py_XDECREF(ends);
    Py_XDECREF(kept);
    Py_XDECREF(extra);
    Py_XDECREF(seen);
    Py_XDECREF(positions);
    found_free(self, &found);
    PyBuffer_Release(&view);
    return result;
}

static PyObject *literals_serialized(Literals *self, PyObject *args) {
    if (self->db == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Literals: not made");
        return NULL;
    }
    char *bytes = NULL;
    size_t size = 0;
    if (hs_serialize_database(self->db, &bytes, &size) != HS_SUCCESS) return PyErr_NoMemory();
    PyObject *result = PyBytes_FromStringAndSize(bytes, (Py_ssize_t)size);
    free(bytes);
    return result;
}

static PyObject *literals_compiled(Literals *self, void *closure) {
    return PyBool_FromLong(self->compiled);
}

static PyObject *literals_families(Literals *self, void *closure) {
    return PyLong_FromUnsignedLong(self->family_count);
}

static PyGetSetDef literals_getset[] = {
    {"compiled", (getter)literals_compiled, NULL,
     "True when compiled here, False when loaded from the stored database", NULL},
    {"families", (getter)literals_families, NULL,
     "how many families of literals Hyperscan finds by their prefix (see the docstring)", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef literals_methods[] = {
    {"scan", (PyCFunction)literals_scan, METH_VARARGS,
     "scan(block) -> (candidates, markers, positions): [(signature index, offset)], marker "
     "numbers, each position literal's offsets"},
    {"scan_lines", (PyCFunction)literals_scan_lines, METH_VARARGS,
     "scan_lines(block, gate, gates, first_extra) -> (starts, ends, kept, extra, markers, "
     "positions): scan's candidates grouped by line as app._native.locate_lines does"},
    {"serialized", (PyCFunction)literals_serialized, METH_NOARGS,
     "serialized() -> bytes: the database, for Literals(..., stored) in another process"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject LiteralsType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "app._hsscan.Literals",
    .tp_basicsize = sizeof(Literals),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Literals(literals, flags, first_marker, owners, stored=None, first_position=None):"
              " see the module's docstring",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)literals_init,
    .tp_dealloc = (destructor)literals_dealloc,
    .tp_methods = literals_methods,
    .tp_getset = literals_getset,
};

static PyObject *version(PyObject *self, PyObject *args) {
    return PyUnicode_FromString(hs_version());
}

static PyMethodDef methods[] = {
    {"version", version, METH_NOARGS, "version() -> the Hyperscan build this module links"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "app._hsscan",
    "The signature literals' Hyperscan pass with no Python call per match (see _hsscan.c).",
    -1, methods,
};

PyMODINIT_FUNC PyInit__hsscan(void) {
    if (hs_valid_platform() != HS_SUCCESS) {
        PyErr_SetString(PyExc_ImportError, "app._hsscan: this CPU lacks what Hyperscan needs");
        return NULL;
    }
    if (PyType_Ready(&LiteralsType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    Py_INCREF(&LiteralsType);
    if (PyModule_AddObject(m, "Literals", (PyObject *)&LiteralsType) < 0) {
        Py_DECREF(&LiteralsType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
