/* Safe pickle interpreter for torch.save's data.pkl (see io/pickle.h). */
#include "io/pickle.h"

#include <stdlib.h>
#include <string.h>

#include "mhim/common.h"

#define PK_MAX_GLOBAL_NAME 256

typedef struct {
    const uint8_t *data, *p, *end;
    const char *where;
    pk_doc *doc;
    pk_value **stack;
    int64_t sp, stack_cap;
    pk_value **memo;
    int64_t memo_cap, memo_used; /* memo_used = count of stored entries (MEMOIZE index) */
} pk_machine;

static pk_value pk_mark_value = {.kind = PK_MARK};

/* Names of all pickle opcodes, for error messages about rejected ones. */
static const char *opcode_name(uint8_t op) {
    switch (op) {
    case 0x80: return "PROTO";
    case 0x95: return "FRAME";
    case '.': return "STOP";
    case '(': return "MARK";
    case '}': return "EMPTY_DICT";
    case ']': return "EMPTY_LIST";
    case ')': return "EMPTY_TUPLE";
    case 't': return "TUPLE";
    case 0x85: return "TUPLE1";
    case 0x86: return "TUPLE2";
    case 0x87: return "TUPLE3";
    case 's': return "SETITEM";
    case 'u': return "SETITEMS";
    case 'a': return "APPEND";
    case 'e': return "APPENDS";
    case 'J': return "BININT";
    case 'K': return "BININT1";
    case 'M': return "BININT2";
    case 0x8a: return "LONG1";
    case 0x8b: return "LONG4";
    case 'G': return "BINFLOAT";
    case 'X': return "BINUNICODE";
    case 0x8c: return "SHORT_BINUNICODE";
    case 0x8d: return "BINUNICODE8";
    case 'T': return "BINSTRING";
    case 'U': return "SHORT_BINSTRING";
    case 'N': return "NONE";
    case 0x88: return "NEWTRUE";
    case 0x89: return "NEWFALSE";
    case 'c': return "GLOBAL";
    case 0x93: return "STACK_GLOBAL";
    case 'Q': return "BINPERSID";
    case 'P': return "PERSID";
    case 'R': return "REDUCE";
    case 'b': return "BUILD";
    case 'q': return "BINPUT";
    case 'r': return "LONG_BINPUT";
    case 'p': return "PUT";
    case 'h': return "BINGET";
    case 'j': return "LONG_BINGET";
    case 'g': return "GET";
    case 0x94: return "MEMOIZE";
    case 'i': return "INST";
    case 'o': return "OBJ";
    case 0x81: return "NEWOBJ";
    case 0x92: return "NEWOBJ_EX";
    case 0x82: return "EXT1";
    case 0x83: return "EXT2";
    case 0x84: return "EXT4";
    case 'I': return "INT";
    case 'L': return "LONG";
    case 'F': return "FLOAT";
    case 'S': return "STRING";
    case 'V': return "UNICODE";
    case 'd': return "DICT";
    case 'l': return "LIST";
    case '0': return "POP";
    case '1': return "POP_MARK";
    case '2': return "DUP";
    case 'B': return "BINBYTES";
    case 'C': return "SHORT_BINBYTES";
    case 0x8e: return "BINBYTES8";
    case 0x96: return "BYTEARRAY8";
    case 0x8f: return "EMPTY_SET";
    case 0x90: return "ADDITEMS";
    case 0x91: return "FROZENSET";
    case 0x97: return "NEXT_BUFFER";
    case 0x98: return "READONLY_BUFFER";
    default: return "unknown";
    }
}

static const char *kind_name(pk_kind kind) {
    switch (kind) {
    case PK_NONE: return "None";
    case PK_BOOL: return "bool";
    case PK_INT: return "int";
    case PK_FLOAT: return "float";
    case PK_STR: return "str";
    case PK_TUPLE: return "tuple";
    case PK_LIST: return "list";
    case PK_DICT: return "dict";
    case PK_GLOBAL: return "callable";
    case PK_STORAGE: return "storage";
    case PK_TENSOR: return "tensor";
    case PK_MARK: return "MARK";
    }
    return "?";
}

/* ---- values ---------------------------------------------------------------------------------------------- */

