/* Safe pickle subset for torch.save state dicts (see pickle.h).  Opcode semantics follow
 * CPython's Lib/pickletools.py documentation; only data-building opcodes exist here. */
#include "formats/pickle.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ti_pickle {
    char *label;
    ti_pk_value *all; /* every node, linked through next_alloc */
    size_t n_nodes;
    ti_pk_value *root;
};

typedef struct vm {
    ti_pickle *p;
    const uint8_t *d;
    size_t len, pos, op_pos;
    uint8_t op;
    ti_pk_value **stack;
    size_t sp, scap;
    size_t *marks; /* stack heights at each open MARK */
    size_t nmarks, mcap;
    ti_pk_value **memo;
    size_t memo_cap, memo_len;
} vm;

static const struct {
    uint8_t op;
    const char *name;
} k_op_names[] = {
    {'(', "MARK"}, {'.', "STOP"}, {'0', "POP"}, {'1', "POP_MARK"}, {'2', "DUP"}, {'F', "FLOAT"}, {'I', "INT"},
    {'J', "BININT"}, {'K', "BININT1"}, {'L', "LONG"}, {'M', "BININT2"}, {'N', "NONE"}, {'P', "PERSID"},
    {'Q', "BINPERSID"}, {'R', "REDUCE"}, {'S', "STRING"}, {'T', "BINSTRING"}, {'U', "SHORT_BINSTRING"},
    {'V', "UNICODE"}, {'X', "BINUNICODE"}, {'a', "APPEND"}, {'b', "BUILD"}, {'c', "GLOBAL"}, {'d', "DICT"},
    {'}', "EMPTY_DICT"}, {'e', "APPENDS"}, {'g', "GET"}, {'h', "BINGET"}, {'i', "INST"}, {'j', "LONG_BINGET"},
    {'l', "LIST"}, {']', "EMPTY_LIST"}, {'o', "OBJ"}, {'p', "PUT"}, {'q', "BINPUT"}, {'r', "LONG_BINPUT"},
    {'s', "SETITEM"}, {'t', "TUPLE"}, {')', "EMPTY_TUPLE"}, {'u', "SETITEMS"}, {'G', "BINFLOAT"},
    {0x80, "PROTO"}, {0x81, "NEWOBJ"}, {0x82, "EXT1"}, {0x83, "EXT2"}, {0x84, "EXT4"}, {0x85, "TUPLE1"},
    {0x86, "TUPLE2"}, {0x87, "TUPLE3"}, {0x88, "NEWTRUE"}, {0x89, "NEWFALSE"}, {0x8a, "LONG1"}, {0x8b, "LONG4"},
    {'B', "BINBYTES"}, {'C', "SHORT_BINBYTES"}, {0x8c, "SHORT_BINUNICODE"}, {0x8d, "BINUNICODE8"},
    {0x8e, "BINBYTES8"}, {0x8f, "EMPTY_SET"}, {0x90, "ADDITEMS"}, {0x91, "FROZENSET"}, {0x92, "NEWOBJ_EX"},
    {0x93, "STACK_GLOBAL"}, {0x94, "MEMOIZE"}, {0x95, "FRAME"}, {0x96, "BYTEARRAY8"}, {0x97, "NEXT_BUFFER"},
    {0x98, "READONLY_BUFFER"},
};

static const char *op_name(uint8_t op)
{
    for (size_t i = 0; i < sizeof k_op_names / sizeof k_op_names[0]; i++)
        if (k_op_names[i].op == op) return k_op_names[i].name;
    return "unknown";
}

const char *ti_pk_kind_name(ti_pk_kind k)
{
    static const char *names[] = {"None", "bool", "int", "float", "str", "tuple", "list", "dict", "global", "storage",
                                  "tensor"};
    return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "?";
}

