/* torch.save (.pt) checkpoint reader: zip archive -> safe pickle VM -> tensors.
 * See include/tickinfer/torch_pt.h and docs/checkpoints.md. */
#include "tickinfer/torch_pt.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/pickle.h"
#include "formats/zip_reader.h"
#include "tickinfer/alloc.h"
#include "tickinfer/fileio.h"

#define MAX_PATH_LEN 4096
#define MAX_SCALARS 10000
#define MAX_PICKLE_BYTES ((uint64_t)256 << 20)
#define DEFAULT_MAX_BYTES ((uint64_t)16 << 30)

struct ti_pt {
    char *label;
    ti_pt_tensor *t;
    size_t n, cap;
    size_t *by_name; /* indices of t sorted by name */
    ti_pt_scalar *sc;
    size_t n_sc, cap_sc;
    char *selected;
    uint64_t params;
};

typedef struct storage_slot {
    const uint8_t *data;
    size_t len;
    uint8_t *owned; /* inflated copy of a DEFLATE entry */
    int loaded;
} storage_slot;

typedef struct loader {
    ti_pt *pt;
    ti_zip zip;
    char prefix[256]; /* archive folder, e.g. "best" ("" if entries have none) */
    storage_slot *stor; /* one per zip entry, filled on first use */
    uint64_t max_bytes, used_bytes;
    size_t visits, max_visits;
    char path[MAX_PATH_LEN];
} loader;

static ti_err pt_fail(const ti_pt *pt, ti_err code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static ti_err pt_fail(const ti_pt *pt, ti_err code, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ti_errorf(code, "torch_pt %s: %s", pt->label, msg);
}

void ti_pt_close(ti_pt *pt)
{
    if (!pt) return;
    for (size_t i = 0; i < pt->n; i++) {
        free((char *)(uintptr_t)pt->t[i].orig_name);
        free((char *)(uintptr_t)pt->t[i].storage_key);
        free((char *)(uintptr_t)pt->t[i].location);
        ti_free_aligned((void *)(uintptr_t)pt->t[i].data);
    }
    for (size_t i = 0; i < pt->n_sc; i++) free((char *)(uintptr_t)pt->sc[i].name);
    free(pt->t);
    free(pt->by_name);
    free(pt->sc);
    free(pt->selected);
    free(pt->label);
    free(pt);
}

/* ---- storages ------------------------------------------------------------------- */
static ti_err get_storage(loader *L, const ti_pk_value *st, const char *tname, const storage_slot **out)
{
    char entry[512];
    snprintf(entry, sizeof entry, "%s%sdata/%s", L->prefix, *L->prefix ? "/" : "", st->s);
    const ti_zip_entry *e = ti_zip_find(&L->zip, entry);
    if (!e)
        return pt_fail(L->pt, TI_ERR_FORMAT, "tensor '%s': storage entry '%s' is missing from the archive", tname, entry);
    storage_slot *s = &L->stor[e - L->zip.entries];
    if (!s->loaded) {
        ti_err err = ti_zip_read(&L->zip, e, L->max_bytes, &s->data, &s->len, &s->owned);
        if (err) return ti_error_wrap(err, "torch_pt %s: tensor '%s'", L->pt->label, tname);
        s->loaded = 1;
    }
    *out = s;
    return TI_OK;
}

/* dst[numel] (row-major) <- src viewed with shape/stride from element `offset`. */
static void gather(uint8_t *dst, const uint8_t *src, size_t esz, int ndim, const int64_t *shape,
                   const int64_t *stride, int64_t offset, uint64_t numel)
{
    int contiguous = 1;
    int64_t expect = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        if (shape[d] != 1 && stride[d] != expect) contiguous = 0;
        expect *= shape[d];
    }
    if (contiguous) {
        memcpy(dst, src + (size_t)offset * esz, (size_t)numel * esz);
        return;
    }
    /* Odometer over all but the last dim; the last dim is a strided row copy. */
    int64_t idx[TI_ST_MAX_DIMS] = {0};
    int64_t rows = (int64_t)(numel / (uint64_t)shape[ndim - 1]);
    int64_t n_last = shape[ndim - 1], s_last = stride[ndim - 1];
    int64_t base = offset;
    for (int64_t r = 0; r < rows; r++) {
        const uint8_t *s = src + (size_t)base * esz;
        for (int64_t j = 0; j < n_last; j++) {
            memcpy(dst, s + (size_t)(j * s_last) * esz, esz);
            dst += esz;
        }
        for (int d = ndim - 2; d >= 0; d--) {
            base += stride[d];
            if (++idx[d] < shape[d]) break;
            base -= stride[d] * shape[d];
            idx[d] = 0;
        }
    }
}