static pk_value *new_value(pk_machine *m, pk_kind kind) {
    pk_doc *doc = m->doc;
    if (doc->count == doc->cap) {
        doc->cap = doc->cap ? 2 * doc->cap : 64;
        doc->all = mhim_realloc(doc->all, (size_t)doc->cap * sizeof *doc->all);
    }
    pk_value *v = mhim_calloc(1, sizeof *v);
    v->kind = kind;
    doc->all[doc->count++] = v;
    return v;
}

static void append_item(pk_value *container, pk_value *item) {
    if (container->count == container->cap) {
        container->cap = container->cap ? 2 * container->cap : 4;
        container->items = mhim_realloc(container->items, (size_t)container->cap * sizeof *container->items);
    }
    container->items[container->count++] = item;
}

void pk_doc_free(pk_doc *doc) {
    for (int64_t i = 0; i < doc->count; i++) {
        free(doc->all[i]->s);
        free(doc->all[i]->items);
        free(doc->all[i]->shape);
        free(doc->all[i]);
    }
    free(doc->all);
    memset(doc, 0, sizeof *doc);
}

/* ---- stream and stack helpers ----------------------------------------------------------------------------- */

static int64_t offset_of(const pk_machine *m) { return (int64_t)(m->p - m->data); }

static int need(pk_machine *m, uint64_t n, const char *what) {
    if ((uint64_t)(m->end - m->p) < n)
        return mhim_fail("%s: pickle ends inside %s at byte %lld (truncated or corrupt file)", m->where, what,
                         (long long)offset_of(m));
    return MHIM_OK;
}

static uint64_t read_le(pk_machine *m, int nbytes) {
    uint64_t v = 0;
    for (int k = 0; k < nbytes; k++) v |= (uint64_t)m->p[k] << (8 * k);
    m->p += nbytes;
    return v;
}

static int push(pk_machine *m, pk_value *v) {
    if (m->sp == PK_MAX_STACK)
        return mhim_fail("%s: pickle stack deeper than %d values (corrupt file)", m->where, PK_MAX_STACK);
    if (m->sp == m->stack_cap) {
        m->stack_cap = m->stack_cap ? 2 * m->stack_cap : 64;
        m->stack = mhim_realloc(m->stack, (size_t)m->stack_cap * sizeof *m->stack);
    }
    m->stack[m->sp++] = v;
    return MHIM_OK;
}

static int underflow(const pk_machine *m) {
    return mhim_fail("%s: pickle stack underflow at byte %lld (corrupt file)", m->where, (long long)offset_of(m));
}

/* Pop one value (not a MARK) into *out. */
static int pop(pk_machine *m, pk_value **out) {
    if (m->sp == 0 || m->stack[m->sp - 1]->kind == PK_MARK) return underflow(m);
    *out = m->stack[--m->sp];
    return MHIM_OK;
}

/* Index of the topmost MARK on the stack. */
static int find_mark(pk_machine *m, int64_t *mark) {
    for (int64_t k = m->sp - 1; k >= 0; k--)
        if (m->stack[k]->kind == PK_MARK) {
            *mark = k;
            return MHIM_OK;
        }
    return mhim_fail("%s: pickle has no MARK for the opcode at byte %lld (corrupt file)", m->where,
                     (long long)offset_of(m) - 1);
}

static int top(pk_machine *m, pk_value **out) {
    if (m->sp == 0 || m->stack[m->sp - 1]->kind == PK_MARK)
        return mhim_fail("%s: pickle stack empty at byte %lld (corrupt file)", m->where, (long long)offset_of(m));
    *out = m->stack[m->sp - 1];
    return MHIM_OK;
}

/* ---- opcodes that build values ------------------------------------------------------------------------------ */

static int push_int(pk_machine *m, int64_t value) {
    pk_value *v = new_value(m, PK_INT);
    v->i = value;
    return push(m, v);
}

static int push_string(pk_machine *m, uint64_t len) {
    int rc = need(m, len, "a string");
    if (rc) return rc;
    pk_value *v = new_value(m, PK_STR);
    v->s = mhim_malloc((size_t)len + 1);
    memcpy(v->s, m->p, (size_t)len);
    v->s[len] = '\0';
    v->len = (int64_t)len;
    m->p += len;
    return push(m, v);
}

