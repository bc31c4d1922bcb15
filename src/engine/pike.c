/* Khiên — engine: a priority-ordered NFA ("Pike VM") for YARA match lengths.
 *
 * Vectorscan tells whether a string occurs; when a condition needs where
 * and how long (#a, @a[i], !a[i], `at`, `in`, fullword, `-s` output) we must
 * reproduce yara's answer for each start offset: the first alternative
 * that leads to a match wins, greedy repetitions take as much as they can,
 * lazy ones (yara's hex jumps, `*?`) as little. That is backtracking
 * semantics; computing it with a backtracking matcher is exponential in
 * the worst case, so we use the Pike VM construction instead: threads are
 * kept in priority order, a thread reaching MATCH cuts all threads of
 * lower priority, and higher-priority ones keep running, possibly
 * producing a longer (or later) match that replaces it. Time is
 * O(bytes read x program size), bounded by the `limit` the caller gives
 * (yara's 4096-byte regex scan limit, or the pattern's own maximum).
 *
 * Programs are compiled lazily per pattern (by the scanner that needs
 * them) from the rule tree; their size is capped so a pathological
 * repetition count cannot allocate without bound.
 */
#include "engine/pike.h"

#include <stdlib.h>

#define MAX_PROG (1u << 20)

enum { P_BYTE = 1, P_CLASS, P_ANY, P_SPLIT, P_JMP, P_ASSERT, P_MATCH };

typedef struct pinst {
    uint8_t op;
    uint8_t arg; /* BYTE: the byte; ASSERT: kind */
    uint16_t pad;
    uint32_t x, y; /* CLASS: class index (x); SPLIT: preferred x, then y; JMP: x */
} pinst;

struct kh_pike_prog {
    pinst *ins;
    uint32_t n, cap;
    uint8_t (*cls)[32];
    uint32_t ncls, capcls;
};

typedef struct comp {
    const struct kh_rules *r;
    kh_pike_prog *p;
    int err;
} comp;

static uint32_t emit(comp *c, uint8_t op, uint8_t arg, uint32_t x, uint32_t y)
{
    kh_pike_prog *p = c->p;
    if (c->err)
        return 0;
    if (p->n >= MAX_PROG) {
        c->err = KH_ELIMIT;
        return 0;
    }
    size_t cap = p->cap;
    if (kh_grow((void **)&p->ins, &cap, p->n + 1, sizeof(pinst), MAX_PROG)) {
        c->err = KH_ENOMEM;
        return 0;
    }
    p->cap = (uint32_t)cap;
    pinst *i = &p->ins[p->n];
    i->op = op;
    i->arg = arg;
    i->pad = 0;
    i->x = x;
    i->y = y;
    return p->n++;
}

static uint32_t add_class(comp *c, const uint8_t bits[32])
{
    kh_pike_prog *p = c->p;
    size_t cap = p->capcls;
    if (kh_grow((void **)&p->cls, &cap, p->ncls + 1, 32, MAX_PROG)) {
        c->err = KH_ENOMEM;
        return 0;
    }
    p->capcls = (uint32_t)cap;
    memcpy(p->cls[p->ncls], bits, 32);
    return p->ncls++;
}

static void gen(comp *c, uint32_t idx, unsigned depth);

/* `count` optional copies of a sub-program emitted by `body`, nested so each
 * is tried only after the previous one matched: (x(x(x)?)?)?  */
typedef void (*body_fn)(comp *c, const void *arg, unsigned depth);

static void optional_chain(comp *c, uint32_t count, int lazy, body_fn body, const void *arg, unsigned depth)
{
    uint32_t *splits = malloc(sizeof(uint32_t) * (count ? count : 1));
    if (!splits) {
        c->err = KH_ENOMEM;
        return;
    }
    for (uint32_t k = 0; k < count && !c->err; k++) {
        splits[k] = emit(c, P_SPLIT, 0, 0, 0);
        body(c, arg, depth);
    }
    uint32_t end = c->p->n;
    for (uint32_t k = 0; k < count && !c->err; k++) {
        pinst *s = &c->p->ins[splits[k]];
        uint32_t into = splits[k] + 1;
        s->x = lazy ? end : into;
        s->y = lazy ? into : end;
    }
    free(splits);
}