static ti_err add_tensor(loader *L, const ti_pk_value *v)
{
    ti_pt *pt = L->pt;
    const char *name = L->path;
    if (pt->n >= TI_PT_MAX_TENSORS) return pt_fail(pt, TI_ERR_LIMIT, "more than %d tensors", TI_PT_MAX_TENSORS);
    const ti_pk_value *st = v->storage;
    size_t esz = ti_st_dtype_size(v->dtype);
    const storage_slot *slot = NULL;
    ti_err err = get_storage(L, st, name, &slot);
    if (err) return err;
    uint64_t st_bytes;
    if (__builtin_mul_overflow((uint64_t)st->numel, (uint64_t)esz, &st_bytes) || st_bytes > slot->len)
        return pt_fail(pt, TI_ERR_CORRUPT, "tensor '%s': storage '%s' has %zu bytes but is declared as %" PRId64 " %s elements",
                       name, st->s, slot->len, st->numel, ti_st_dtype_name(v->dtype));
    uint64_t numel = 1, last = (uint64_t)v->storage_offset;
    int overflow = 0;
    for (int d = 0; d < v->ndim; d++) overflow |= __builtin_mul_overflow(numel, (uint64_t)v->shape[d], &numel);
    if (numel) {
        for (int d = 0; d < v->ndim; d++) {
            uint64_t span;
            overflow |= __builtin_mul_overflow((uint64_t)(v->shape[d] - 1), (uint64_t)v->stride[d], &span);
            overflow |= __builtin_add_overflow(last, span, &last);
        }
        if (overflow || last >= (uint64_t)st->numel)
            return pt_fail(pt, TI_ERR_FORMAT,
                           "tensor '%s': view (offset %" PRId64 ", %d dims) reaches element %" PRIu64
                           " of a %" PRId64 "-element storage '%s'",
                           name, v->storage_offset, v->ndim, last, st->numel, st->s);
    }
    uint64_t nbytes;
    if (overflow || __builtin_mul_overflow(numel, (uint64_t)esz, &nbytes) || nbytes > L->max_bytes - L->used_bytes)
        return pt_fail(pt, TI_ERR_LIMIT, "tensor '%s': materialising it exceeds the %" PRIu64 "-byte limit", name,
                       L->max_bytes);
    if (pt->n == pt->cap) {
        size_t cap = pt->cap ? pt->cap * 2 : 32;
        ti_pt_tensor *t = realloc(pt->t, cap * sizeof *t);
        if (!t) return pt_fail(pt, TI_ERR_NOMEM, "out of memory");
        pt->t = t;
        pt->cap = cap;
    }
    ti_pt_tensor *t = &pt->t[pt->n];
    memset(t, 0, sizeof *t);
    pt->n++; /* counted now so that close() frees whatever was allocated */
    t->orig_name = strdup(name);
    t->storage_key = strdup(st->s);
    t->location = strdup(st->location);
    if (!t->orig_name || !t->storage_key || !t->location) return pt_fail(pt, TI_ERR_NOMEM, "out of memory");
    t->name = t->orig_name;
    t->dtype = v->dtype;
    t->ndim = v->ndim;
    memcpy(t->shape, v->shape, sizeof t->shape);
    memcpy(t->stride, v->stride, sizeof t->stride);
    t->storage_offset = v->storage_offset;
    t->numel = numel;
    t->nbytes = (size_t)nbytes;
    if (numel) {
        void *data = ti_malloc_aligned((size_t)nbytes, 64);
        if (!data) return pt_fail(pt, TI_ERR_NOMEM, "tensor '%s': out of memory (%" PRIu64 " bytes)", name, nbytes);
        if (v->ndim == 0) memcpy(data, slot->data + (size_t)v->storage_offset * esz, esz);
        else gather(data, slot->data, esz, v->ndim, v->shape, v->stride, v->storage_offset, numel);
        t->data = data;
    }
    L->used_bytes += nbytes;
    pt->params += numel;
    return TI_OK;
}