static int op_long1(pk_machine *m) {
    int rc = need(m, 1, "LONG1");
    if (rc) return rc;
    int n = m->p[0];
    m->p++;
    if (n > 8)
        return mhim_fail("%s: pickle integer of %d bytes at byte %lld does not fit in 64 bits", m->where, n,
                         (long long)offset_of(m));
    if ((rc = need(m, (uint64_t)n, "LONG1"))) return rc;
    if (n == 0) return push_int(m, 0);
    uint64_t u = read_le(m, n);
    if (n < 8 && (u >> (8 * n - 1)) & 1) u |= ~(uint64_t)0 << (8 * n); /* sign-extend */
    int64_t value;
    memcpy(&value, &u, sizeof value);
    return push_int(m, value);
}

static int op_binfloat(pk_machine *m) {
    int rc = need(m, 8, "BINFLOAT");
    if (rc) return rc;
    uint64_t u = 0;
    for (int k = 0; k < 8; k++) u = (u << 8) | m->p[k]; /* big-endian */
    m->p += 8;
    pk_value *v = new_value(m, PK_FLOAT);
    memcpy(&v->f, &u, sizeof v->f);
    return push(m, v);
}

static int storage_dtype(const char *name, mhim_pt_dtype *out) {
    static const struct {
        const char *name;
        mhim_pt_dtype dtype;
    } table[] = {
        {"FloatStorage", MHIM_PT_FLOAT32}, {"HalfStorage", MHIM_PT_FLOAT16}, {"BFloat16Storage", MHIM_PT_BFLOAT16},
        {"DoubleStorage", MHIM_PT_FLOAT64}, {"LongStorage", MHIM_PT_INT64}, {"IntStorage", MHIM_PT_INT32},
        {"ShortStorage", MHIM_PT_INT16},   {"CharStorage", MHIM_PT_INT8},   {"ByteStorage", MHIM_PT_UINT8},
        {"BoolStorage", MHIM_PT_BOOL8},
    };
    for (size_t k = 0; k < MHIM_ARRAY_LEN(table); k++)
        if (!strcmp(name, table[k].name)) {
            *out = table[k].dtype;
            return 1;
        }
    return 0;
}

/* Resolve module.name against the allowlist and push the callable. */
static int push_global(pk_machine *m, const char *module, const char *name) {
    pk_value *v = new_value(m, PK_GLOBAL);
    if (!strcmp(module, "torch._utils") && !strcmp(name, "_rebuild_tensor_v2"))
        v->global = PK_G_REBUILD_TENSOR_V2;
    else if (!strcmp(module, "torch._utils") && !strcmp(name, "_rebuild_parameter"))
        v->global = PK_G_REBUILD_PARAMETER;
    else if (!strcmp(module, "torch._utils") && !strcmp(name, "_rebuild_parameter_with_state"))
        v->global = PK_G_REBUILD_PARAMETER_WITH_STATE;
    else if (!strcmp(module, "collections") && !strcmp(name, "OrderedDict"))
        v->global = PK_G_ORDERED_DICT;
    else if (!strcmp(module, "torch") && storage_dtype(name, &v->dtype))
        v->global = PK_G_STORAGE_CLASS;
    else if (!strncmp(module, "numpy", 5))
        return mhim_fail("%s: holds a numpy array or object (%s.%s), not a torch tensor; convert it and re-save, "
                         "e.g. torch.save(torch.from_numpy(array), path)",
                         m->where, module, name);
    else if (!strcmp(module, "torch") && strstr(name, "Storage"))
        return mhim_fail("%s: storage type torch.%s is not supported (supported: float32, float16, bfloat16, "
                         "float64, int64, int32, int16, int8, uint8, bool)",
                         m->where, name);
    else
        return mhim_fail("%s: global '%s.%s' is not allowed in a tensor file (only torch tensors, storages and "
                         "collections.OrderedDict)",
                         m->where, module, name);
    return push(m, v);
}