/* x* (or x*? when lazy) */
static void star(comp *c, int lazy, body_fn body, const void *arg, unsigned depth)
{
    uint32_t sp = emit(c, P_SPLIT, 0, 0, 0);
    body(c, arg, depth);
    emit(c, P_JMP, 0, sp, 0);
    if (c->err)
        return;
    uint32_t end = c->p->n;
    c->p->ins[sp].x = lazy ? end : sp + 1;
    c->p->ins[sp].y = lazy ? sp + 1 : end;
}

static void body_any(comp *c, const void *arg, unsigned depth)
{
    KH_UNUSED(arg);
    KH_UNUSED(depth);
    emit(c, P_ANY, 0, 0, 0);
}

static void body_node(comp *c, const void *arg, unsigned depth) { gen(c, *(const uint32_t *)arg, depth + 1); }

static void gen(comp *c, uint32_t idx, unsigned depth)
{
    if (c->err)
        return;
    if (depth > 200) {
        c->err = KH_ELIMIT;
        return;
    }
    const kh_node *n = &c->r->nodes[idx];
    const uint8_t *bytes = c->r->bytes;
    switch (n->op) {
    case KH_OP_LIT:
        for (uint32_t i = 0; i < n->b; i++)
            emit(c, P_BYTE, bytes[n->a + i], 0, 0);
        return;
    case KH_OP_CLASS: {
        const uint8_t *bits = bytes + n->a;
        int full = 1;
        for (int i = 0; i < 32; i++)
            full &= bits[i] == 0xff;
        if (full)
            emit(c, P_ANY, 0, 0, 0);
        else
            emit(c, P_CLASS, 0, add_class(c, bits), 0);
        return;
    }
    case KH_OP_GAP:
        for (uint32_t i = 0; i < n->a && !c->err; i++)
            emit(c, P_ANY, 0, 0, 0);
        if (n->b == KH_INF)
            star(c, n->pad[0] & KH_NF_LAZY, body_any, NULL, depth);
        else if (n->b > n->a)
            optional_chain(c, n->b - n->a, n->pad[0] & KH_NF_LAZY, body_any, NULL, depth);
        return;
    case KH_OP_SEQ:
        for (uint32_t i = 0; i < n->b && !c->err; i++)
            gen(c, c->r->kids[n->a + i], depth + 1);
        return;
    case KH_OP_ALT: {
        if (n->b == 0)
            return;
        uint32_t *jmps = malloc(sizeof(uint32_t) * n->b);
        if (!jmps) {
            c->err = KH_ENOMEM;
            return;
        }
        for (uint32_t i = 0; i < n->b && !c->err; i++) {
            uint32_t sp = UINT32_MAX;
            if (i + 1 < n->b)
                sp = emit(c, P_SPLIT, 0, 0, 0);
            gen(c, c->r->kids[n->a + i], depth + 1);
            jmps[i] = i + 1 < n->b ? emit(c, P_JMP, 0, 0, 0) : UINT32_MAX;
            if (sp != UINT32_MAX && !c->err) {
                c->p->ins[sp].x = sp + 1;
                c->p->ins[sp].y = c->p->n;
            }
        }
        for (uint32_t i = 0; i < n->b && !c->err; i++)
            if (jmps[i] != UINT32_MAX)
                c->p->ins[jmps[i]].x = c->p->n;
        free(jmps);
        return;
    }
    case KH_OP_ASSERT:
        emit(c, P_ASSERT, (uint8_t)n->a, 0, 0);
        return;
    case KH_OP_REPEAT: {
        uint32_t child = n->a;
        for (uint32_t i = 0; i < n->b && !c->err; i++)
            gen(c, child, depth + 1);
        if (n->c == KH_INF)
            star(c, n->pad[0] & KH_NF_LAZY, body_node, &child, depth);
        else if (n->c > n->b)
            optional_chain(c, n->c - n->b, n->pad[0] & KH_NF_LAZY, body_node, &child, depth);
        return;
    }
    default:
        c->err = KH_EUNSUPPORTED;
    }
}

int kh_pike_compile(const struct kh_rules *r, uint32_t root, kh_pike_prog **out)
{
    kh_pike_prog *p = calloc(1, sizeof(*p));
    if (!p)
        return KH_ENOMEM;
    comp c = {r, p, 0};
    gen(&c, root, 0);
    emit(&c, P_MATCH, 0, 0, 0);
    if (c.err) {
        kh_pike_free(p);
        return c.err;
    }
    *out = p;
    return 0;
}