static ti_err add_scalar(loader *L, const ti_pk_value *v)
{
    ti_pt *pt = L->pt;
    if (pt->n_sc >= MAX_SCALARS) return TI_OK; /* informational only; keep the first ones */
    if (pt->n_sc == pt->cap_sc) {
        size_t cap = pt->cap_sc ? pt->cap_sc * 2 : 8;
        ti_pt_scalar *s = realloc(pt->sc, cap * sizeof *s);
        if (!s) return pt_fail(pt, TI_ERR_NOMEM, "out of memory");
        pt->sc = s;
        pt->cap_sc = cap;
    }
    ti_pt_scalar *s = &pt->sc[pt->n_sc];
    s->name = strdup(L->path);
    if (!s->name) return pt_fail(pt, TI_ERR_NOMEM, "out of memory");
    s->is_int = v->kind != TI_PK_FLOAT;
    s->value = v->kind == TI_PK_FLOAT ? v->f : (double)v->i;
    pt->n_sc++;
    return TI_OK;
}

/* ---- walking the object --------------------------------------------------------- */
enum { WALK_TENSORS, WALK_SCALARS };

static ti_err walk(loader *L, const ti_pk_value *v, size_t plen, int depth, int mode);

/* Appends ".seg" (or "seg" at the root) to L->path, walks `v`, restores the path. */
static ti_err walk_child(loader *L, const char *seg, size_t seg_len, const ti_pk_value *v, size_t plen, int depth,
                         int mode)
{
    size_t need = plen + (plen ? 1 : 0) + seg_len;
    if (need >= MAX_PATH_LEN) return pt_fail(L->pt, TI_ERR_LIMIT, "key path longer than %d bytes", MAX_PATH_LEN);
    if (memchr(seg, '\0', seg_len)) return pt_fail(L->pt, TI_ERR_FORMAT, "a key under '%s' contains a NUL byte", L->path);
    if (plen) L->path[plen] = '.';
    memcpy(L->path + need - seg_len, seg, seg_len);
    L->path[need] = '\0';
    ti_err err = walk(L, v, need, depth + 1, mode);
    L->path[plen] = '\0';
    return err;
}

static ti_err walk(loader *L, const ti_pk_value *v, size_t plen, int depth, int mode)
{
    if (++L->visits > L->max_visits)
        return pt_fail(L->pt, TI_ERR_LIMIT, "object graph too large to walk (shared sub-objects?)");
    if (depth > TI_PT_MAX_DEPTH)
        return pt_fail(L->pt, TI_ERR_LIMIT, "'%s' is nested deeper than %d levels (cyclic?)", L->path, TI_PT_MAX_DEPTH);
    char num[32];
    ti_err err = TI_OK;
    switch (v->kind) {
    case TI_PK_TENSOR:
        return mode == WALK_TENSORS ? add_tensor(L, v) : TI_OK;
    case TI_PK_INT:
    case TI_PK_BOOL:
    case TI_PK_FLOAT:
        return mode == WALK_SCALARS && plen ? add_scalar(L, v) : TI_OK;
    case TI_PK_DICT:
        for (size_t i = 0; i < v->n && !err; i++) {
            const ti_pk_value *k = v->items[2 * i];
            if (k->kind == TI_PK_STR) {
                err = walk_child(L, k->s, k->len, v->items[2 * i + 1], plen, depth, mode);
            } else if (k->kind == TI_PK_INT) {
                int n = snprintf(num, sizeof num, "%" PRId64, k->i);
                err = walk_child(L, num, (size_t)n, v->items[2 * i + 1], plen, depth, mode);
            } /* other key types cannot name a tensor: skipped */
        }
        return err;
    case TI_PK_LIST:
    case TI_PK_TUPLE:
        for (size_t i = 0; i < v->n && !err; i++) {
            int n = snprintf(num, sizeof num, "%zu", i);
            err = walk_child(L, num, (size_t)n, v->items[i], plen, depth, mode);
        }
        return err;
    default:
        return TI_OK; /* None, strings, storages, globals: not data we export */
    }
}