/* Read one newline-terminated GLOBAL operand into buf. */
static int read_line(pk_machine *m, char *buf) {
    for (int k = 0; k < PK_MAX_GLOBAL_NAME; k++) {
        if (m->p == m->end) return need(m, 1, "GLOBAL");
        char c = (char)*m->p++;
        if (c == '\n') {
            buf[k] = '\0';
            return MHIM_OK;
        }
        buf[k] = c;
    }
    return mhim_fail("%s: GLOBAL name at byte %lld is longer than %d bytes (corrupt file)", m->where,
                     (long long)offset_of(m), PK_MAX_GLOBAL_NAME);
}

static int op_global(pk_machine *m) {
    char module[PK_MAX_GLOBAL_NAME + 1], name[PK_MAX_GLOBAL_NAME + 1];
    int rc = read_line(m, module);
    if (!rc) rc = read_line(m, name);
    return rc ? rc : push_global(m, module, name);
}

static int op_stack_global(pk_machine *m) {
    pk_value *name = NULL, *module = NULL;
    int rc = pop(m, &name);
    if (!rc) rc = pop(m, &module);
    if (rc) return rc;
    if (name->kind != PK_STR || module->kind != PK_STR || strlen(name->s) != (size_t)name->len ||
        strlen(module->s) != (size_t)module->len)
        return mhim_fail("%s: STACK_GLOBAL at byte %lld expects two strings (corrupt file)", m->where,
                         (long long)offset_of(m) - 1);
    return push_global(m, module->s, name->s);
}

/* Pop the items above the topmost MARK into a fresh tuple *out, then drop the MARK. */
static int op_collect(pk_machine *m, pk_value **out) {
    int64_t mark = 0;
    int rc = find_mark(m, &mark);
    if (rc) return rc;
    pk_value *t = new_value(m, PK_TUPLE);
    for (int64_t k = mark + 1; k < m->sp; k++) append_item(t, m->stack[k]);
    m->sp = mark;
    *out = t;
    return MHIM_OK;
}

static int op_tuple_n(pk_machine *m, int n) {
    if (m->sp < n) return underflow(m);
    for (int64_t k = m->sp - n; k < m->sp; k++)
        if (m->stack[k]->kind == PK_MARK) return underflow(m);
    pk_value *t = new_value(m, PK_TUPLE);
    for (int64_t k = m->sp - n; k < m->sp; k++) append_item(t, m->stack[k]);
    m->sp -= n;
    return push(m, t);
}

/* SETITEMS / APPENDS: add the items above the MARK to the dict / list below it. */
static int op_add_items(pk_machine *m, pk_kind want, const char *opname) {
    pk_value *items = NULL, *target = NULL;
    int rc = op_collect(m, &items);
    if (!rc) rc = top(m, &target);
    if (rc) return rc;
    if (target->kind != want)
        return mhim_fail("%s: %s at byte %lld applies to a %s, expected a %s (corrupt file)", m->where, opname,
                         (long long)offset_of(m) - 1, kind_name(target->kind), kind_name(want));
    if (want == PK_DICT && items->count % 2)
        return mhim_fail("%s: SETITEMS at byte %lld has an odd number of items (corrupt file)", m->where,
                         (long long)offset_of(m) - 1);
    for (int64_t k = 0; k < items->count; k++) append_item(target, items->items[k]);
    return MHIM_OK;
}

static int op_setitem(pk_machine *m) {
    pk_value *value = NULL, *key = NULL, *dict = NULL;
    int rc = pop(m, &value);
    if (!rc) rc = pop(m, &key);
    if (!rc) rc = top(m, &dict);
    if (rc) return rc;
    if (dict->kind != PK_DICT)
        return mhim_fail("%s: SETITEM at byte %lld applies to a %s, expected a dict (corrupt file)", m->where,
                         (long long)offset_of(m) - 1, kind_name(dict->kind));
    append_item(dict, key);
    append_item(dict, value);
    return MHIM_OK;
}

static int op_append(pk_machine *m) {
    pk_value *value = NULL, *list = NULL;
    int rc = pop(m, &value);
    if (!rc) rc = top(m, &list);
    if (rc) return rc;
    if (list->kind != PK_LIST)
        return mhim_fail("%s: APPEND at byte %lld applies to a %s, expected a list (corrupt file)", m->where,
                         (long long)offset_of(m) - 1, kind_name(list->kind));
    append_item(list, value);
    return MHIM_OK;
}