static ti_err vm_fail(const vm *m, ti_err code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static ti_err vm_fail(const vm *m, ti_err code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ti_errorf(code, "pickle %s: offset %zu, opcode 0x%02x %s: %s", m->p->label, m->op_pos, m->op,
                     op_name(m->op), msg);
}

/* ---- nodes ---------------------------------------------------------------------- */
static ti_err node(vm *m, ti_pk_kind kind, ti_pk_value **out)
{
    if (m->p->n_nodes >= TI_PK_MAX_NODES)
        return vm_fail(m, TI_ERR_LIMIT, "more than %d objects", TI_PK_MAX_NODES);
    ti_pk_value *v = calloc(1, sizeof *v);
    if (!v) return vm_fail(m, TI_ERR_NOMEM, "out of memory");
    v->kind = kind;
    v->next_alloc = m->p->all;
    m->p->all = v;
    m->p->n_nodes++;
    *out = v;
    return TI_OK;
}

/* Makes room for `extra` more slots in c->items. */
static ti_err reserve(vm *m, ti_pk_value *c, size_t used, size_t extra)
{
    if (used + extra <= c->cap) return TI_OK;
    size_t cap = c->cap ? c->cap * 2 : 4;
    if (cap > (size_t)TI_PK_MAX_NODES * 2) return vm_fail(m, TI_ERR_LIMIT, "container too large");
    ti_pk_value **items = realloc(c->items, cap * sizeof *items);
    if (!items) return vm_fail(m, TI_ERR_NOMEM, "out of memory");
    c->items = items;
    c->cap = cap;
    return TI_OK;
}

/* Appends one item to a TUPLE or LIST. */
static ti_err add_item(vm *m, ti_pk_value *c, ti_pk_value *item)
{
    ti_err err = reserve(m, c, c->n, 1);
    if (err) return err;
    c->items[c->n++] = item;
    return TI_OK;
}

/* Appends a key/value pair to a DICT (items holds them interleaved; n counts pairs).
 * Duplicate keys (legal in pickle: last wins) are left for the reader to resolve. */
static ti_err dict_set(vm *m, ti_pk_value *d, ti_pk_value *k, ti_pk_value *v)
{
    ti_err err = reserve(m, d, 2 * d->n, 2);
    if (err) return err;
    d->items[2 * d->n] = k;
    d->items[2 * d->n + 1] = v;
    d->n++;
    return TI_OK;
}

const ti_pk_value *ti_pk_dict_get(const ti_pk_value *d, const char *key)
{
    if (!d || d->kind != TI_PK_DICT) return NULL;
    const ti_pk_value *found = NULL;
    for (size_t i = 0; i < d->n; i++) {
        const ti_pk_value *k = d->items[2 * i];
        if (k->kind == TI_PK_STR && strlen(k->s) == k->len && strcmp(k->s, key) == 0) found = d->items[2 * i + 1];
    }
    return found; /* last assignment wins, as in Python */
}

/* ---- stack ---------------------------------------------------------------------- */
static ti_err push(vm *m, ti_pk_value *v)
{
    if (m->sp == m->scap) {
        if (m->scap >= TI_PK_MAX_STACK) return vm_fail(m, TI_ERR_LIMIT, "stack deeper than %d", TI_PK_MAX_STACK);
        size_t cap = m->scap ? m->scap * 2 : 64;
        ti_pk_value **s = realloc(m->stack, cap * sizeof *s);
        if (!s) return vm_fail(m, TI_ERR_NOMEM, "out of memory");
        m->stack = s;
        m->scap = cap;
    }
    m->stack[m->sp++] = v;
    return TI_OK;
}

static size_t stack_floor(const vm *m) { return m->nmarks ? m->marks[m->nmarks - 1] : 0; }

static ti_err pop(vm *m, ti_pk_value **out)
{
    if (m->sp <= stack_floor(m)) return vm_fail(m, TI_ERR_FORMAT, "stack underflow");
    *out = m->stack[--m->sp];
    return TI_OK;
}

static ti_err top(vm *m, ti_pk_value **out)
{
    if (m->sp <= stack_floor(m)) return vm_fail(m, TI_ERR_FORMAT, "stack underflow");
    *out = m->stack[m->sp - 1];
    return TI_OK;
}

/* Closes the innermost MARK: items are stack[*start .. sp). */
static ti_err pop_mark(vm *m, size_t *start)
{
    if (!m->nmarks) return vm_fail(m, TI_ERR_FORMAT, "no MARK open");
    *start = m->marks[--m->nmarks];
    return TI_OK;
}

/* ---- input ---------------------------------------------------------------------- */
static ti_err need(vm *m, size_t n)
{
    if (m->len - m->pos < n) return vm_fail(m, TI_ERR_FORMAT, "truncated: needs %zu more bytes", n);
    return TI_OK;
}

static uint64_t rd_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static ti_err memo_put(vm *m, uint64_t idx)
{
    if (idx >= TI_PK_MAX_MEMO) return vm_fail(m, TI_ERR_LIMIT, "memo index %" PRIu64 " over %d", idx, TI_PK_MAX_MEMO);
    ti_pk_value *v = NULL;
    ti_err err = top(m, &v);
    if (err) return err;
    if (idx >= m->memo_cap) {
        size_t cap = m->memo_cap ? m->memo_cap : 64;
        while (cap <= idx) cap *= 2;
        ti_pk_value **mm = realloc(m->memo, cap * sizeof *mm);
        if (!mm) return vm_fail(m, TI_ERR_NOMEM, "out of memory");
        memset(mm + m->memo_cap, 0, (cap - m->memo_cap) * sizeof *mm);
        m->memo = mm;
        m->memo_cap = cap;
    }
    if (!m->memo[idx]) m->memo_len++;
    m->memo[idx] = v;
    return TI_OK;
}

static ti_err memo_get(vm *m, uint64_t idx)
{
    if (idx >= m->memo_cap || !m->memo[idx]) return vm_fail(m, TI_ERR_FORMAT, "memo slot %" PRIu64 " is empty", idx);
    return push(m, m->memo[idx]);
}

static ti_err push_str(vm *m, size_t n)
{
    ti_err err = need(m, n);
    ti_pk_value *v = NULL;
    if (err || (err = node(m, TI_PK_STR, &v))) return err;
    v->s = malloc(n + 1);
    if (!v->s) return vm_fail(m, TI_ERR_NOMEM, "out of memory for a %zu-byte string", n);
    memcpy(v->s, m->d + m->pos, n);
    v->s[n] = '\0';
    v->len = n;
    m->pos += n;
    return push(m, v);
}

static ti_err push_int(vm *m, ti_pk_kind kind, int64_t i)
{
    ti_pk_value *v = NULL;
    ti_err err = node(m, kind, &v);
    if (err) return err;
    v->i = i;
    return push(m, v);
}

/* ---- globals -------------------------------------------------------------------- */
static const struct {
    const char *module, *name;
    ti_pk_global g;
    ti_st_dtype dtype;
} k_globals[] = {
    {"collections", "OrderedDict", TI_PKG_ORDERED_DICT, TI_ST_F32},
    {"torch._utils", "_rebuild_tensor_v2", TI_PKG_REBUILD_TENSOR_V2, TI_ST_F32},
    {"torch._utils", "_rebuild_parameter", TI_PKG_REBUILD_PARAMETER, TI_ST_F32},
    {"torch._utils", "_rebuild_parameter_with_state", TI_PKG_REBUILD_PARAMETER_STATE, TI_ST_F32},
    {"torch", "device", TI_PKG_DEVICE, TI_ST_F32},
    {"torch", "FloatStorage", TI_PKG_STORAGE_TYPE, TI_ST_F32},
    {"torch", "DoubleStorage", TI_PKG_STORAGE_TYPE, TI_ST_F64},
    {"torch", "HalfStorage", TI_PKG_STORAGE_TYPE, TI_ST_F16},
    {"torch", "BFloat16Storage", TI_PKG_STORAGE_TYPE, TI_ST_BF16},
    {"torch", "LongStorage", TI_PKG_STORAGE_TYPE, TI_ST_I64},
    {"torch", "IntStorage", TI_PKG_STORAGE_TYPE, TI_ST_I32},
    {"torch", "ShortStorage", TI_PKG_STORAGE_TYPE, TI_ST_I16},
    {"torch", "CharStorage", TI_PKG_STORAGE_TYPE, TI_ST_I8},
    {"torch", "ByteStorage", TI_PKG_STORAGE_TYPE, TI_ST_U8},
    {"torch", "BoolStorage", TI_PKG_STORAGE_TYPE, TI_ST_BOOL},
};

static ti_err push_global(vm *m, const char *module, size_t mlen, const char *name, size_t nlen)
{
    for (size_t i = 0; i < sizeof k_globals / sizeof k_globals[0]; i++) {
        if (strlen(k_globals[i].module) != mlen || memcmp(k_globals[i].module, module, mlen) != 0) continue;
        if (strlen(k_globals[i].name) != nlen || memcmp(k_globals[i].name, name, nlen) != 0) continue;
        ti_pk_value *v = NULL;
        ti_err err = node(m, TI_PK_GLOBAL, &v);
        if (err) return err;
        v->global = k_globals[i].g;
        v->dtype = k_globals[i].dtype;
        return push(m, v);
    }
    return vm_fail(m, TI_ERR_UNSUPPORTED,
                   "global '%.*s.%.*s' is not allowed (only state-dict types load; nothing is executed)",
                   (int)(mlen > 128 ? 128 : mlen), module, (int)(nlen > 128 ? 128 : nlen), name);
}

/* GLOBAL: "module\nname\n". */
static ti_err op_global(vm *m)
{
    const char *s = (const char *)m->d + m->pos;
    size_t left = m->len - m->pos;
    const char *nl1 = memchr(s, '\n', left < 512 ? left : 512);
    if (!nl1) return vm_fail(m, TI_ERR_FORMAT, "unterminated module name");
    size_t mlen = (size_t)(nl1 - s);
    const char *name = nl1 + 1;
    size_t left2 = left - mlen - 1;
    const char *nl2 = memchr(name, '\n', left2 < 512 ? left2 : 512);
    if (!nl2) return vm_fail(m, TI_ERR_FORMAT, "unterminated global name");
    size_t nlen = (size_t)(nl2 - name);
    m->pos += mlen + nlen + 2;
    return push_global(m, s, mlen, name, nlen);
}

static ti_err op_stack_global(vm *m)
{
    ti_pk_value *name = NULL, *module = NULL;
    ti_err err = pop(m, &name);
    if (err || (err = pop(m, &module))) return err;
    if (name->kind != TI_PK_STR || module->kind != TI_PK_STR)
        return vm_fail(m, TI_ERR_FORMAT, "module and name must be strings");
    return push_global(m, module->s, module->len, name->s, name->len);
}

/* ---- torch reconstruction ------------------------------------------------------- */
static int is_int(const ti_pk_value *v) { return v->kind == TI_PK_INT || v->kind == TI_PK_BOOL; }

/* ('storage', <storage type>, key, location, numel) */
static ti_err op_binpersid(vm *m)
{
    ti_pk_value *pid = NULL, *v = NULL;
    ti_err err = pop(m, &pid);
    if (err) return err;
    if (pid->kind != TI_PK_TUPLE || pid->n != 5 || pid->items[0]->kind != TI_PK_STR ||
        strcmp(pid->items[0]->s, "storage") != 0)
        return vm_fail(m, TI_ERR_UNSUPPORTED, "persistent id is not ('storage', type, key, location, numel)");
    const ti_pk_value *type = pid->items[1], *key = pid->items[2], *loc = pid->items[3], *numel = pid->items[4];
    if (type->kind != TI_PK_GLOBAL || type->global != TI_PKG_STORAGE_TYPE)
        return vm_fail(m, TI_ERR_UNSUPPORTED, "persistent id storage type is not a known torch.*Storage");
    if (key->kind != TI_PK_STR || key->len == 0 || key->len > 128 || strlen(key->s) != key->len ||
        strchr(key->s, '/'))
        return vm_fail(m, TI_ERR_FORMAT, "storage key must be a short name");
    if (loc->kind != TI_PK_STR) return vm_fail(m, TI_ERR_FORMAT, "storage location must be a string");
    if (numel->kind != TI_PK_INT || numel->i < 0 || numel->i > ((int64_t)1 << 50))
        return vm_fail(m, TI_ERR_FORMAT, "storage size %" PRId64 " out of range", numel->i);
    if ((err = node(m, TI_PK_STORAGE, &v))) return err;
    v->dtype = type->dtype;
    v->s = strdup(key->s);
    v->location = strdup(loc->s);
    if (!v->s || !v->location) return vm_fail(m, TI_ERR_NOMEM, "out of memory");
    v->len = key->len;
    v->numel = numel->i;
    return push(m, v);
}

static ti_err int_tuple(vm *m, const ti_pk_value *t, int64_t *out, int *n, const char *what)
{
    if (t->kind != TI_PK_TUPLE) return vm_fail(m, TI_ERR_FORMAT, "tensor %s is a %s, not a tuple", what, ti_pk_kind_name(t->kind));
    if (t->n > TI_ST_MAX_DIMS) return vm_fail(m, TI_ERR_LIMIT, "tensor has %zu dims, at most %d", t->n, TI_ST_MAX_DIMS);
    for (size_t i = 0; i < t->n; i++) {
        if (t->items[i]->kind != TI_PK_INT || t->items[i]->i < 0)
            return vm_fail(m, TI_ERR_FORMAT, "tensor %s[%zu] is not a non-negative int", what, i);
        out[i] = t->items[i]->i;
    }
    *n = (int)t->n;
    return TI_OK;
}

/* _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]) */
static ti_err rebuild_tensor(vm *m, const ti_pk_value *args, ti_pk_value **out)
{
    if (args->n != 6 && args->n != 7)
        return vm_fail(m, TI_ERR_FORMAT, "_rebuild_tensor_v2 takes 6 or 7 arguments, got %zu", args->n);
    const ti_pk_value *st = args->items[0], *off = args->items[1];
    if (st->kind != TI_PK_STORAGE) return vm_fail(m, TI_ERR_FORMAT, "_rebuild_tensor_v2 argument 0 is not a storage");
    if (off->kind != TI_PK_INT || off->i < 0) return vm_fail(m, TI_ERR_FORMAT, "storage offset is not a non-negative int");
    ti_pk_value *t = NULL;
    ti_err err = node(m, TI_PK_TENSOR, &t);
    if (err) return err;
    int nd_stride = 0;
    if ((err = int_tuple(m, args->items[2], t->shape, &t->ndim, "size")) ||
        (err = int_tuple(m, args->items[3], t->stride, &nd_stride, "stride")))
        return err;
    if (nd_stride != t->ndim)
        return vm_fail(m, TI_ERR_FORMAT, "tensor size has %d dims but stride has %d", t->ndim, nd_stride);
    t->storage = (ti_pk_value *)(uintptr_t)st;
    t->storage_offset = off->i;
    t->dtype = st->dtype;
    *out = t;
    return TI_OK;
}

static ti_err op_reduce(vm *m)
{
    ti_pk_value *args = NULL, *fn = NULL, *res = NULL;
    ti_err err = pop(m, &args);
    if (err || (err = pop(m, &fn))) return err;
    if (fn->kind != TI_PK_GLOBAL) return vm_fail(m, TI_ERR_UNSUPPORTED, "REDUCE calls a %s", ti_pk_kind_name(fn->kind));
    if (args->kind != TI_PK_TUPLE) return vm_fail(m, TI_ERR_FORMAT, "REDUCE arguments are not a tuple");
    switch (fn->global) {
    case TI_PKG_ORDERED_DICT:
        if (args->n != 0) return vm_fail(m, TI_ERR_UNSUPPORTED, "OrderedDict with constructor arguments");
        if ((err = node(m, TI_PK_DICT, &res))) return err;
        break;
    case TI_PKG_REBUILD_TENSOR_V2:
        if ((err = rebuild_tensor(m, args, &res))) return err;
        break;
    case TI_PKG_REBUILD_PARAMETER:
    case TI_PKG_REBUILD_PARAMETER_STATE:
        /* (data, requires_grad, backward_hooks[, state]): the parameter is its data. */
        if (args->n < 3 || args->n > 4 || args->items[0]->kind != TI_PK_TENSOR)
            return vm_fail(m, TI_ERR_FORMAT, "_rebuild_parameter expects (tensor, requires_grad, hooks[, state])");
        res = args->items[0];
        break;
    case TI_PKG_DEVICE: {
        /* torch.device("cuda:0") or torch.device("cuda", 0) -> the string "cuda:0" */
        if (args->n < 1 || args->n > 2 || args->items[0]->kind != TI_PK_STR || (args->n == 2 && !is_int(args->items[1])))
            return vm_fail(m, TI_ERR_FORMAT, "torch.device expects (type[, index])");
        char buf[160];
        int k = args->n == 2 ? snprintf(buf, sizeof buf, "%.128s:%" PRId64, args->items[0]->s, args->items[1]->i)
                             : snprintf(buf, sizeof buf, "%.128s", args->items[0]->s);
        if ((err = node(m, TI_PK_STR, &res))) return err;
        res->s = strdup(buf);
        if (!res->s) return vm_fail(m, TI_ERR_NOMEM, "out of memory");
        res->len = (size_t)k < sizeof buf ? (size_t)k : sizeof buf - 1;
        break;
    }
    case TI_PKG_STORAGE_TYPE:
        return vm_fail(m, TI_ERR_UNSUPPORTED, "calling a storage type");
    }
    return push(m, res);
}

/* ---- containers ----------------------------------------------------------------- */
static ti_err make_seq(vm *m, ti_pk_kind kind, size_t start)
{
    ti_pk_value *v = NULL;
    ti_err err = node(m, kind, &v);
    for (size_t i = start; !err && i < m->sp; i++) err = add_item(m, v, m->stack[i]);
    if (err) return err;
    m->sp = start;
    return push(m, v);
}

static ti_err op_tuple_n(vm *m, size_t n)
{
    if (m->sp - stack_floor(m) < n) return vm_fail(m, TI_ERR_FORMAT, "stack underflow");
    return make_seq(m, TI_PK_TUPLE, m->sp - n);
}

/* The container just below a closed MARK (or below the top `start` items). */
static ti_err target_below(vm *m, size_t start, ti_pk_kind kind, ti_pk_value **out)
{
    if (start == 0 || start - 1 < stack_floor(m)) return vm_fail(m, TI_ERR_FORMAT, "stack underflow");
    *out = m->stack[start - 1];
    if ((*out)->kind != kind)
        return vm_fail(m, TI_ERR_FORMAT, "target is a %s, not a %s", ti_pk_kind_name((*out)->kind), ti_pk_kind_name(kind));
    return TI_OK;
}

static ti_err op_setitems(vm *m, size_t start)
{
    if ((m->sp - start) % 2) return vm_fail(m, TI_ERR_FORMAT, "odd number of items for a dict");
    ti_pk_value *d = NULL;
    ti_err err = target_below(m, start, TI_PK_DICT, &d);
    if (err) return err;
    for (size_t i = start; i + 1 < m->sp; i += 2)
        if ((err = dict_set(m, d, m->stack[i], m->stack[i + 1]))) return err;
    m->sp = start;
    return TI_OK;
}

static ti_err op_appends(vm *m, size_t start)
{
    ti_pk_value *l = NULL;
    ti_err err = target_below(m, start, TI_PK_LIST, &l);
    for (size_t i = start; !err && i < m->sp; i++) err = add_item(m, l, m->stack[i]);
    if (err) return err;
    m->sp = start;
    return TI_OK;
}

/* BUILD sets an object's state.  Dicts (OrderedDict's _metadata attribute) and tensors
 * carry nothing we need in it, so the state is dropped. */
static ti_err op_build(vm *m)
{
    ti_pk_value *state = NULL, *obj = NULL;
    ti_err err = pop(m, &state);
    if (err || (err = top(m, &obj))) return err;
    if (obj->kind != TI_PK_DICT && obj->kind != TI_PK_TENSOR)
        return vm_fail(m, TI_ERR_UNSUPPORTED, "BUILD on a %s", ti_pk_kind_name(obj->kind));
    return TI_OK;
}

static ti_err step(vm *m, int *stop)
{
    m->op_pos = m->pos;
    m->op = m->d[m->pos++];
    ti_err err = TI_OK;
    ti_pk_value *v = NULL, *k = NULL;
    size_t start = 0;
    switch (m->op) {
    case 0x80: /* PROTO */
        if ((err = need(m, 1))) return err;
        if (m->d[m->pos] > 5) return vm_fail(m, TI_ERR_UNSUPPORTED, "protocol %u", m->d[m->pos]);
        m->pos++;
        return TI_OK;
    case 0x95: /* FRAME: a size hint */
        if ((err = need(m, 8))) return err;
        m->pos += 8;
        return TI_OK;
    case '.': /* STOP */
        if ((err = pop(m, &v))) return err;
        m->p->root = v;
        *stop = 1;
        return TI_OK;
    case '(':
        if (m->nmarks == m->mcap) {
            if (m->mcap >= TI_PK_MAX_MARKS) return vm_fail(m, TI_ERR_LIMIT, "more than %d nested MARKs", TI_PK_MAX_MARKS);
            size_t cap = m->mcap ? m->mcap * 2 : 32;
            size_t *mk = realloc(m->marks, cap * sizeof *mk);
            if (!mk) return vm_fail(m, TI_ERR_NOMEM, "out of memory");
            m->marks = mk;
            m->mcap = cap;
        }
        m->marks[m->nmarks++] = m->sp;
        return TI_OK;
    case '}':
        if ((err = node(m, TI_PK_DICT, &v))) return err;
        return push(m, v);
    case ']':
        if ((err = node(m, TI_PK_LIST, &v))) return err;
        return push(m, v);
    case ')':
        if ((err = node(m, TI_PK_TUPLE, &v))) return err;
        return push(m, v);
    case 'N':
        if ((err = node(m, TI_PK_NONE, &v))) return err;
        return push(m, v);
    case 0x88: /* NEWTRUE */
    case 0x89: /* NEWFALSE */
        return push_int(m, TI_PK_BOOL, m->op == 0x88);
    case 'd': /* DICT from the marked key/value items */
        if ((err = pop_mark(m, &start))) return err;
        if ((m->sp - start) % 2) return vm_fail(m, TI_ERR_FORMAT, "odd number of items for a dict");
        if ((err = node(m, TI_PK_DICT, &v))) return err;
        for (size_t i = start; i + 1 < m->sp; i += 2)
            if ((err = dict_set(m, v, m->stack[i], m->stack[i + 1]))) return err;
        m->sp = start;
        return push(m, v);
    case 'l':
        if ((err = pop_mark(m, &start))) return err;
        return make_seq(m, TI_PK_LIST, start);
    case 't':
        if ((err = pop_mark(m, &start))) return err;
        return make_seq(m, TI_PK_TUPLE, start);
    case 0x85:
    case 0x86:
    case 0x87:
        return op_tuple_n(m, (size_t)(m->op - 0x84));
    case 'a': /* APPEND */
        if ((err = pop(m, &v))) return err;
        if ((err = top(m, &k))) return err;
        if (k->kind != TI_PK_LIST) return vm_fail(m, TI_ERR_FORMAT, "APPEND to a %s", ti_pk_kind_name(k->kind));
        return add_item(m, k, v);
    case 'e':
        if ((err = pop_mark(m, &start))) return err;
        return op_appends(m, start);
    case 's': /* SETITEM */
        if (m->sp - stack_floor(m) < 3) return vm_fail(m, TI_ERR_FORMAT, "stack underflow");
        return op_setitems(m, m->sp - 2);
    case 'u':
        if ((err = pop_mark(m, &start))) return err;
        return op_setitems(m, start);
    case 'X':
        if ((err = need(m, 4))) return err;
        m->pos += 4;
        return push_str(m, (size_t)rd_le(m->d + m->pos - 4, 4));
    case 0x8c: /* SHORT_BINUNICODE */
        if ((err = need(m, 1))) return err;
        m->pos += 1;
        return push_str(m, m->d[m->pos - 1]);
    case 0x8d: { /* BINUNICODE8 */
        if ((err = need(m, 8))) return err;
        uint64_t n = rd_le(m->d + m->pos, 8);
        m->pos += 8;
        if (n > m->len - m->pos) return vm_fail(m, TI_ERR_FORMAT, "truncated: string of %" PRIu64 " bytes", n);
        return push_str(m, (size_t)n);
    }
    case 'J':
        if ((err = need(m, 4))) return err;
        m->pos += 4;
        return push_int(m, TI_PK_INT, (int32_t)(uint32_t)rd_le(m->d + m->pos - 4, 4));
    case 'K':
        if ((err = need(m, 1))) return err;
        m->pos += 1;
        return push_int(m, TI_PK_INT, m->d[m->pos - 1]);
    case 'M':
        if ((err = need(m, 2))) return err;
        m->pos += 2;
        return push_int(m, TI_PK_INT, (int64_t)rd_le(m->d + m->pos - 2, 2));
    case 0x8a: { /* LONG1: n-byte little-endian two's complement */
        if ((err = need(m, 1))) return err;
        size_t n = m->d[m->pos++];
        if (n > 8) return vm_fail(m, TI_ERR_UNSUPPORTED, "integer of %zu bytes (more than 64 bits)", n);
        if ((err = need(m, n))) return err;
        uint64_t u = n ? rd_le(m->d + m->pos, (int)n) : 0;
        if (n && n < 8 && (m->d[m->pos + n - 1] & 0x80)) u |= ~(uint64_t)0 << (8 * n); /* sign-extend */
        m->pos += n;
        return push_int(m, TI_PK_INT, (int64_t)u);
    }
    case 'G': { /* BINFLOAT: big-endian IEEE double */
        if ((err = need(m, 8))) return err;
        uint64_t u = 0;
        for (int i = 0; i < 8; i++) u = (u << 8) | m->d[m->pos + (size_t)i];
        m->pos += 8;
        if ((err = node(m, TI_PK_FLOAT, &v))) return err;
        memcpy(&v->f, &u, 8);
        return push(m, v);
    }
    case 'q':
        if ((err = need(m, 1))) return err;
        return memo_put(m, m->d[m->pos++]);
    case 'r':
        if ((err = need(m, 4))) return err;
        m->pos += 4;
        return memo_put(m, rd_le(m->d + m->pos - 4, 4));
    case 0x94: /* MEMOIZE */
        return memo_put(m, m->memo_len);
    case 'h':
        if ((err = need(m, 1))) return err;
        return memo_get(m, m->d[m->pos++]);
    case 'j':
        if ((err = need(m, 4))) return err;
        m->pos += 4;
        return memo_get(m, rd_le(m->d + m->pos - 4, 4));
    case 'c':
        return op_global(m);
    case 0x93:
        return op_stack_global(m);
    case 'R':
        return op_reduce(m);
    case 'Q':
        return op_binpersid(m);
    case 'b':
        return op_build(m);
    default:
        return vm_fail(m, TI_ERR_UNSUPPORTED, "opcode not supported by the state-dict loader");
    }
}

void ti_pickle_free(ti_pickle *p)
{
    if (!p) return;
    for (ti_pk_value *v = p->all, *next; v; v = next) {
        next = v->next_alloc;
        free(v->s);
        free(v->items);
        free(v->location);
        free(v);
    }
    free(p->label);
    free(p);
}

ti_err ti_pickle_load(ti_pickle **out, const uint8_t *data, size_t len, const char *label)
{
    *out = NULL;
    ti_pickle *p = calloc(1, sizeof *p);
    if (!p || !(p->label = strdup(label ? label : "<memory>"))) {
        free(p);
        return ti_errorf(TI_ERR_NOMEM, "pickle: out of memory");
    }
    vm m = {.p = p, .d = data, .len = len};
    ti_err err = TI_OK;
    int stop = 0;
    while (!err && !stop) {
        if (m.pos >= m.len) {
            err = ti_errorf(TI_ERR_FORMAT, "pickle %s: ends at byte %zu without STOP (truncated)", p->label, m.len);
            break;
        }
        err = step(&m, &stop);
    }
    free(m.stack);
    free(m.marks);
    free(m.memo);
    if (err) {
        ti_pickle_free(p);
        return err;
    }
    *out = p;
    return TI_OK;
}

const ti_pk_value *ti_pickle_root(const ti_pickle *p) { return p ? p->root : NULL; }
size_t ti_pickle_node_count(const ti_pickle *p) { return p ? p->n_nodes : 0; }