static int holds_tensors(const ti_pk_value *d)
{
    if (d->kind != TI_PK_DICT) return 0;
    for (size_t i = 0; i < d->n; i++)
        if (d->items[2 * i + 1]->kind == TI_PK_TENSOR) return 1;
    return 0;
}

/* "a, b, c" (first few string keys of a dict) into buf. */
static const char *key_list(const ti_pk_value *d, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; d->kind == TI_PK_DICT && i < d->n && n + 1 < cap; i++) {
        const ti_pk_value *k = d->items[2 * i];
        if (k->kind != TI_PK_STR) continue;
        int w = snprintf(buf + n, cap - n, "%s'%.48s' (%s)", n ? ", " : "", k->s,
                         ti_pk_kind_name(d->items[2 * i + 1]->kind));
        if (w < 0 || (size_t)w >= cap - n) break;
        n += (size_t)w;
    }
    return n ? buf : "(none)";
}

static ti_err select_state_dict(loader *L, const ti_pk_value *root, const char *key, const ti_pk_value **out)
{
    ti_pt *pt = L->pt;
    char keys[512];
    if (root->kind != TI_PK_DICT)
        return pt_fail(pt, TI_ERR_FORMAT, "the saved object is a %s, expected a dict (state_dict or checkpoint)",
                       ti_pk_kind_name(root->kind));
    const ti_pk_value *sel = NULL;
    char *selected = NULL;
    if (key && *key) {
        sel = root;
        char part[256];
        for (const char *p = key; *p;) {
            size_t n = strcspn(p, "/");
            if (n >= sizeof part) return pt_fail(pt, TI_ERR_INVALID_ARG, "key part too long in '%s'", key);
            memcpy(part, p, n);
            part[n] = '\0';
            const ti_pk_value *next = ti_pk_dict_get(sel, part);
            if (!next)
                return pt_fail(pt, TI_ERR_NOT_FOUND, "key '%s' not found; keys there: %s", part,
                               key_list(sel, keys, sizeof keys));
            sel = next;
            p += n;
            if (*p == '/') p++;
        }
        selected = strdup(key);
    } else if (!key && !holds_tensors(root)) {
        size_t found = 0;
        const char *which = NULL;
        for (size_t i = 0; i < root->n; i++)
            if (holds_tensors(root->items[2 * i + 1]) && root->items[2 * i]->kind == TI_PK_STR) {
                found++;
                sel = root->items[2 * i + 1];
                which = root->items[2 * i]->s;
            }
        if (found != 1)
            return pt_fail(pt, TI_ERR_FORMAT, "%s; pick one with a key. Top-level keys: %s",
                           found ? "several entries hold tensors" : "no state dict of tensors found",
                           key_list(root, keys, sizeof keys));
        selected = strdup(which);
    } else {
        sel = root;
        selected = strdup("");
    }
    if (!selected) return pt_fail(pt, TI_ERR_NOMEM, "out of memory");
    pt->selected = selected;
    if (sel->kind != TI_PK_DICT)
        return pt_fail(pt, TI_ERR_FORMAT, "key '%s' holds a %s, not a state dict", selected, ti_pk_kind_name(sel->kind));
    *out = sel;
    return TI_OK;
}