/* ---- persistent ids, REDUCE and BUILD ---------------------------------------------------------------------- */

static int op_binpersid(pk_machine *m) {
    pk_value *pid = NULL;
    int rc = pop(m, &pid);
    if (rc) return rc;
    if (pid->kind != PK_TUPLE || pid->count != 5 || pid->items[0]->kind != PK_STR ||
        strcmp(pid->items[0]->s, "storage") || pid->items[1]->kind != PK_GLOBAL ||
        pid->items[1]->global != PK_G_STORAGE_CLASS || pid->items[2]->kind != PK_STR ||
        pid->items[3]->kind != PK_STR || pid->items[4]->kind != PK_INT || pid->items[4]->i < 0)
        return mhim_fail("%s: persistent id at byte %lld is not ('storage', <Type>Storage, key, location, numel)",
                         m->where, (long long)offset_of(m) - 1);
    pk_value *key = pid->items[2];
    if (key->len == 0 || strlen(key->s) != (size_t)key->len || strchr(key->s, '/'))
        return mhim_fail("%s: storage key at byte %lld is not a plain record name", m->where,
                         (long long)offset_of(m) - 1);
    pk_value *st = new_value(m, PK_STORAGE);
    st->dtype = pid->items[1]->dtype;
    st->s = mhim_strdup(key->s);
    st->i = pid->items[4]->i;
    return push(m, st);
}

/* Copy a tuple of non-negative ints (shape or stride) into dims[]. */
static int int_tuple(pk_machine *m, const pk_value *t, int64_t *dims, int *ndim, const char *what) {
    if (t->kind != PK_TUPLE)
        return mhim_fail("%s: tensor %s is a %s, expected a tuple of ints", m->where, what, kind_name(t->kind));
    if (t->count > MHIM_PT_MAX_DIMS)
        return mhim_fail("%s: tensor %s has %lld dimensions; at most %d are supported", m->where, what,
                         (long long)t->count, MHIM_PT_MAX_DIMS);
    for (int64_t k = 0; k < t->count; k++) {
        if (t->items[k]->kind != PK_INT || t->items[k]->i < 0)
            return mhim_fail("%s: tensor %s must hold non-negative ints", m->where, what);
        dims[k] = t->items[k]->i;
    }
    *ndim = (int)t->count;
    return MHIM_OK;
}

static int rebuild_tensor(pk_machine *m, const pk_value *args, pk_value **out) {
    if (args->count != 6 && args->count != 7)
        return mhim_fail("%s: _rebuild_tensor_v2 takes 6 or 7 arguments, found %lld", m->where,
                         (long long)args->count);
    const pk_value *storage = args->items[0], *offset = args->items[1];
    if (storage->kind != PK_STORAGE || offset->kind != PK_INT || offset->i < 0)
        return mhim_fail("%s: _rebuild_tensor_v2 expects (storage, offset >= 0, ...), found (%s, %s, ...)",
                         m->where, kind_name(storage->kind), kind_name(offset->kind));
    pk_value *t = new_value(m, PK_TENSOR);
    t->storage = (pk_value *)storage;
    t->i = offset->i;
    t->shape = mhim_calloc(2 * MHIM_PT_MAX_DIMS, sizeof *t->shape);
    t->stride = t->shape + MHIM_PT_MAX_DIMS;
    int nstride = 0;
    int rc = int_tuple(m, args->items[2], t->shape, &t->ndim, "size");
    if (!rc) rc = int_tuple(m, args->items[3], t->stride, &nstride, "stride");
    if (rc) return rc;
    if (nstride != t->ndim)
        return mhim_fail("%s: tensor size has %d dimensions but stride has %d", m->where, t->ndim, nstride);
    *out = t;
    return MHIM_OK;
}