void kh_pike_free(kh_pike_prog *p)
{
    if (!p)
        return;
    free(p->ins);
    free(p->cls);
    free(p);
}

/* ---- Running ---------------------------------------------------------------------- */

struct kh_pike_vm {
    uint32_t *mark; /* generation per pc */
    uint32_t *l1, *l2, *stack;
    size_t cap;
    uint32_t gen;
};

int kh_pike_vm_create(kh_pike_vm **out)
{
    kh_pike_vm *vm = calloc(1, sizeof(*vm));
    if (!vm)
        return KH_ENOMEM;
    *out = vm;
    return 0;
}

void kh_pike_vm_destroy(kh_pike_vm *vm)
{
    if (!vm)
        return;
    free(vm->mark);
    free(vm->l1);
    free(vm->l2);
    free(vm->stack);
    free(vm);
}

static int reserve(kh_pike_vm *vm, size_t n)
{
    if (n <= vm->cap)
        return 0;
    uint32_t *m = calloc(n, sizeof(uint32_t)), *a = malloc(n * sizeof(uint32_t)), *b = malloc(n * sizeof(uint32_t)),
             *s = malloc(2 * n * sizeof(uint32_t) + 8);
    if (!m || !a || !b || !s) {
        free(m), free(a), free(b), free(s);
        return KH_ENOMEM;
    }
    free(vm->mark), free(vm->l1), free(vm->l2), free(vm->stack);
    vm->mark = m, vm->l1 = a, vm->l2 = b, vm->stack = s;
    vm->cap = n;
    vm->gen = 0;
    return 0;
}

static int is_word(uint8_t c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }

static int is_alnum(uint8_t c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

/* `end` is the end of the scan window: yara counts it, and the data's start,
 * as a word boundary whatever the bytes around. */
int kh_pike_assert(unsigned kind, const uint8_t *buf, size_t len, size_t end, size_t pos)
{
    switch (kind) {
    case KH_AS_START:
        return pos == 0;
    case KH_AS_END:
        return pos == len;
    case KH_AS_WORDB:
    case KH_AS_NWORDB: {
        int b = pos == 0 || pos >= end || (is_word(buf[pos - 1]) != is_word(buf[pos]));
        return b == (kind == KH_AS_WORDB);
    }
    case KH_AS_WORDB_W:
    case KH_AS_NWORDB_W: {
        /* wide: a word character is [0-9A-Za-z_] followed by 0x00 */
        int before = pos >= 2 && is_word(buf[pos - 2]) && buf[pos - 1] == 0;
        int here = pos + 1 < len && is_word(buf[pos]) && buf[pos + 1] == 0;
        int b = pos == 0 || pos >= end || before != here;
        return b == (kind == KH_AS_WORDB_W);
    }
    case KH_AS_FW_BEFORE:
        return pos == 0 || !is_alnum(buf[pos - 1]);
    case KH_AS_FW_AFTER:
        return pos >= len || !is_alnum(buf[pos]);
    case KH_AS_FWW_BEFORE:
        return pos < 2 || buf[pos - 1] != 0 || !is_alnum(buf[pos - 2]);
    case KH_AS_FWW_AFTER:
        return pos + 1 >= len || buf[pos + 1] != 0 || !is_alnum(buf[pos]);
    default:
        return 1;
    }
}

/* yara checks a fullword string's end after its regex engine has chosen
 * the match (the longest, for a greedy pattern): when that match is
 * followed by an alphanumeric byte there is no match at this offset, even
 * if a shorter one would pass. A trailing fullword check therefore does not
 * steer the search: reaching it counts as reaching MATCH, and the check is
 * applied to the match finally chosen (kh_pike_match). */
static int deferred(const kh_pike_prog *p, uint32_t x)
{
    const pinst *i = &p->ins[x];
    if (i->op != P_ASSERT || (i->arg != KH_AS_FW_AFTER && i->arg != KH_AS_FWW_AFTER))
        return 0;
    uint32_t pc = x + 1;
    for (int hops = 0; hops < 8 && pc < p->n && p->ins[pc].op == P_JMP; hops++)
        pc = p->ins[pc].x;
    return pc < p->n && p->ins[pc].op == P_MATCH;
}

/* Adds the threads reachable from pc without consuming input, in priority order. */
static size_t closure(kh_pike_vm *vm, const kh_pike_prog *p, uint32_t pc, uint32_t *list, size_t n,
                      const uint8_t *buf, size_t len, size_t end, size_t pos)
{
    size_t sp = 0;
    vm->stack[sp++] = pc;
    while (sp) {
        uint32_t x = vm->stack[--sp];
        if (vm->mark[x] == vm->gen)
            continue;
        vm->mark[x] = vm->gen;
        const pinst *i = &p->ins[x];
        switch (i->op) {
        case P_JMP:
            vm->stack[sp++] = i->x;
            break;
        case P_SPLIT:
            vm->stack[sp++] = i->y;
            vm->stack[sp++] = i->x;
            break;
        case P_ASSERT:
            if (deferred(p, x))
                list[n++] = x;
            else if (kh_pike_assert(i->arg, buf, len, end, pos))
                vm->stack[sp++] = x + 1;
            break;
        default:
            list[n++] = x;
        }
    }
    return n;
}

int64_t kh_pike_match(kh_pike_vm *vm, const kh_pike_prog *p, const uint8_t *buf, size_t len, size_t start,
                      size_t limit)
{
    if (reserve(vm, p->n))
        return KH_ENOMEM;
    if (start > len)
        return -1;
    size_t end = len - start > limit ? start + limit : len;
    if (++vm->gen == 0) {
        memset(vm->mark, 0, vm->cap * sizeof(uint32_t));
        vm->gen = 1;
    }
    uint32_t *cl = vm->l1, *nl = vm->l2;
    size_t nc = closure(vm, p, 0, cl, 0, buf, len, end, start), nn;
    int64_t matched = -1;
    unsigned check = 0; /* the deferred fullword check of the chosen match */
    for (size_t pos = start;; pos++) {
        if (nc == 0)
            break;
        if (++vm->gen == 0) {
            memset(vm->mark, 0, vm->cap * sizeof(uint32_t));
            vm->gen = 1;
        }
        nn = 0;
        for (size_t t = 0; t < nc; t++) {
            const pinst *i = &p->ins[cl[t]];
            if (i->op == P_MATCH || i->op == P_ASSERT) {
                matched = (int64_t)(pos - start);
                check = i->op == P_ASSERT ? i->arg : 0;
                break; /* lower-priority threads are cut */
            }
            if (pos >= end)
                continue;
            uint8_t ch = buf[pos];
            int ok = i->op == P_ANY || (i->op == P_BYTE && ch == i->arg) ||
                     (i->op == P_CLASS && ((p->cls[i->x][ch >> 3] >> (ch & 7)) & 1));
            if (ok)
                nn = closure(vm, p, cl[t] + 1, nl, nn, buf, len, end, pos + 1);
        }
        if (pos >= end)
            break;
        uint32_t *tmp = cl;
        cl = nl;
        nl = tmp;
        nc = nn;
    }
    if (matched >= 0 && check && !kh_pike_assert(check, buf, len, end, start + (size_t)matched))
        return -1;
    return matched;
}

int kh_pike_first(const kh_pike_prog *p, uint8_t bits[32])
{
    memset(bits, 0, 32);
    uint8_t *seen = calloc(p->n, 1);
    uint32_t *stack = malloc(sizeof(uint32_t) * (2 * (size_t)p->n + 2));
    int ok = 1;
    if (!seen || !stack) {
        free(seen);
        free(stack);
        memset(bits, 0xff, 32);
        return 1;
    }
    size_t sp = 0;
    stack[sp++] = 0;
    while (sp && ok) {
        uint32_t x = stack[--sp];
        if (seen[x])
            continue;
        seen[x] = 1;
        const pinst *i = &p->ins[x];
        switch (i->op) {
        case P_JMP: stack[sp++] = i->x; break;
        case P_SPLIT: stack[sp++] = i->y; stack[sp++] = i->x; break;
        case P_ASSERT: stack[sp++] = x + 1; break;
        case P_MATCH: ok = 0; break;
        case P_ANY: memset(bits, 0xff, 32); break;
        case P_BYTE: bits[i->arg >> 3] |= (uint8_t)(1u << (i->arg & 7)); break;
        case P_CLASS:
            for (int k = 0; k < 32; k++)
                bits[k] |= p->cls[i->x][k];
            break;
        }
    }
    free(seen);
    free(stack);
    return ok;
}