/* ---- name index ----------------------------------------------------------------- */
static int cmp_tname(const void *a, const void *b, void *ctx)
{
    const ti_pt_tensor *t = ctx;
    return strcmp(t[*(const size_t *)a].name, t[*(const size_t *)b].name);
}

static ti_err index_names(ti_pt *pt)
{
    size_t *idx = malloc((pt->n ? pt->n : 1) * sizeof *idx);
    if (!idx) return pt_fail(pt, TI_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < pt->n; i++) idx[i] = i;
    qsort_r(idx, pt->n, sizeof *idx, cmp_tname, pt->t);
    for (size_t i = 0; i + 1 < pt->n; i++)
        if (strcmp(pt->t[idx[i]].name, pt->t[idx[i + 1]].name) == 0) {
            ti_err err = pt_fail(pt, TI_ERR_FORMAT, "two tensors are named '%s' ('%s' and '%s')", pt->t[idx[i]].name,
                                 pt->t[idx[i]].orig_name, pt->t[idx[i + 1]].orig_name);
            free(idx);
            return err;
        }
    free(pt->by_name);
    pt->by_name = idx;
    return TI_OK;
}

ti_err ti_pt_strip_prefix(ti_pt *pt, const char *prefix, size_t *n_stripped)
{
    if (!pt) return ti_errorf(TI_ERR_INVALID_ARG, "torch_pt: NULL argument");
    size_t k = prefix ? strlen(prefix) : 0, n = 0;
    if (n_stripped) *n_stripped = 0;
    if (!k) return TI_OK;
    for (size_t i = 0; i < pt->n; i++)
        if (strncmp(pt->t[i].name, prefix, k) == 0 && pt->t[i].name[k]) {
            pt->t[i].name += k;
            n++;
        }
    if (n_stripped) *n_stripped = n;
    return index_names(pt);
}

/* ---- open ----------------------------------------------------------------------- */
/* Finds "<prefix>/data.pkl" (one folder level) and rejects formats we know we lack. */
static ti_err find_pickle(loader *L, const ti_zip_entry **out)
{
    const ti_zip_entry *pkl = NULL;
    for (size_t i = 0; i < L->zip.n; i++) {
        const char *nm = L->zip.entries[i].name, *slash = strchr(nm, '/');
        if (strcmp(nm, "data.pkl") == 0 || (slash && strcmp(slash + 1, "data.pkl") == 0)) {
            size_t plen = slash ? (size_t)(slash - nm) : 0;
            if (plen >= sizeof L->prefix) continue;
            memcpy(L->prefix, nm, plen);
            L->prefix[plen] = '\0';
            pkl = &L->zip.entries[i];
            break;
        }
    }
    if (!pkl) {
        for (size_t i = 0; i < L->zip.n; i++) {
            const char *s = strstr(L->zip.entries[i].name, "constants.pkl");
            if (s)
                return pt_fail(L->pt, TI_ERR_UNSUPPORTED,
                               "a TorchScript archive (torch.jit.save); save the model's state_dict() with torch.save instead");
        }
        return pt_fail(L->pt, TI_ERR_FORMAT, "zip archive without a '<name>/data.pkl' entry (not a torch.save file)");
    }
    char name[320];
    snprintf(name, sizeof name, "%s%sbyteorder", L->prefix, *L->prefix ? "/" : "");
    const ti_zip_entry *bo = ti_zip_find(&L->zip, name);
    if (bo) {
        const uint8_t *d = NULL;
        size_t n = 0;
        uint8_t *owned = NULL;
        ti_err err = ti_zip_read(&L->zip, bo, 64, &d, &n, &owned);
        if (err) return ti_error_wrap(err, "torch_pt %s", L->pt->label);
        int little = n == 6 && memcmp(d, "little", 6) == 0;
        free(owned);
        if (!little) return pt_fail(L->pt, TI_ERR_UNSUPPORTED, "byte order is not 'little' (big-endian file)");
    }
    *out = pkl;
    return TI_OK;
}