static int op_reduce(pk_machine *m) {
    pk_value *args = NULL, *callable = NULL, *result = NULL;
    int rc = pop(m, &args);
    if (!rc) rc = pop(m, &callable);
    if (rc) return rc;
    if (callable->kind != PK_GLOBAL || args->kind != PK_TUPLE)
        return mhim_fail("%s: REDUCE at byte %lld calls a %s with a %s (only allowlisted torch callables)",
                         m->where, (long long)offset_of(m) - 1, kind_name(callable->kind), kind_name(args->kind));
    switch (callable->global) {
    case PK_G_ORDERED_DICT:
        if (args->count != 0)
            return mhim_fail("%s: collections.OrderedDict must be called without arguments", m->where);
        result = new_value(m, PK_DICT);
        break;
    case PK_G_REBUILD_TENSOR_V2:
        if ((rc = rebuild_tensor(m, args, &result))) return rc;
        break;
    case PK_G_REBUILD_PARAMETER:
    case PK_G_REBUILD_PARAMETER_WITH_STATE: {
        int64_t want = callable->global == PK_G_REBUILD_PARAMETER ? 3 : 4;
        if (args->count != want || args->items[0]->kind != PK_TENSOR)
            return mhim_fail("%s: _rebuild_parameter expects (tensor, requires_grad, hooks%s)", m->where,
                             want == 4 ? ", state" : "");
        result = args->items[0];
        break;
    }
    case PK_G_STORAGE_CLASS:
        return mhim_fail("%s: REDUCE at byte %lld calls a storage class (only allowed inside a persistent id)",
                         m->where, (long long)offset_of(m) - 1);
    }
    return push(m, result);
}

/* BUILD only attaches state (e.g. a state_dict's _metadata) to an OrderedDict; the state is dropped. */
static int op_build(pk_machine *m) {
    pk_value *state = NULL, *target = NULL;
    int rc = pop(m, &state);
    if (!rc) rc = top(m, &target);
    if (rc) return rc;
    if (target->kind != PK_DICT)
        return mhim_fail("%s: BUILD at byte %lld sets state on a %s (only allowed on OrderedDict)", m->where,
                         (long long)offset_of(m) - 1, kind_name(target->kind));
    return MHIM_OK;
}

/* ---- memo ------------------------------------------------------------------------------------------------- */

static int memo_put(pk_machine *m, uint64_t index) {
    pk_value *v = NULL;
    int rc = top(m, &v);
    if (rc) return rc;
    if (index >= PK_MAX_MEMO)
        return mhim_fail("%s: pickle memo index %llu exceeds the limit of %d entries (corrupt file)", m->where,
                         (unsigned long long)index, PK_MAX_MEMO);
    if ((int64_t)index >= m->memo_cap) {
        int64_t cap = m->memo_cap ? m->memo_cap : 64;
        while (cap <= (int64_t)index) cap *= 2;
        m->memo = mhim_realloc(m->memo, (size_t)cap * sizeof *m->memo);
        memset(m->memo + m->memo_cap, 0, (size_t)(cap - m->memo_cap) * sizeof *m->memo);
        m->memo_cap = cap;
    }
    if (!m->memo[index]) m->memo_used++;
    m->memo[index] = v;
    return MHIM_OK;
}

static int memo_get(pk_machine *m, uint64_t index) {
    if ((int64_t)index >= m->memo_cap || !m->memo[index])
        return mhim_fail("%s: pickle reads memo entry %llu that was never stored (corrupt file)", m->where,
                         (unsigned long long)index);
    return push(m, m->memo[index]);
}

/* ---- main loop -------------------------------------------------------------------------------------------- */

/* Execute one opcode; *stop = 1 after STOP. */
static int step(pk_machine *m, int *stop) {
    if (m->doc->count + 2 > PK_MAX_VALUES) /* no opcode creates more than two values */
        return mhim_fail("%s: pickle builds more than %d values (corrupt file, or not a tensor file)", m->where,
                         PK_MAX_VALUES);
    int rc = need(m, 1, "an opcode");
    if (rc) return rc;
    uint8_t op = *m->p++;
    pk_value *v = NULL;
    switch (op) {
    case 0x80: /* PROTO */
        if ((rc = need(m, 1, "PROTO"))) return rc;
        if (*m->p > 5)
            return mhim_fail("%s: pickle protocol %d is not supported (at most 5)", m->where, *m->p);
        m->p++;
        return MHIM_OK;
    case 0x95: /* FRAME: a length hint only */
        if ((rc = need(m, 8, "FRAME"))) return rc;
        m->p += 8;
        return MHIM_OK;
    case '.':
        *stop = 1;
        return MHIM_OK;
    case '(': return push(m, &pk_mark_value);
    case '}': return push(m, new_value(m, PK_DICT));
    case ']': return push(m, new_value(m, PK_LIST));
    case ')': return push(m, new_value(m, PK_TUPLE));
    case 't':
        if ((rc = op_collect(m, &v))) return rc;
        return push(m, v);
    case 0x85: return op_tuple_n(m, 1);
    case 0x86: return op_tuple_n(m, 2);
    case 0x87: return op_tuple_n(m, 3);
    case 's': return op_setitem(m);
    case 'u': return op_add_items(m, PK_DICT, "SETITEMS");
    case 'a': return op_append(m);
    case 'e': return op_add_items(m, PK_LIST, "APPENDS");
    case 'J':
        if ((rc = need(m, 4, "BININT"))) return rc;
        return push_int(m, (int32_t)(uint32_t)read_le(m, 4));
    case 'K':
        if ((rc = need(m, 1, "BININT1"))) return rc;
        return push_int(m, (int64_t)read_le(m, 1));
    case 'M':
        if ((rc = need(m, 2, "BININT2"))) return rc;
        return push_int(m, (int64_t)read_le(m, 2));
    case 0x8a: return op_long1(m);
    case 'G': return op_binfloat(m);
    case 'X':
        if ((rc = need(m, 4, "BINUNICODE"))) return rc;
        return push_string(m, read_le(m, 4));
    case 0x8c:
        if ((rc = need(m, 1, "SHORT_BINUNICODE"))) return rc;
        return push_string(m, read_le(m, 1));
    case 0x8d:
        if ((rc = need(m, 8, "BINUNICODE8"))) return rc;
        return push_string(m, read_le(m, 8));
    case 'T': {
        if ((rc = need(m, 4, "BINSTRING"))) return rc;
        int32_t len = (int32_t)(uint32_t)read_le(m, 4);
        if (len < 0) return mhim_fail("%s: negative BINSTRING length (corrupt file)", m->where);
        return push_string(m, (uint64_t)len);
    }
    case 'U':
        if ((rc = need(m, 1, "SHORT_BINSTRING"))) return rc;
        return push_string(m, read_le(m, 1));
    case 'N': return push(m, new_value(m, PK_NONE));
    case 0x88:
    case 0x89:
        v = new_value(m, PK_BOOL);
        v->i = op == 0x88;
        return push(m, v);
    case 'c': return op_global(m);
    case 0x93: return op_stack_global(m);
    case 'Q': return op_binpersid(m);
    case 'R': return op_reduce(m);
    case 'b': return op_build(m);
    case 'q':
        if ((rc = need(m, 1, "BINPUT"))) return rc;
        return memo_put(m, read_le(m, 1));
    case 'r':
        if ((rc = need(m, 4, "LONG_BINPUT"))) return rc;
        return memo_put(m, read_le(m, 4));
    case 0x94: return memo_put(m, (uint64_t)m->memo_used);
    case 'h':
        if ((rc = need(m, 1, "BINGET"))) return rc;
        return memo_get(m, read_le(m, 1));
    case 'j':
        if ((rc = need(m, 4, "LONG_BINGET"))) return rc;
        return memo_get(m, read_le(m, 4));
    default:
        return mhim_fail("%s: pickle opcode 0x%02x ('%s') at byte %lld is not allowed in a tensor file", m->where,
                         op, opcode_name(op), (long long)offset_of(m) - 1);
    }
}

int pk_load(const uint8_t *data, size_t len, const char *where, pk_doc *doc) {
    memset(doc, 0, sizeof *doc);
    pk_machine m = {.data = data, .p = data, .end = data + len, .where = where, .doc = doc};
    int stop = 0, rc = MHIM_OK;
    while (!rc && !stop) rc = step(&m, &stop);
    if (!rc && (m.sp != 1 || m.stack[0]->kind == PK_MARK))
        rc = mhim_fail("%s: pickle leaves %lld values on the stack, expected exactly one (corrupt file)", where,
                       (long long)m.sp);
    if (!rc) doc->root = m.stack[0];
    free(m.stack);
    free(m.memo);
    if (rc) pk_doc_free(doc);
    return rc;
}