static ti_err load(loader *L, const uint8_t *data, size_t size, const ti_pt_options *opt)
{
    ti_pt *pt = L->pt;
    if (size >= 2 && data[0] == 0x80 && data[1] <= 5)
        return pt_fail(pt, TI_ERR_UNSUPPORTED, "legacy torch.save format (torch < 1.6 or _use_new_zipfile_serialization=False); "
                                               "re-save it with torch >= 1.6");
    if (size >= 262 && memcmp(data + 257, "ustar", 5) == 0)
        return pt_fail(pt, TI_ERR_UNSUPPORTED, "legacy tar-based torch.save format; re-save it with torch >= 1.6");
    if (size < 4 || memcmp(data, "PK", 2) != 0)
        return pt_fail(pt, TI_ERR_FORMAT, "not a torch.save zip archive (no 'PK' signature)");
    ti_err err = ti_zip_open(&L->zip, data, size, pt->label);
    if (err) return err;
    L->stor = calloc(L->zip.n ? L->zip.n : 1, sizeof *L->stor);
    if (!L->stor) return pt_fail(pt, TI_ERR_NOMEM, "out of memory");
    const ti_zip_entry *pkl_entry = NULL;
    if ((err = find_pickle(L, &pkl_entry))) return err;
    const uint8_t *pkl_data = NULL;
    size_t pkl_len = 0;
    uint8_t *pkl_owned = NULL;
    if ((err = ti_zip_read(&L->zip, pkl_entry, MAX_PICKLE_BYTES, &pkl_data, &pkl_len, &pkl_owned)))
        return ti_error_wrap(err, "torch_pt %s", pt->label);
    char label[600];
    snprintf(label, sizeof label, "%.400s:%s", pt->label, pkl_entry->name);
    ti_pickle *pk = NULL;
    err = ti_pickle_load(&pk, pkl_data, pkl_len, label);
    free(pkl_owned);
    if (err) return err;
    const ti_pk_value *sd = NULL;
    L->max_visits = 4 * ti_pickle_node_count(pk) + 64;
    if (!(err = select_state_dict(L, ti_pickle_root(pk), opt ? opt->key : NULL, &sd))) {
        L->path[0] = '\0';
        err = walk(L, sd, 0, 0, WALK_TENSORS);
    }
    if (!err) {
        L->visits = 0;
        L->path[0] = '\0';
        err = walk(L, ti_pickle_root(pk), 0, 0, WALK_SCALARS);
    }
    if (!err) err = index_names(pt);
    if (!err && opt && opt->strip_prefix) err = ti_pt_strip_prefix(pt, opt->strip_prefix, NULL);
    ti_pickle_free(pk);
    return err;
}

ti_err ti_pt_open_memory(ti_pt **out, const void *data, size_t size, const char *label, const ti_pt_options *opt)
{
    if (!out || (!data && size)) return ti_errorf(TI_ERR_INVALID_ARG, "torch_pt: NULL argument");
    *out = NULL;
    ti_pt *pt = calloc(1, sizeof *pt);
    loader *L = calloc(1, sizeof *L);
    if (!pt || !L || !(pt->label = strdup(label ? label : "<memory>"))) {
        free(pt);
        free(L);
        return ti_errorf(TI_ERR_NOMEM, "torch_pt: out of memory");
    }
    L->pt = pt;
    L->max_bytes = opt && opt->max_bytes ? opt->max_bytes : DEFAULT_MAX_BYTES;
    ti_err err = load(L, data, size, opt);
    for (size_t i = 0; L->stor && i < L->zip.n; i++) free(L->stor[i].owned);
    free(L->stor);
    ti_zip_close(&L->zip);
    free(L);
    if (err) {
        ti_pt_close(pt);
        return err;
    }
    *out = pt;
    return TI_OK;
}

ti_err ti_pt_open(ti_pt **out, const char *path, const ti_pt_options *opt)
{
    if (!out || !path) return ti_errorf(TI_ERR_INVALID_ARG, "torch_pt: NULL argument");
    ti_mmap m;
    ti_err err = ti_mmap_open(&m, path);
    if (err) return ti_error_wrap(err, "torch_pt %s", path);
    err = ti_pt_open_memory(out, m.data, m.size, path, opt);
    ti_mmap_close(&m);
    return err;
}

/* ---- accessors ------------------------------------------------------------------ */
size_t ti_pt_count(const ti_pt *pt) { return pt ? pt->n : 0; }
const ti_pt_tensor *ti_pt_at(const ti_pt *pt, size_t i) { return pt && i < pt->n ? &pt->t[i] : NULL; }

const ti_pt_tensor *ti_pt_find(const ti_pt *pt, const char *name)
{
    if (!pt || !name || !pt->by_name) return NULL;
    size_t lo = 0, hi = pt->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(pt->t[pt->by_name[mid]].name, name);
        if (c == 0) return &pt->t[pt->by_name[mid]];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

size_t ti_pt_scalar_count(const ti_pt *pt) { return pt ? pt->n_sc : 0; }
const ti_pt_scalar *ti_pt_scalar_at(const ti_pt *pt, size_t i) { return pt && i < pt->n_sc ? &pt->sc[i] : NULL; }

ti_err ti_pt_get_scalar(const ti_pt *pt, const char *name, double *out)
{
    if (!pt || !name || !out) return ti_errorf(TI_ERR_INVALID_ARG, "torch_pt: NULL argument");
    for (size_t i = 0; i < pt->n_sc; i++)
        if (strcmp(pt->sc[i].name, name) == 0) {
            *out = pt->sc[i].value;
            return TI_OK;
        }
    return pt_fail(pt, TI_ERR_NOT_FOUND, "no scalar named '%s' (%zu scalars)", name, pt->n_sc);
}

const char *ti_pt_selected_key(const ti_pt *pt) { return pt && pt->selected ? pt->selected : ""; }
uint64_t ti_pt_param_count(const ti_pt *pt) { return pt ? pt->params : 0; }

size_t ti_pt_shared_prefix(const ti_pt *pt, char *buf, size_t cap)
{
    if (!pt || !pt->n || !buf || !cap) return 0;
    const char *first = pt->t[0].name;
    size_t lcp = strlen(first);
    for (size_t i = 1; i < pt->n && lcp; i++) {
        size_t k = 0;
        while (k < lcp && pt->t[i].name[k] == first[k]) k++;
        lcp = k;
    }
    while (lcp && first[lcp - 1] != '.') lcp--;
    if (lcp == 0 || lcp >= cap) {
        buf[0] = '\0';
        return 0;
    }
    memcpy(buf, first, lcp);
    buf[lcp] = '\0';
    return lcp;
}

ti_err ti_pt_to_safetensors(ti_st_builder *out, const ti_pt *pt, int floats_to_f32)
{
    if (!out || !pt) return ti_errorf(TI_ERR_INVALID_ARG, "torch_pt: NULL argument");
    for (size_t i = 0; i < pt->n; i++) {
        const ti_pt_tensor *t = &pt->t[i];
        int convert = floats_to_f32 && (t->dtype == TI_ST_F16 || t->dtype == TI_ST_BF16 || t->dtype == TI_ST_F64);
        const void *data = t->data;
        float *tmp = NULL;
        if (convert && t->numel) {
            tmp = malloc((size_t)t->numel * sizeof *tmp);
            if (!tmp) return pt_fail(pt, TI_ERR_NOMEM, "tensor '%s': out of memory", t->name);
            ti_st_to_f32(tmp, t->data, t->dtype, (size_t)t->numel);
            data = tmp;
        }
        ti_err err = ti_st_builder_add(out, t->name, convert ? TI_ST_F32 : t->dtype, t->ndim, t->shape, data);
        free(tmp);
        if (err) return err;
    }
    return TI_OK;
}
