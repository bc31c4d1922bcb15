/* Khiên — engine: evaluating YARA conditions.
 *
 * After the matcher has run over an object, every rule is decided here.
 * A rule whose condition cannot be true without one of its strings (most
 * rules: the compiler works this out, kh_ycond_needs_string) is skipped
 * outright when none of its strings occurred, so the per-file cost is in
 * proportion to what was found, not to the number of rules.
 *
 * Values follow yara 4.2 exactly, including "undefined": a field a module
 * did not set, an out-of-range int32(), a division by zero at run time are
 * undefined; arithmetic and comparisons with an undefined operand are
 * undefined; `and`/`or` treat undefined as false and are always defined;
 * `not` of undefined is undefined; loops count an undefined body as false;
 * a rule is true only if its condition is defined and true.
 *
 * Strings: existence comes from the matcher when its expression was exact
 * and no fullword check applies. Offsets, counts, lengths, `at`/`in`,
 * fullword and printing (-s) need yara's exact list of matches: every start
 * offset where the string matches, with the length yara would give (first
 * alternative, greedy or lazy repetition). That list is computed on demand,
 * once per string and object, with memmem for literals and the Pike VM
 * (pike.c) otherwise, bounded by yara's limits (regex scan length 4096,
 * 1,000,000 matches per string).
 */
#define _GNU_SOURCE
#include "engine/exec.h"

#include <float.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/modules/module.h"
#include "engine/pike.h"
#include "engine/rules_int.h"
#include "engine/yara/yara.h"

#define MAX_DEPTH 256u

typedef struct ymatch {
    uint64_t off;
    uint32_t len;
    uint32_t alt; /* which alternative found it: the first wins at an offset */
} ymatch;

typedef struct ystate {
    uint8_t computed; /* 0: not yet, 1: found known, 2: full list */
    uint8_t found;
    ymatch *m;
    size_t n, cap;
} ystate;

/* A value during evaluation. */
typedef struct yv {
    uint8_t type;
    uint8_t defined;
    union {
        int64_t i;
        double f;
        struct {
            const uint8_t *p;
            uint32_t n;
        } s;
        const kh_yobj *o;
    } v;
} yv;

/* A report of an atom by the matcher. */
typedef struct ahit {
    uint64_t end;
    uint32_t next; /* next report of the same atom + 1, 0: none */
} ahit;

#define MAX_ATOM_HITS 65536u /* per atom and object; beyond, the string is searched on its own */

/* What a rule's condition requires whatever its strings: the conjuncts of
 * its top-level `and` chain of the forms `uint16(0) == 0x5a4d` and
 * `filesize < N`. Checked before the condition is evaluated: a file
 * failing them makes the rule false at the cost of one read (most rules of
 * a set are for one file type; most files are of another). */
typedef struct ygate {
    uint8_t has_read;
    uint16_t aux;   /* KH_YO_READ's size and sign */
    uint64_t off;
    int64_t val;
    uint64_t fmin, fmax; /* filesize bounds */
} ygate;

struct kh_yscan {
    const struct kh_rules *r;
    /* reports of the current object, per atom */
    uint32_t *ahead, *atail, *acount;
    uint8_t *scand;      /* per string: one of its atoms was reported */
    uint8_t *sover;      /* per string: an atom overflowed */
    uint32_t *touched;   /* atoms reported (to reset) */
    uint32_t ntouched;
    uint32_t *stouched;  /* strings marked (to reset) */
    uint32_t nstouched;
    uint32_t *always;    /* rules evaluated whatever the reports (no NEEDS_STRING) */
    uint32_t nalways;
    uint32_t *global;    /* global rules */
    uint32_t nglobal;
    uint32_t *rcand;     /* rules to evaluate for the current object, in order */
    uint32_t nrcand;
    uint8_t *rmark;      /* rule already in rcand */
    ygate *gates;        /* per rule */
    uint64_t object;     /* id of the current object (module caches) */
    uint32_t *scomp;     /* strings whose state was computed for the previous object */
    uint8_t *multi;      /* per string: reported in full by -f (yara clears its SINGLE_MATCH flag) */
    uint32_t nscomp;
    ahit *hits_v;
    size_t nhits, caphits;
    ystate *st;          /* per YARA string */
    ystate tmp;          /* matches in a window (`at`, `in`), not kept */
    uint8_t *rstate;     /* per rule: 0 unknown, 1 false, 2 true, 3 evaluating */
    kh_pike_prog **prog; /* per pattern, compiled on first use */
    kh_pike_vm *vm;
    kh_yobj *mods;       /* per module: the loaded root */
    uint8_t *modstate;   /* 0 not loaded, 1 loaded */
    kh_yarena *arena;
    yv vars[KH_Y_MAX_LOOP_VARS];
    uint32_t cur_string; /* `$` of the innermost for-of */
    kh_yext *ext;        /* external values (copied, overridable) */
    kh_buf extbytes;     /* string values of overridden externals */
    /* current object */
    const uint8_t *data;
    size_t len;
    double deadline;
    unsigned steps;
    int err;
    kh_ylog_cb log;
    void *ud;
    /* report scratch */
    KH_VEC(kh_string_match) sm;
    KH_VEC(const char *) tags;
    KH_VEC(kh_meta) meta;
};

/* yara's fast mode (-f) stops looking for a string after its first match
 * only when the string is used as a bare `$a`: a count, offset, length,
 * `at`, `in` or `of .. in (range)` needs every match (a plain `any of`
 * does not), and `$` used so inside a for..of loop counts for every string of the rule
 * (yr_parser_reduce_string_identifier, yr_parser_emit_pushes_for_strings).
 * Marks the strings of rule `rule` that keep all their matches. */
static void mark_multi(const struct kh_rules *r, uint32_t e, const kh_yrule *rule, uint8_t *multi, unsigned depth)
{
    if (e >= r->nyexprs || depth > MAX_DEPTH)
        return;
    const kh_yexpr *x = &r->yexprs[e];
    switch (x->op) {
    case KH_YO_CONST_INT: case KH_YO_CONST_FLT: case KH_YO_CONST_STR: case KH_YO_CONST_BOOL: case KH_YO_REGEX:
    case KH_YO_FILESIZE: case KH_YO_ENTRYPOINT: case KH_YO_EXTERNAL: case KH_YO_VAR: case KH_YO_RULE:
    case KH_YO_MODULE: case KH_YO_SET_RULES: case KH_YO_STR_FOUND:
        return;
    case KH_YO_STR_AT: case KH_YO_STR_IN: case KH_YO_STR_COUNT: case KH_YO_STR_COUNT_IN: case KH_YO_STR_OFFSET:
    case KH_YO_STR_LENGTH:
        if (x->a == UINT32_MAX)
            memset(multi + rule->str, 1, rule->nstr);
        else if (x->a < r->nystrs)
            multi[x->a] = 1;
        if (x->op != KH_YO_STR_COUNT)
            mark_multi(r, x->b, rule, multi, depth + 1);
        return;
    case KH_YO_SET_STRINGS: /* `any of ($a, $b)` needs one match each (measured on yara 4.2.3 -f) */
        return;
    case KH_YO_ENUM:
        for (uint32_t i = 0; i < x->b; i++)
            mark_multi(r, r->ylists[x->a + i], rule, multi, depth + 1);
        return;
    case KH_YO_OF: case KH_YO_FOR_OF: case KH_YO_FOR_IN:
        if (x->aux == KH_YQ_NUM || x->aux == KH_YQ_PERCENT)
            mark_multi(r, x->a, rule, multi, depth + 1);
        mark_multi(r, x->b, rule, multi, depth + 1);
        if (x->c != UINT32_MAX)
            mark_multi(r, x->c, rule, multi, depth + 1);
        if (x->op == KH_YO_OF && x->c != UINT32_MAX && x->b < r->nyexprs && r->yexprs[x->b].op == KH_YO_SET_STRINGS) {
            const kh_yexpr *set = &r->yexprs[x->b]; /* `of ... in (range)`: every match is a candidate */
            for (uint32_t i = 0; i < set->b; i++)
                if (r->ylists[set->a + i] < r->nystrs)
                    multi[r->ylists[set->a + i]] = 1;
        }
        return;
    case KH_YO_MATCHES: case KH_YO_NOT: case KH_YO_DEFINED: case KH_YO_NEG: case KH_YO_BNOT: case KH_YO_READ:
    case KH_YO_FIELD:
        mark_multi(r, x->a, rule, multi, depth + 1);
        return;
    case KH_YO_CALL:
        mark_multi(r, x->a, rule, multi, depth + 1);
        for (int64_t i = 0; i < x->imm.i && i < 16; i++)
            mark_multi(r, r->ylists[x->c + (uint32_t)i], rule, multi, depth + 1);
        return;
    default: /* binary operators, ranges, index and key lookups */
        mark_multi(r, x->a, rule, multi, depth + 1);
        mark_multi(r, x->b, rule, multi, depth + 1);
        return;
    }
}

static void find_gates(const kh_yexpr *ex, uint32_t nex, uint32_t e, ygate *g, unsigned depth)
{
    if (e >= nex || depth > 64)
        return;
    const kh_yexpr *x = &ex[e];
    if (x->op == KH_YO_AND) {
        find_gates(ex, nex, x->a, g, depth + 1);
        find_gates(ex, nex, x->b, g, depth + 1);
        return;
    }
    if (x->a >= nex || x->b >= nex)
        return;
    const kh_yexpr *l = &ex[x->a], *k = &ex[x->b];
    if (k->op != KH_YO_CONST_INT)
        return;
    if (x->op == KH_YO_EQ && l->op == KH_YO_READ && !g->has_read && l->a < nex && ex[l->a].op == KH_YO_CONST_INT &&
        ex[l->a].imm.i >= 0) {
        g->has_read = 1;
        g->aux = l->aux;
        g->off = (uint64_t)ex[l->a].imm.i;
        g->val = k->imm.i;
    } else if (l->op == KH_YO_FILESIZE) {
        int64_t v = k->imm.i;
        if (x->op == KH_YO_LT)
            g->fmax = v <= 0 ? 0 : KH_MIN(g->fmax, (uint64_t)v - 1), g->fmin = v <= 0 ? UINT64_MAX : g->fmin;
        else if (x->op == KH_YO_LE)
            g->fmax = v < 0 ? 0 : KH_MIN(g->fmax, (uint64_t)v), g->fmin = v < 0 ? UINT64_MAX : g->fmin;
        else if (x->op == KH_YO_GT && v >= 0)
            g->fmin = KH_MAX(g->fmin, (uint64_t)v + 1);
        else if (x->op == KH_YO_GE && v > 0)
            g->fmin = KH_MAX(g->fmin, (uint64_t)v);
    }
}

/* A rule's gate (none when its condition uses the console module:
 * console.log() prints, so the condition runs as written). */
static void rule_gate(const kh_yexpr *ex, uint32_t nex, const kh_yrule *rule, ygate *g)
{
    memset(g, 0, sizeof(*g));
    g->fmax = UINT64_MAX;
    int console = kh_ymodule_find("console");
    if (console < 0 || console >= 32 || !(rule->modules & (1u << console)))
        find_gates(ex, nex, rule->cond, g, 0);
}

void kh_yrule_bounds(const struct kh_yexpr *ex, uint32_t nex, const struct kh_yrule *rule, int *mz_only,
                     uint64_t *max_filesize)
{
    ygate g;
    rule_gate(ex, nex, rule, &g);
    /* uint16(0) == 0x5a4d, or int16(0): the same two bytes "MZ" */
    *mz_only = g.has_read && g.off == 0 && KH_YR_SIZE(g.aux) == 2 && !(g.aux & KH_YR_BE) && g.val == 0x5a4d;
    *max_filesize = g.fmax;
}

static yv read_int(const kh_yscan *ys, uint16_t aux, const yv *off);

/* Does the current object pass rule ri's gate? (Exactly what the condition's
 * own `and` would decide for those conjuncts: an out-of-range read is
 * undefined, which `and` takes as false.) */
static int gate_open(const kh_yscan *ys, uint32_t ri)
{
    const ygate *g = &ys->gates[ri];
    if (ys->len < g->fmin || ys->len > g->fmax)
        return 0;
    if (!g->has_read)
        return 1;
    yv off = {.type = KH_YT_INT, .defined = 1, .v.i = (int64_t)g->off};
    yv v = read_int(ys, g->aux, &off);
    return v.defined && v.v.i == g->val;
}

int kh_yscan_create(kh_yscan **out, const struct kh_rules *r)
{
    kh_yscan *ys = calloc(1, sizeof(*ys));
    if (!ys)
        return KH_ENOMEM;
    ys->r = r;
    kh_buf_init(&ys->extbytes, 1u << 20);
    ys->st = calloc(r->nystrs ? r->nystrs : 1, sizeof(ystate));
    ys->rstate = calloc(r->nyrules ? r->nyrules : 1, 1);
    ys->prog = calloc(r->npats ? r->npats : 1, sizeof(kh_pike_prog *));
    ys->mods = calloc(kh_nymodules, sizeof(kh_yobj));
    ys->modstate = calloc(kh_nymodules, 1);
    ys->ext = malloc(sizeof(kh_yext) * (r->nyexts ? r->nyexts : 1));
    size_t na = r->nyatoms ? r->nyatoms : 1, ns = r->nystrs ? r->nystrs : 1;
    ys->ahead = calloc(na, sizeof(uint32_t));
    ys->atail = calloc(na, sizeof(uint32_t));
    ys->acount = calloc(na, sizeof(uint32_t));
    ys->touched = calloc(na, sizeof(uint32_t));
    ys->scand = calloc(ns, 1);
    ys->sover = calloc(ns, 1);
    ys->stouched = calloc(ns, sizeof(uint32_t));
    size_t nr = r->nyrules ? r->nyrules : 1;
    ys->always = calloc(nr, sizeof(uint32_t));
    ys->global = calloc(nr, sizeof(uint32_t));
    ys->rcand = calloc(nr, sizeof(uint32_t));
    ys->rmark = calloc(nr, 1);
    ys->scomp = calloc(ns, sizeof(uint32_t));
    ys->multi = calloc(ns, 1);
    ys->gates = calloc(nr, sizeof(ygate));
    for (uint32_t i = 0; ys->gates && i < r->nyrules; i++)
        rule_gate(r->yexprs, r->nyexprs, &r->yrules[i], &ys->gates[i]);
    for (uint32_t i = 0; ys->multi && i < r->nyrules; i++)
        mark_multi(r, r->yrules[i].cond, &r->yrules[i], ys->multi, 0);
    for (uint32_t i = 0; ys->always && i < r->nyrules; i++) {
        int always = !(r->yrules[i].flags & KH_YRF_NEEDS_STRING);
        /* strings searched only at a fixed offset are never reported */
        for (uint32_t k = 0; !always && k < r->yrules[i].nstr; k++)
            always = r->ystrs[r->yrules[i].str + k].mode == KH_YSM_FIXED;
        if (always)
            ys->always[ys->nalways++] = i;
    }
    for (uint32_t i = 0; ys->global && i < r->nyrules; i++)
        if (r->yrules[i].flags & KH_YRF_GLOBAL)
            ys->global[ys->nglobal++] = i;
    int rc = (!ys->st || !ys->rstate || !ys->prog || !ys->mods || !ys->modstate || !ys->ext || !ys->ahead ||
              !ys->atail || !ys->acount || !ys->touched || !ys->scand || !ys->sover || !ys->stouched || !ys->always || !ys->global ||
              !ys->rcand || !ys->rmark || !ys->scomp || !ys->multi || !ys->gates)
                 ? KH_ENOMEM
                 : 0;
    if (!rc)
        rc = kh_pike_vm_create(&ys->vm);
    if (rc) {
        kh_yscan_destroy(ys);
        return rc;
    }
    if (r->nyexts)
        memcpy(ys->ext, r->yexts, sizeof(kh_yext) * r->nyexts);
    *out = ys;
    return 0;
}

void kh_yscan_destroy(kh_yscan *ys)
{
    if (!ys)
        return;
    if (ys->st)
        for (uint32_t i = 0; i < ys->r->nystrs; i++)
            free(ys->st[i].m);
    if (ys->prog)
        for (uint32_t i = 0; i < ys->r->npats; i++)
            kh_pike_free(ys->prog[i]);
    free(ys->ahead);
    free(ys->atail);
    free(ys->acount);
    free(ys->touched);
    free(ys->scand);
    free(ys->sover);
    free(ys->stouched);
    free(ys->always);
    free(ys->global);
    free(ys->rcand);
    free(ys->rmark);
    free(ys->scomp);
    free(ys->multi);
    free(ys->gates);
    free(ys->hits_v);
    free(ys->st);
    free(ys->tmp.m);
    free(ys->rstate);
    free(ys->prog);
    free(ys->mods);
    free(ys->modstate);
    free(ys->ext);
    kh_buf_dispose(&ys->extbytes);
    kh_pike_vm_destroy(ys->vm);
    kh_yarena_destroy(ys->arena);
    KH_VEC_FREE(ys->sm);
    KH_VEC_FREE(ys->tags);
    KH_VEC_FREE(ys->meta);
    free(ys);
}

int kh_yscan_define(kh_yscan *ys, const char *name, const char *value)
{
    for (uint32_t i = 0; i < ys->r->nyexts; i++) {
        if (strcmp(ys->r->strs + ys->r->yexts[i].name, name) != 0)
            continue;
        kh_yext *e = &ys->ext[i];
        char *end;
        switch (e->type) {
        case KH_YT_BOOL:
            if (strcmp(value, "true") && strcmp(value, "false"))
                return KH_EINVAL;
            e->i = value[0] == 't';
            return 0;
        case KH_YT_INT:
            e->i = strtoll(value, &end, 0);
            return *value && !*end ? 0 : KH_EINVAL;
        case KH_YT_FLOAT:
            e->f = strtod(value, &end);
            return *value && !*end ? 0 : KH_EINVAL;
        default: {
            /* Overridden strings live in extbytes; soff is tagged with the top bit. */
            size_t off = ys->extbytes.len;
            if (kh_buf_append(&ys->extbytes, value, strlen(value)))
                return KH_ENOMEM;
            e->soff = (uint32_t)off | 0x80000000u;
            e->slen = (uint32_t)strlen(value);
            return 0;
        }
        }
    }
    return KH_ENOTFOUND;
}

/* ---- String matches ------------------------------------------------------------------------ */

/* Could string si occur? (One of its atoms was reported, or it is not
 * searched through atoms at all.) */
static int cand(const kh_yscan *ys, uint32_t si)
{
    uint8_t mode = ys->r->ystrs[si].mode;
    return ys->scand[si] || mode == KH_YSM_FIXED;
}

void kh_yscan_report_string(kh_yscan *ys, uint32_t si)
{
    if (si >= ys->r->nystrs || ys->scand[si])
        return;
    ys->scand[si] = 1;
    ys->stouched[ys->nstouched++] = si;
}

static atomic_uint_fast64_t next_object = 1;

void kh_yscan_begin(kh_yscan *ys, const uint8_t *data, size_t len)
{
    ys->object = atomic_fetch_add(&next_object, 1);
    for (uint32_t i = 0; i < ys->ntouched; i++) {
        uint32_t a = ys->touched[i];
        ys->ahead[a] = ys->atail[a] = ys->acount[a] = 0;
    }
    for (uint32_t i = 0; i < ys->nstouched; i++) {
        uint32_t k = ys->stouched[i];
        ys->scand[k] = ys->sover[k] = 0;
    }
    ys->ntouched = ys->nstouched = 0;
    ys->nhits = 0;
    ys->data = data;
    ys->len = len;
}

static void report_atom(kh_yscan *ys, uint32_t atom, uint64_t end)
{
    const kh_yatom *a = &ys->r->yatoms[atom];
    uint32_t si = a->str;
    if (!ys->scand[si] && !ys->sover[si]) {
        ys->stouched[ys->nstouched++] = si;
        ys->scand[si] = 1;
    }
    ys->scand[si] = 1;
    if (ys->sover[si])
        return;
    if (ys->acount[atom] == 0)
        ys->touched[ys->ntouched++] = atom;
    if (++ys->acount[atom] > MAX_ATOM_HITS) {
        ys->sover[si] = 1;
        return;
    }
    if (ys->nhits == ys->caphits) {
        size_t ncap = ys->caphits ? ys->caphits * 2 : 4096;
        ahit *v = realloc(ys->hits_v, ncap * sizeof(ahit));
        if (!v) {
            ys->sover[si] = 1; /* searched on its own later */
            return;
        }
        ys->hits_v = v;
        ys->caphits = ncap;
    }
    ahit *h = &ys->hits_v[ys->nhits++];
    h->end = end;
    h->next = 0;
    if (ys->atail[atom])
        ys->hits_v[ys->atail[atom] - 1].next = (uint32_t)ys->nhits;
    else
        ys->ahead[atom] = (uint32_t)ys->nhits;
    ys->atail[atom] = (uint32_t)ys->nhits;
}

/* A report of the matcher's literal for `atom`: also one of every later
 * atom with the same literal (its twins). */
void kh_yscan_report(kh_yscan *ys, uint32_t atom, uint64_t end)
{
    while (atom < ys->r->nyatoms) {
        report_atom(ys, atom, end);
        uint32_t t = ys->r->yatoms[atom].twin;
        if (t <= atom + 1)
            return; /* none (or not a later atom: a damaged set) */
        atom = t - 1;
    }
}

static int add_match(ystate *s, uint64_t off, uint32_t len)
{
    if (s->n >= KH_Y_MAX_MATCHES)
        return 1;
    if (s->n == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 16;
        ymatch *m = realloc(s->m, ncap * sizeof(ymatch));
        if (!m)
            return -1;
        s->m = m;
        s->cap = ncap;
    }
    s->m[s->n].off = off;
    s->m[s->n].len = len;
    s->m[s->n].alt = 0;
    s->n++;
    return 0;
}

static int cmp_match(const void *a, const void *b)
{
    const ymatch *x = a, *y = b;
    if (x->off != y->off)
        return x->off < y->off ? -1 : 1;
    return x->alt < y->alt ? -1 : x->alt > y->alt;
}

static int timed_out(kh_yscan *ys)
{
    if (ys->deadline > 0 && (++ys->steps & 0x3ff) == 0 && kh_now() > ys->deadline) {
        ys->err = KH_ETIMEOUT;
        return 1;
    }
    return ys->err != 0;
}

/* A literal alternative: its bytes and the (fullword) checks around it. */
typedef struct litalt {
    const kh_node *lit;
    uint32_t before, after; /* KH_AS_* or 0 */
} litalt;

static int literal_one(const struct kh_rules *r, const kh_node *nd, litalt *out)
{
    out->before = out->after = 0;
    if (nd->op == KH_OP_LIT) {
        out->lit = nd;
        return 1;
    }
    if (nd->op != KH_OP_SEQ || nd->b != 3)
        return 0;
    const kh_node *x = &r->nodes[r->kids[nd->a]], *l = &r->nodes[r->kids[nd->a + 1]],
                  *y = &r->nodes[r->kids[nd->a + 2]];
    if (x->op != KH_OP_ASSERT || l->op != KH_OP_LIT || y->op != KH_OP_ASSERT)
        return 0;
    out->lit = l;
    out->before = x->a;
    out->after = y->a;
    return 1;
}

/* The literal alternatives of a tree: a literal, an ALT of them, possibly
 * each between fullword checks, or the whole ALT between checks. */
static int literal_alts(const struct kh_rules *r, uint32_t root, litalt *alts, uint32_t *n)
{
    const kh_node *nd = &r->nodes[root];
    if (literal_one(r, nd, &alts[0])) {
        *n = 1;
        return 1;
    }
    uint32_t before = 0, after = 0;
    if (nd->op == KH_OP_SEQ && nd->b == 3 && r->nodes[r->kids[nd->a]].op == KH_OP_ASSERT &&
        r->nodes[r->kids[nd->a + 2]].op == KH_OP_ASSERT) {
        before = r->nodes[r->kids[nd->a]].a;
        after = r->nodes[r->kids[nd->a + 2]].a;
        nd = &r->nodes[r->kids[nd->a + 1]];
    }
    if (nd->op != KH_OP_ALT || nd->b > 1024)
        return 0;
    for (uint32_t i = 0; i < nd->b; i++) {
        if (!literal_one(r, &r->nodes[r->kids[nd->a + i]], &alts[i]))
            return 0;
        if (before && (alts[i].before || alts[i].after))
            return 0;
        if (before) {
            alts[i].before = before;
            alts[i].after = after;
        }
    }
    *n = nd->b;
    return 1;
}

/* Finds the matches of string si that start in [lo, hi] into s; with
 * `first_only`, stops at the first. */
static int scan_string(kh_yscan *ys, uint32_t si, uint64_t lo, uint64_t hi, int first_only, ystate *s)
{
    const struct kh_rules *r = ys->r;
    const kh_ystr *ystr = &r->ystrs[si];
    const kh_pat *pat = &r->pats[ystr->pat];
    s->n = 0;
    s->found = 0;
    if (!cand(ys, si))
        goto done;
    const uint8_t *d = ys->data;
    size_t len = ys->len;
    if (lo >= len)
        goto done;
    if (hi >= len)
        hi = len - 1;
    if (!ys->prog[ystr->pat] && !ystr->fixed) {
        /* compiled lazily below when needed */
    }
    if (ystr->fixed) {
        /* used only as `$a at N`: yara looks there and nowhere else */
        if (ystr->fixed_offset < 0 || (uint64_t)ystr->fixed_offset >= len || (uint64_t)ystr->fixed_offset < lo ||
            (uint64_t)ystr->fixed_offset > hi)
            goto done;
        if (!ys->prog[ystr->pat]) {
            int rc = kh_pike_compile(r, pat->root, &ys->prog[ystr->pat]);
            if (rc)
                return rc;
        }
        size_t pos = (size_t)ystr->fixed_offset;
        size_t lim = (ystr->flags & KH_YS_REGEX) ? KH_Y_RE_SCAN_LIMIT : (pat->maxlen == KH_INF ? len : pat->maxlen);
        int64_t m = kh_pike_match(ys->vm, ys->prog[ystr->pat], d, len, pos, lim);
        if (m < -1)
            return KH_ENOMEM;
        if (m > 0 && add_match(s, pos, (uint32_t)m) < 0)
            return KH_ENOMEM;
        goto done;
    }
    litalt alts[1024];
    uint32_t nalts;
    if (literal_alts(r, pat->root, alts, &nalts)) {
        for (uint32_t a = 0; a < nalts; a++) {
            const uint8_t *lit = r->bytes + alts[a].lit->a;
            size_t L = alts[a].lit->b;
            const uint8_t *p = d + lo, *end = d + KH_MIN((uint64_t)len, hi + L);
            while (L && p + L <= end) {
                const uint8_t *f = memmem(p, (size_t)(end - p), lit, L);
                if (!f)
                    break;
                uint64_t off = (uint64_t)(f - d);
                p = f + 1;
                if ((alts[a].before && !kh_pike_assert(alts[a].before, d, len, len, (size_t)off)) ||
                    (alts[a].after && !kh_pike_assert(alts[a].after, d, len, len, (size_t)off + L)))
                    continue;
                int ar = add_match(s, off, (uint32_t)L);
                if (ar < 0)
                    return KH_ENOMEM;
                if (ar == 0)
                    s->m[s->n - 1].alt = a;
                if (ar > 0 || first_only)
                    break;
                if (timed_out(ys))
                    return ys->err;
            }
            if (first_only && s->n)
                break;
        }
        if (nalts > 1 && s->n > 1) {
            /* One match per offset: the first alternative wins (stable order kept by offset sort + scan). */
            kh_qsort(s->m, s->n, sizeof(ymatch), cmp_match);
            size_t k = 0;
            for (size_t i = 0; i < s->n; i++)
                if (k == 0 || s->m[k - 1].off != s->m[i].off)
                    s->m[k++] = s->m[i];
            s->n = k;
        }
        goto done;
    }
    if (!ys->prog[ystr->pat]) {
        int rc = kh_pike_compile(r, pat->root, &ys->prog[ystr->pat]);
        if (rc)
            return rc;
    }
    const kh_pike_prog *prog = ys->prog[ystr->pat];
    uint8_t first[32];
    int useful = kh_pike_first(prog, first);
    size_t limit = (ystr->flags & KH_YS_REGEX) ? KH_Y_RE_SCAN_LIMIT : (pat->maxlen == KH_INF ? len : pat->maxlen);
    if ((ystr->flags & KH_YS_REGEX) && pat->maxlen != KH_INF && pat->maxlen > limit)
        limit = pat->maxlen;
    for (size_t pos = (size_t)lo; pos <= hi; pos++) {
        if (useful && !((first[d[pos] >> 3] >> (d[pos] & 7)) & 1))
            continue;
        if (timed_out(ys))
            return ys->err;
        int64_t m = kh_pike_match(ys->vm, prog, d, len, pos, limit);
        if (m < -1)
            return KH_ENOMEM;
        if (m <= 0)
            continue;
        int ar = add_match(s, pos, (uint32_t)m);
        if (ar < 0)
            return KH_ENOMEM;
        if (ar > 0 || first_only)
            break;
    }
done:
    s->found = s->n > 0;
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int prog_of(kh_yscan *ys, uint32_t si, const kh_pike_prog **out)
{
    const kh_ystr *ystr = &ys->r->ystrs[si];
    if (!ys->prog[ystr->pat]) {
        int rc = kh_pike_compile(ys->r, ys->r->pats[ystr->pat].root, &ys->prog[ystr->pat]);
        if (rc)
            return rc;
    }
    *out = ys->prog[ystr->pat];
    return 0;
}

static size_t limit_of(const kh_yscan *ys, uint32_t si)
{
    const kh_ystr *ystr = &ys->r->ystrs[si];
    const kh_pat *pat = &ys->r->pats[ystr->pat];
    size_t limit = (ystr->flags & KH_YS_REGEX) ? KH_Y_RE_SCAN_LIMIT : (pat->maxlen == KH_INF ? ys->len : pat->maxlen);
    if ((ystr->flags & KH_YS_REGEX) && pat->maxlen != KH_INF && pat->maxlen > limit)
        limit = pat->maxlen;
    return limit;
}

/* Matches found through the atoms' reports: exact literals (with their
 * fullword checks) or starts confirmed with the Pike VM. Returns 1 in
 * *fallback when the reports cannot answer (an atom overflowed, or an
 * unbounded distance to the start). */
static int from_atoms(kh_yscan *ys, uint32_t si, int first_only, ystate *s, int *fallback)
{
    const struct kh_rules *r = ys->r;
    const kh_ystr *ystr = &r->ystrs[si];
    *fallback = 0;
    s->n = 0;
    if (ys->sover[si]) {
        *fallback = 1;
        return 0;
    }
    if (ystr->mode == KH_YSM_EXACT) {
        for (uint32_t k = 0; k < ystr->natoms; k++) {
            const kh_yatom *a = &r->yatoms[ystr->atom + k];
            for (uint32_t h = ys->ahead[ystr->atom + k]; h; h = ys->hits_v[h - 1].next) {
                uint64_t end = ys->hits_v[h - 1].end, off = end - a->len;
                if ((a->before && !kh_pike_assert(a->before, ys->data, ys->len, ys->len, (size_t)off)) ||
                    (a->after && !kh_pike_assert(a->after, ys->data, ys->len, ys->len, (size_t)end)))
                    continue;
                int ar = add_match(s, off, a->len);
                if (ar < 0)
                    return KH_ENOMEM;
                if (ar == 0)
                    s->m[s->n - 1].alt = a->variant;
                if (ar > 0 || first_only)
                    break;
            }
            if (first_only && s->n)
                break;
        }
    } else {
        /* candidate starts, confirmed with the whole pattern (so alternatives keep yara's priorities) */
        const kh_pike_prog *prog;
        int rc = prog_of(ys, si, &prog);
        if (rc)
            return rc;
        size_t limit = limit_of(ys, si);
        KH_VEC(uint64_t) starts = {0};
        for (uint32_t k = 0; k < ystr->natoms; k++) {
            const kh_yatom *a = &r->yatoms[ystr->atom + k];
            uint64_t back = a->pmax;
            if (a->pmax == KH_INF) {
                if (!(ystr->flags & KH_YS_REGEX)) {
                    KH_VEC_FREE(starts);
                    *fallback = 1;
                    return 0;
                }
                back = KH_Y_RE_SCAN_LIMIT;
            }
            for (uint32_t h = ys->ahead[ystr->atom + k]; h; h = ys->hits_v[h - 1].next) {
                uint64_t as = ys->hits_v[h - 1].end - a->len;
                if (as < a->pmin)
                    continue;
                uint64_t hi = as - a->pmin, lo = as > back ? as - back : 0;
                if (hi - lo > 65536) {
                    KH_VEC_FREE(starts);
                    *fallback = 1;
                    return 0;
                }
                for (uint64_t st = lo; st <= hi; st++) {
                    if (first_only) {
                        int64_t m = kh_pike_match(ys->vm, prog, ys->data, ys->len, (size_t)st, limit);
                        if (m < -1) {
                            KH_VEC_FREE(starts);
                            return KH_ENOMEM;
                        }
                        if (m > 0) {
                            KH_VEC_FREE(starts);
                            return add_match(s, st, (uint32_t)m) < 0 ? KH_ENOMEM : 0;
                        }
                        continue;
                    }
                    if (KH_VEC_RESERVE(starts, 1, 0)) {
                        KH_VEC_FREE(starts);
                        return KH_ENOMEM;
                    }
                    starts.v[starts.n++] = st;
                }
                if (timed_out(ys)) {
                    KH_VEC_FREE(starts);
                    return ys->err;
                }
            }
        }
        if (starts.n > 1)
            kh_qsort(starts.v, starts.n, sizeof(uint64_t), cmp_u64);
        for (size_t i = 0; i < starts.n; i++) {
            if (i && starts.v[i] == starts.v[i - 1])
                continue;
            int64_t m = kh_pike_match(ys->vm, prog, ys->data, ys->len, (size_t)starts.v[i], limit);
            if (m < -1) {
                KH_VEC_FREE(starts);
                return KH_ENOMEM;
            }
            if (m > 0 && add_match(s, starts.v[i], (uint32_t)m) > 0)
                break;
        }
        KH_VEC_FREE(starts);
        return 0;
    }
    if (s->n > 1) {
        kh_qsort(s->m, s->n, sizeof(ymatch), cmp_match);
        size_t k = 0;
        for (size_t i = 0; i < s->n; i++)
            if (k == 0 || s->m[k - 1].off != s->m[i].off)
                s->m[k++] = s->m[i];
        s->n = k;
    }
    return 0;
}

/* Whether reports can answer for this string (else scan_string searches). */
static int uses_atoms(const kh_yscan *ys, uint32_t si)
{
    const kh_ystr *ystr = &ys->r->ystrs[si];
    if (ystr->mode == KH_YSM_ATOMS)
        return 1;
    if (ystr->mode != KH_YSM_EXACT)
        return 0;
    /* an exact string reported only once (no fullword check) has no positions */
    for (uint32_t k = 0; k < ystr->natoms; k++) {
        const kh_yatom *a = &ys->r->yatoms[ystr->atom + k];
        if (a->before || a->after)
            return 1;
    }
    return 0;
}

/* Computes (and keeps) the matches of string si over the whole object. */
static int enumerate(kh_yscan *ys, uint32_t si, int first_only)
{
    ystate *s = &ys->st[si];
    int rc = 0, fallback = 1;
    s->n = 0;
    if (!cand(ys, si)) {
        fallback = 0;
    } else if (uses_atoms(ys, si)) {
        rc = from_atoms(ys, si, first_only, s, &fallback);
    }
    if (!rc && fallback)
        rc = scan_string(ys, si, 0, UINT64_MAX, first_only, s);
    if (!rc) {
        if (!s->computed)
            ys->scomp[ys->nscomp++] = si;
        s->found = s->n > 0;
        s->computed = first_only ? 1 : 2;
    }
    return rc;
}

/* Counts the matches of si starting in [lo, hi] (stopping at the first with
 * `any`), without computing the whole list unless it is already known. */
static int window_count(kh_yscan *ys, uint32_t si, int64_t lo, int64_t hi, int any, uint64_t *count)
{
    ystate *s = &ys->st[si];
    *count = 0;
    if (hi < lo || hi < 0)
        return 0;
    if (lo < 0)
        lo = 0;
    if (s->computed == 2) {
        for (size_t k = 0; k < s->n; k++)
            if ((int64_t)s->m[k].off >= lo && (int64_t)s->m[k].off <= hi)
                (*count)++;
        return 0;
    }
    int rc = scan_string(ys, si, (uint64_t)lo, (uint64_t)hi, any, &ys->tmp);
    if (!rc)
        *count = ys->tmp.n;
    return rc;
}

static int string_found(kh_yscan *ys, uint32_t si, int *found)
{
    ystate *s = &ys->st[si];
    if (s->computed) {
        *found = s->found;
        return 0;
    }
    if (!cand(ys, si)) {
        ys->scomp[ys->nscomp++] = si;
        s->computed = 1;
        s->found = 0;
    } else if ((ys->r->ystrs[si].mode == KH_YSM_EXACT && !uses_atoms(ys, si)) ||
               (ys->r->ystrs[si].mode == KH_YSM_UNFILTERED && ys->r->pats[ys->r->ystrs[si].pat].exact)) {
        ys->scomp[ys->nscomp++] = si;
        s->computed = 1; /* reported by an exact search: it occurs */
        s->found = 1;
    } else {
        int rc = enumerate(ys, si, 1);
        if (rc)
            return rc;
    }
    *found = s->found;
    return 0;
}

static int string_matches(kh_yscan *ys, uint32_t si, const ystate **out)
{
    ystate *s = &ys->st[si];
    if (s->computed != 2) {
        int rc = enumerate(ys, si, 0);
        if (rc)
            return rc;
    }
    *out = s;
    return 0;
}

/* ---- Values ---------------------------------------------------------------------------------- */

static yv undef(void)
{
    yv v;
    memset(&v, 0, sizeof(v));
    return v;
}

static yv vint(int64_t i)
{
    yv v = undef();
    v.type = KH_YT_INT;
    v.defined = 1;
    v.v.i = i;
    return v;
}

static yv vbool(int b)
{
    yv v = vint(b ? 1 : 0);
    v.type = KH_YT_BOOL;
    return v;
}

static yv vflt(double f)
{
    yv v = undef();
    v.type = KH_YT_FLOAT;
    v.defined = 1;
    v.v.f = f;
    return v;
}

static yv vstr(const uint8_t *p, uint32_t n)
{
    yv v = undef();
    v.type = KH_YT_STR;
    v.defined = 1;
    v.v.s.p = p;
    v.v.s.n = n;
    return v;
}

static double as_f(const yv *v) { return v->type == KH_YT_FLOAT ? v->v.f : (double)v->v.i; }

/* A boolean context: undefined is false. */
static int truth(const yv *v)
{
    if (!v->defined)
        return 0;
    switch (v->type) {
    case KH_YT_FLOAT: return v->v.f != 0;
    case KH_YT_STR: return v->v.s.n > 0;
    default: return v->v.i != 0;
    }
}

static yv from_obj(const kh_yobj *o)
{
    yv v = undef();
    if (!o)
        return v;
    v.type = o->type;
    v.defined = o->defined;
    switch (o->type) {
    case KH_YT_INT: v.v.i = o->v.i; break;
    case KH_YT_FLOAT: v.v.f = o->v.f; break;
    case KH_YT_STR: v.v.s.p = o->v.s.p; v.v.s.n = o->v.s.n; break;
    default: v.v.o = o; v.defined = 1; break;
    }
    return v;
}

static int load_module(kh_yscan *ys, uint32_t m)
{
    if (ys->modstate[m])
        return 0;
    if (!ys->arena && !(ys->arena = kh_yarena_create()))
        return KH_ENOMEM;
    const kh_ymodule *mod = kh_ymodules[m];
    memset(&ys->mods[m], 0, sizeof(kh_yobj));
    ys->mods[m].decl = &mod->decl;
    int rc = kh_yobj_init_struct(&ys->mods[m], mod->decl.members, ys->arena);
    if (!rc)
        rc = mod->load(&ys->mods[m], ys->data, ys->len, ys->arena);
    if (rc == KH_ENOMEM)
        return rc;
    ys->modstate[m] = 1; /* a loader error leaves what it set; the rest stays undefined */
    return 0;
}

static const uint8_t *bytes_at(const kh_yscan *ys, uint32_t off) { return ys->r->bytes + off; }

static yv eval(kh_yscan *ys, uint32_t e, unsigned depth);

static int regex_search(kh_yscan *ys, uint32_t regex, const uint8_t *p, size_t n)
{
    uint32_t pi = ys->r->yregexes[regex].pat;
    if (!ys->prog[pi] && kh_pike_compile(ys->r, ys->r->pats[pi].root, &ys->prog[pi]))
        return 0;
    for (size_t s = 0; s <= n; s++) {
        int64_t m = kh_pike_match(ys->vm, ys->prog[pi], p, n, s, n - s);
        if (m >= 0)
            return 1;
    }
    return 0;
}

static int regex_cb(void *scan, uint32_t regex, const uint8_t *p, size_t n) { return regex_search(scan, regex, p, n); }

static void log_cb(void *scan, const char *msg, size_t n)
{
    kh_yscan *ys = scan;
    if (ys->log)
        ys->log(ys->ud, msg, n);
}

static int icmp(const uint8_t *a, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int x = a[i] >= 'A' && a[i] <= 'Z' ? a[i] + 32 : a[i], y = b[i] >= 'A' && b[i] <= 'Z' ? b[i] + 32 : b[i];
        if (x != y)
            return x - y;
    }
    return 0;
}

static yv str_op(uint8_t op, const yv *a, const yv *b)
{
    const uint8_t *x = a->v.s.p, *y = b->v.s.p;
    size_t m = a->v.s.n, n = b->v.s.n;
    switch (op) {
    case KH_YO_CONTAINS:
        return vbool(n == 0 || (m >= n && memmem(x, m, y, n) != NULL));
    case KH_YO_ICONTAINS:
        if (n == 0)
            return vbool(1);
        for (size_t i = 0; i + n <= m; i++)
            if (icmp(x + i, y, n) == 0)
                return vbool(1);
        return vbool(0);
    case KH_YO_STARTSWITH: return vbool(m >= n && memcmp(x, y, n) == 0);
    case KH_YO_ISTARTSWITH: return vbool(m >= n && icmp(x, y, n) == 0);
    case KH_YO_ENDSWITH: return vbool(m >= n && memcmp(x + m - n, y, n) == 0);
    case KH_YO_IENDSWITH: return vbool(m >= n && icmp(x + m - n, y, n) == 0);
    case KH_YO_IEQUALS: return vbool(m == n && icmp(x, y, n) == 0);
    }
    return undef();
}

static int str_cmp(const yv *a, const yv *b)
{
    size_t n = KH_MIN(a->v.s.n, b->v.s.n);
    int c = n ? memcmp(a->v.s.p, b->v.s.p, n) : 0;
    if (c)
        return c;
    return a->v.s.n < b->v.s.n ? -1 : a->v.s.n > b->v.s.n;
}

static yv compare(uint8_t op, const yv *a, const yv *b)
{
    if (!a->defined || !b->defined)
        return undef();
    int c;
    if (a->type == KH_YT_STR) {
        c = str_cmp(a, b);
    } else if (a->type == KH_YT_FLOAT || b->type == KH_YT_FLOAT) {
        /* As yara 4.2 does it: ordering by IEEE, equality within
         * DBL_EPSILON (so 0.1 + 0.2 == 0.3). A NaN (0.0 \ 0) or an inf
         * against itself is then neither equal nor unequal, which a
         * three-way compare cannot express. */
        double x = as_f(a), y = as_f(b);
        switch (op) {
        case KH_YO_LT: return vbool(x < y);
        case KH_YO_LE: return vbool(x <= y);
        case KH_YO_GT: return vbool(x > y);
        case KH_YO_GE: return vbool(x >= y);
        case KH_YO_EQ: return vbool(fabs(x - y) < DBL_EPSILON);
        default: return vbool(fabs(x - y) >= DBL_EPSILON);
        }
    } else {
        c = a->v.i < b->v.i ? -1 : a->v.i > b->v.i;
    }
    switch (op) {
    case KH_YO_LT: return vbool(c < 0);
    case KH_YO_LE: return vbool(c <= 0);
    case KH_YO_GT: return vbool(c > 0);
    case KH_YO_GE: return vbool(c >= 0);
    case KH_YO_EQ: return vbool(c == 0);
    default: return vbool(c != 0);
    }
}

static yv arith(uint8_t op, const yv *a, const yv *b)
{
    if (!a->defined || !b->defined)
        return undef();
    if (a->type == KH_YT_FLOAT || b->type == KH_YT_FLOAT) {
        double x = as_f(a), y = as_f(b);
        switch (op) {
        case KH_YO_ADD: return vflt(x + y);
        case KH_YO_SUB: return vflt(x - y);
        case KH_YO_MUL: return vflt(x * y);
        case KH_YO_DIV: return vflt(x / y); /* yara: IEEE (x \ 0.0 is +-inf or nan), not undefined */
        }
        return undef();
    }
    uint64_t x = (uint64_t)a->v.i, y = (uint64_t)b->v.i;
    switch (op) {
    case KH_YO_ADD: return vint((int64_t)(x + y));
    case KH_YO_SUB: return vint((int64_t)(x - y));
    case KH_YO_MUL: return vint((int64_t)(x * y));
    case KH_YO_DIV:
        if (y == 0 || (a->v.i == INT64_MIN && b->v.i == -1))
            return undef();
        return vint(a->v.i / b->v.i);
    case KH_YO_MOD:
        if (y == 0 || (a->v.i == INT64_MIN && b->v.i == -1))
            return undef();
        return vint(a->v.i % b->v.i);
    case KH_YO_BAND: return vint((int64_t)(x & y));
    case KH_YO_BOR: return vint((int64_t)(x | y));
    case KH_YO_BXOR: return vint((int64_t)(x ^ y));
    /* as yara 4.2: a negative count is undefined, 64 or more gives 0, and
     * >> is arithmetic (-3 >> 1 is -2), written out since C leaves a
     * negative operand's right shift to the implementation */
    case KH_YO_SHL:
        if (b->v.i < 0)
            return undef();
        return vint(b->v.i >= 64 ? 0 : (int64_t)(x << y));
    case KH_YO_SHR:
        if (b->v.i < 0)
            return undef();
        if (b->v.i >= 64)
            return vint(0);
        return vint(a->v.i < 0 ? (int64_t)~(~x >> y) : (int64_t)(x >> y));
    }
    return undef();
}

static yv read_int(const kh_yscan *ys, uint16_t aux, const yv *off)
{
    if (!off->defined || off->v.i < 0)
        return undef();
    unsigned size = KH_YR_SIZE(aux);
    uint64_t o = (uint64_t)off->v.i;
    if (o > ys->len || ys->len - o < size)
        return undef();
    const uint8_t *p = ys->data + o;
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint64_t)p[(aux & KH_YR_BE) ? size - 1 - i : i] << (8 * i);
    if (!(aux & KH_YR_UNSIGNED)) {
        uint64_t sign = 1ull << (8 * size - 1);
        if (v & sign)
            v |= ~((sign << 1) - 1);
    }
    return vint((int64_t)v);
}

static uint32_t set_count(const kh_yscan *ys, uint32_t set) { return ys->r->yexprs[set].b; }
static uint32_t set_item(const kh_yscan *ys, uint32_t set, uint32_t i) { return ys->r->ylists[ys->r->yexprs[set].a + i]; }

static int eval_rule(kh_yscan *ys, uint32_t r, unsigned depth);

/* How many of the items must be true for quantifier q over n items; -1 undefined. */
static int64_t required(kh_yscan *ys, const kh_yexpr *x, uint32_t n, unsigned depth)
{
    switch (x->aux) {
    case KH_YQ_ALL: return n;
    case KH_YQ_ANY: return 1;
    case KH_YQ_NONE: return 0;
    default: {
        yv q = eval(ys, x->a, depth + 1);
        if (!q.defined)
            return -1;
        if (x->aux == KH_YQ_PERCENT)
            return (int64_t)ceil((double)n * (double)q.v.i / 100.0);
        return q.v.i;
    }
    }
}

static yv quantify(const kh_yexpr *x, int64_t need, uint32_t ntrue, uint32_t n)
{
    if (need < 0)
        return undef();
    switch (x->aux) {
    case KH_YQ_NONE: return vbool(ntrue == 0);
    case KH_YQ_ALL: return vbool(ntrue == n);
    case KH_YQ_ANY: return vbool(ntrue >= 1);
    default: return vbool((int64_t)ntrue >= need);
    }
}

static yv eval_of(kh_yscan *ys, const kh_yexpr *x, unsigned depth)
{
    uint32_t set = x->b, n = set_count(ys, set), ntrue = 0;
    int64_t need = required(ys, x, n, depth);
    if (need < 0)
        return undef();
    int64_t lo = 0, hi = 0;
    int ranged = x->c != UINT32_MAX;
    if (ranged) {
        yv a = eval(ys, ys->r->yexprs[x->c].a, depth + 1), b = eval(ys, ys->r->yexprs[x->c].b, depth + 1);
        if (!a.defined || !b.defined)
            return undef();
        lo = a.v.i;
        hi = b.v.i;
    }
    int rules = ys->r->yexprs[set].op == KH_YO_SET_RULES;
    for (uint32_t i = 0; i < n && !ys->err; i++) {
        uint32_t it = set_item(ys, set, i);
        int t = 0;
        if (rules) {
            t = eval_rule(ys, it, depth + 1);
        } else if (ranged) {
            uint64_t k = 0;
            if (cand(ys, it) && (ys->err = window_count(ys, it, lo, hi, 1, &k)))
                break;
            t = k > 0;
        } else {
            int f;
            if ((ys->err = string_found(ys, it, &f)))
                break;
            t = f;
        }
        ntrue += (uint32_t)t;
        /* early exits */
        if (x->aux == KH_YQ_ANY && ntrue)
            return vbool(1);
        if (x->aux == KH_YQ_NONE && ntrue)
            return vbool(0);
        if (x->aux == KH_YQ_ALL && !t)
            return vbool(0);
    }
    return quantify(x, need, ntrue, n);
}

static yv eval_for_of(kh_yscan *ys, const kh_yexpr *x, unsigned depth)
{
    uint32_t set = x->b, n = set_count(ys, set), ntrue = 0;
    int64_t need = required(ys, x, n, depth);
    if (need < 0)
        return undef();
    uint32_t saved = ys->cur_string;
    for (uint32_t i = 0; i < n && !ys->err; i++) {
        ys->cur_string = set_item(ys, set, i);
        yv b = eval(ys, x->c, depth + 1);
        int t = truth(&b);
        ntrue += (uint32_t)t;
        if (x->aux == KH_YQ_ANY && ntrue)
            break;
        if (x->aux == KH_YQ_ALL && !t)
            break;
        if (x->aux == KH_YQ_NONE && t)
            break;
    }
    ys->cur_string = saved;
    return quantify(x, need, ntrue, n);
}

static yv eval_for_in(kh_yscan *ys, const kh_yexpr *x, unsigned depth)
{
    uint32_t slot = (uint32_t)(x->imm.i & 0xffff), nvars = (uint32_t)(x->imm.i >> 16);
    const kh_yexpr *it = &ys->r->yexprs[x->b];
    uint32_t n = 0, ntrue = 0;
    int64_t lo = 0;
    const kh_yobj *obj = NULL;
    if (it->op == KH_YO_RANGE) {
        yv a = eval(ys, it->a, depth + 1), b = eval(ys, it->b, depth + 1);
        if (!a.defined || !b.defined || a.v.i > b.v.i)
            return vbool(0);
        lo = a.v.i;
        uint64_t span = (uint64_t)b.v.i - (uint64_t)a.v.i + 1;
        n = span > UINT32_MAX ? UINT32_MAX : (uint32_t)span;
    } else if (it->op == KH_YO_ENUM) {
        n = it->b;
    } else {
        yv o = eval(ys, x->b, depth + 1);
        if (!o.defined || (o.type != KH_YT_ARRAY && o.type != KH_YT_DICT))
            return vbool(0);
        obj = o.v.o;
        n = obj->nitems;
        if (n == 0) /* yara 4.2: a loop over an empty array or dictionary is false, even `all` */
            return vbool(0);
    }
    int64_t need = required(ys, x, n, depth);
    if (need < 0)
        return undef();
    yv saved[2] = {ys->vars[slot], nvars > 1 ? ys->vars[slot + 1] : undef()};
    for (uint32_t i = 0; i < n && !ys->err; i++) {
        if (timed_out(ys))
            break;
        if (it->op == KH_YO_RANGE) {
            ys->vars[slot] = vint(lo + (int64_t)i);
        } else if (it->op == KH_YO_ENUM) {
            ys->vars[slot] = eval(ys, ys->r->ylists[it->a + i], depth + 1);
        } else if (obj->type == KH_YT_ARRAY) {
            ys->vars[slot] = from_obj(&obj->items[i]);
        } else {
            const char *k = obj->keys[i];
            ys->vars[slot] = vstr((const uint8_t *)k, (uint32_t)strlen(k));
            ys->vars[slot + 1] = from_obj(&obj->items[i]);
        }
        yv b = eval(ys, x->c, depth + 1);
        int t = truth(&b);
        ntrue += (uint32_t)t;
        if (x->aux == KH_YQ_ANY && ntrue)
            break;
        if (x->aux == KH_YQ_ALL && !t)
            break;
        if (x->aux == KH_YQ_NONE && t)
            break;
    }
    ys->vars[slot] = saved[0];
    if (nvars > 1)
        ys->vars[slot + 1] = saved[1];
    return quantify(x, need, ntrue, n);
}

static yv eval_call(kh_yscan *ys, const kh_yexpr *x, unsigned depth)
{
    yv self = eval(ys, x->a, depth + 1);
    if (!self.defined || self.type != KH_YT_STRUCT || !self.v.o || x->b >= self.v.o->nitems)
        return undef();
    const kh_yobj *fo = &self.v.o->items[x->b];
    if (!fo->decl || !fo->decl->funcs)
        return undef();
    const kh_yfunc *f = &fo->decl->funcs[x->aux];
    kh_yval args[16];
    uint32_t nargs = (uint32_t)x->imm.i;
    for (uint32_t i = 0; i < nargs && i < 16; i++) {
        uint32_t ae = ys->r->ylists[x->c + i];
        const kh_yexpr *ax = &ys->r->yexprs[ae];
        memset(&args[i], 0, sizeof(args[i]));
        if (ax->op == KH_YO_REGEX) {
            args[i].type = KH_YT_REGEX;
            args[i].defined = 1;
            args[i].v.regex = ax->a;
            continue;
        }
        yv v = eval(ys, ae, depth + 1);
        if (!v.defined)
            return undef();
        args[i].type = v.type;
        args[i].defined = 1;
        if (v.type == KH_YT_FLOAT || (f->args[i] == 'f' && v.type != KH_YT_FLOAT))
            args[i].v.f = v.type == KH_YT_FLOAT ? v.v.f : (double)v.v.i, args[i].type = KH_YT_FLOAT;
        else if (v.type == KH_YT_STR)
            args[i].v.s.p = v.v.s.p, args[i].v.s.n = v.v.s.n;
        else
            args[i].v.i = v.v.i;
    }
    kh_ycall call = {self.v.o, ys->data, ys->len, ys->arena, ys, regex_cb, log_cb, ys->object};
    kh_yval out;
    memset(&out, 0, sizeof(out));
    int rc = f->fn(&call, args, &out);
    if (rc == KH_ENOMEM)
        ys->err = rc;
    if (rc || !out.defined)
        return undef();
    yv v = undef();
    v.defined = 1;
    v.type = f->ret;
    switch (f->ret) {
    case KH_YT_FLOAT: v.v.f = out.type == KH_YT_FLOAT ? out.v.f : (double)out.v.i; break;
    case KH_YT_STR: v.v.s.p = out.v.s.p; v.v.s.n = out.v.s.n; break;
    default: v.v.i = out.type == KH_YT_FLOAT ? (int64_t)out.v.f : out.v.i; break;
    }
    return v;
}

static yv eval(kh_yscan *ys, uint32_t e, unsigned depth)
{
    const kh_yexpr *x = &ys->r->yexprs[e];
    if (depth > MAX_DEPTH || ys->err)
        return undef();
    yv a, b;
    switch (x->op) {
    case KH_YO_CONST_INT: return vint(x->imm.i);
    case KH_YO_CONST_FLT: return vflt(x->imm.f);
    case KH_YO_CONST_BOOL: return vbool((int)x->imm.i);
    case KH_YO_CONST_STR: return vstr(bytes_at(ys, x->a), x->b);
    case KH_YO_FILESIZE: return vint((int64_t)ys->len);
    case KH_YO_ENTRYPOINT: {
        /* The deprecated keyword: pe.entry_point or elf.entry_point. */
        for (unsigned m = 0; m < kh_nymodules; m++) {
            if (strcmp(kh_ymodules[m]->name, "pe") && strcmp(kh_ymodules[m]->name, "elf"))
                continue;
            if (load_module(ys, m))
                return undef();
            const kh_yobj *ep = kh_yobj_member(&ys->mods[m], "entry_point");
            if (ep && ep->defined)
                return vint(ep->v.i);
        }
        return undef();
    }
    case KH_YO_EXTERNAL: {
        const kh_yext *ex = &ys->ext[x->a];
        switch (ex->type) {
        case KH_YT_INT: return vint(ex->i);
        case KH_YT_BOOL: return vbool((int)ex->i);
        case KH_YT_FLOAT: return vflt(ex->f);
        default:
            if (ex->soff & 0x80000000u)
                return vstr((const uint8_t *)ys->extbytes.data + (ex->soff & 0x7fffffffu), ex->slen);
            return vstr(bytes_at(ys, ex->soff), ex->slen);
        }
    }
    case KH_YO_VAR: return ys->vars[x->a];
    case KH_YO_NOT:
        a = eval(ys, x->a, depth + 1);
        return a.defined ? vbool(!truth(&a)) : undef();
    case KH_YO_AND:
        a = eval(ys, x->a, depth + 1);
        if (!truth(&a))
            return vbool(0);
        b = eval(ys, x->b, depth + 1);
        return vbool(truth(&b));
    case KH_YO_OR:
        a = eval(ys, x->a, depth + 1);
        if (truth(&a))
            return vbool(1);
        b = eval(ys, x->b, depth + 1);
        return vbool(truth(&b));
    case KH_YO_DEFINED:
        a = eval(ys, x->a, depth + 1);
        return vbool(a.defined);
    case KH_YO_NEG:
        a = eval(ys, x->a, depth + 1);
        if (!a.defined)
            return a;
        return a.type == KH_YT_FLOAT ? vflt(-a.v.f) : vint((int64_t)(0 - (uint64_t)a.v.i));
    case KH_YO_BNOT:
        a = eval(ys, x->a, depth + 1);
        return a.defined ? vint(~a.v.i) : a;
    case KH_YO_ADD: case KH_YO_SUB: case KH_YO_MUL: case KH_YO_DIV: case KH_YO_MOD:
    case KH_YO_BAND: case KH_YO_BOR: case KH_YO_BXOR: case KH_YO_SHL: case KH_YO_SHR:
        a = eval(ys, x->a, depth + 1);
        b = eval(ys, x->b, depth + 1);
        return arith(x->op, &a, &b);
    case KH_YO_LT: case KH_YO_LE: case KH_YO_GT: case KH_YO_GE: case KH_YO_EQ: case KH_YO_NE:
        a = eval(ys, x->a, depth + 1);
        b = eval(ys, x->b, depth + 1);
        return compare(x->op, &a, &b);
    case KH_YO_CONTAINS: case KH_YO_ICONTAINS: case KH_YO_STARTSWITH: case KH_YO_ISTARTSWITH:
    case KH_YO_ENDSWITH: case KH_YO_IENDSWITH: case KH_YO_IEQUALS:
        a = eval(ys, x->a, depth + 1);
        b = eval(ys, x->b, depth + 1);
        if (!a.defined || !b.defined)
            return undef();
        return str_op(x->op, &a, &b);
    case KH_YO_MATCHES:
        a = eval(ys, x->a, depth + 1);
        if (!a.defined)
            return undef();
        return vbool(regex_search(ys, x->b, a.v.s.p, a.v.s.n));
    case KH_YO_READ:
        a = eval(ys, x->a, depth + 1);
        return read_int(ys, x->aux, &a);
    case KH_YO_STR_FOUND: {
        uint32_t s = x->a == UINT32_MAX ? ys->cur_string : x->a;
        int f;
        if ((ys->err = string_found(ys, s, &f)))
            return undef();
        return vbool(f);
    }
    case KH_YO_STR_AT:
    case KH_YO_STR_IN: {
        uint32_t s = x->a == UINT32_MAX ? ys->cur_string : x->a;
        int64_t lo, hi;
        if (x->op == KH_YO_STR_AT) {
            a = eval(ys, x->b, depth + 1);
            if (!a.defined) /* yara 4.2: `$a at undefined` is false, not undefined */
                return vbool(0);
            lo = hi = a.v.i;
        } else {
            const kh_yexpr *rg = &ys->r->yexprs[x->b];
            a = eval(ys, rg->a, depth + 1);
            b = eval(ys, rg->b, depth + 1);
            if (!a.defined || !b.defined)
                return undef();
            lo = a.v.i;
            hi = b.v.i;
        }
        if (!cand(ys, s))
            return vbool(0);
        uint64_t k;
        if ((ys->err = window_count(ys, s, lo, hi, 1, &k)))
            return undef();
        return vbool(k > 0);
    }
    case KH_YO_STR_COUNT_IN: {
        uint32_t s = x->a == UINT32_MAX ? ys->cur_string : x->a;
        const kh_yexpr *rg = &ys->r->yexprs[x->b];
        a = eval(ys, rg->a, depth + 1);
        b = eval(ys, rg->b, depth + 1);
        if (!a.defined || !b.defined)
            return undef();
        if (!cand(ys, s))
            return vint(0);
        uint64_t k;
        if ((ys->err = window_count(ys, s, a.v.i, b.v.i, 0, &k)))
            return undef();
        return vint((int64_t)k);
    }
    case KH_YO_STR_COUNT: {
        uint32_t s = x->a == UINT32_MAX ? ys->cur_string : x->a;
        int f;
        if ((ys->err = string_found(ys, s, &f)))
            return undef();
        if (!f)
            return vint(0);
        const ystate *st;
        if ((ys->err = string_matches(ys, s, &st)))
            return undef();
        return vint((int64_t)st->n);
    }
    case KH_YO_STR_OFFSET:
    case KH_YO_STR_LENGTH: {
        uint32_t s = x->a == UINT32_MAX ? ys->cur_string : x->a;
        a = eval(ys, x->b, depth + 1);
        if (!a.defined || a.v.i < 1)
            return undef();
        int f;
        if ((ys->err = string_found(ys, s, &f)))
            return undef();
        if (!f)
            return undef();
        const ystate *st;
        if ((ys->err = string_matches(ys, s, &st)))
            return undef();
        if ((uint64_t)a.v.i > st->n)
            return undef();
        const ymatch *m = &st->m[a.v.i - 1];
        return vint(x->op == KH_YO_STR_OFFSET ? (int64_t)m->off : (int64_t)m->len);
    }
    case KH_YO_OF: return eval_of(ys, x, depth);
    case KH_YO_FOR_OF: return eval_for_of(ys, x, depth);
    case KH_YO_FOR_IN: return eval_for_in(ys, x, depth);
    case KH_YO_RULE: return vbool(eval_rule(ys, x->a, depth + 1));
    case KH_YO_MODULE:
        if ((ys->err = load_module(ys, x->a)))
            return undef();
        return from_obj(&ys->mods[x->a]);
    case KH_YO_FIELD:
        a = eval(ys, x->a, depth + 1);
        if (!a.defined || a.type != KH_YT_STRUCT || !a.v.o || x->b >= a.v.o->nitems)
            return undef();
        return from_obj(&a.v.o->items[x->b]);
    case KH_YO_INDEX:
        a = eval(ys, x->a, depth + 1);
        b = eval(ys, x->b, depth + 1);
        if (!a.defined || !b.defined || a.type != KH_YT_ARRAY || b.v.i < 0 || (uint64_t)b.v.i >= a.v.o->nitems)
            return undef();
        return from_obj(&a.v.o->items[b.v.i]);
    case KH_YO_KEY:
        a = eval(ys, x->a, depth + 1);
        b = eval(ys, x->b, depth + 1);
        if (!a.defined || !b.defined || a.type != KH_YT_DICT)
            return undef();
        for (uint32_t i = 0; i < a.v.o->nitems; i++)
            if (strlen(a.v.o->keys[i]) == b.v.s.n && memcmp(a.v.o->keys[i], b.v.s.p, b.v.s.n) == 0)
                return from_obj(&a.v.o->items[i]);
        return undef();
    case KH_YO_CALL: return eval_call(ys, x, depth);
    }
    return undef();
}

/* ---- Rules --------------------------------------------------------------------------------------- */

static int rule_has_hit(const kh_yscan *ys, const kh_yrule *r)
{
    for (uint32_t i = 0; i < r->nstr; i++)
        if (cand(ys, r->str + i))
            return 1;
    return 0;
}

/* Decides rule r (memoised); returns 1 if true. */
static int eval_rule(kh_yscan *ys, uint32_t r, unsigned depth)
{
    uint8_t st = ys->rstate[r];
    if (st == 1 || st == 2)
        return st == 2;
    if (st == 3 || depth > MAX_DEPTH)
        return 0;
    const kh_yrule *rule = &ys->r->yrules[r];
    if (((rule->flags & KH_YRF_NEEDS_STRING) && !rule_has_hit(ys, rule)) || !gate_open(ys, r)) {
        ys->rstate[r] = 1;
        return 0;
    }
    ys->rstate[r] = 3;
    yv v = eval(ys, rule->cond, depth + 1);
    int t = truth(&v);
    ys->rstate[r] = t ? 2 : 1;
    return t;
}

static int report(kh_yscan *ys, uint32_t ri, int matched, unsigned flags, kh_yrule_cb cb, void *ud)
{
    const struct kh_rules *r = ys->r;
    const kh_yrule *rule = &r->yrules[ri];
    kh_rule_info info;
    memset(&info, 0, sizeof(info));
    info.name = r->strs + rule->name;
    info.matched = matched;
    info.ns = r->strs + rule->ns;
    ys->tags.n = 0;
    ys->meta.n = 0;
    ys->sm.n = 0;
    if (KH_VEC_RESERVE(ys->tags, rule->ntags + 1, 0) || KH_VEC_RESERVE(ys->meta, rule->nmeta + 1, 0))
        return KH_ENOMEM;
    for (uint32_t i = 0; i < rule->ntags; i++)
        ys->tags.v[ys->tags.n++] = r->strs + r->ylists[rule->tags + i];
    for (uint32_t i = 0; i < rule->nmeta; i++) {
        const kh_ymeta *m = &r->ymetas[rule->meta + i];
        kh_meta *o = &ys->meta.v[ys->meta.n++];
        memset(o, 0, sizeof(*o));
        o->key = r->strs + m->key;
        o->type = (int)m->type;
        if (m->type == KH_YM_STR) {
            o->str = (const char *)r->bytes + ((uint64_t)m->ival >> 32);
            o->len = (uint32_t)m->ival;
        } else {
            o->num = m->ival;
        }
    }
    info.tags = ys->tags.v;
    info.ntags = ys->tags.n;
    info.meta = ys->meta.v;
    info.nmeta = ys->meta.n;
    if (matched && (flags & KH_YRUN_STRINGS)) {
        for (uint32_t i = 0; i < rule->nstr; i++) {
            uint32_t si = rule->str + i;
            const kh_ystr *ystr = &r->ystrs[si];
            if (ystr->flags & KH_YS_PRIVATE)
                continue;
            int f;
            int rc = string_found(ys, si, &f);
            if (rc)
                return rc;
            if (!f)
                continue;
            const ystate *st;
            if ((rc = string_matches(ys, si, &st)))
                return rc;
            size_t n = (flags & KH_YRUN_FAST) && !ys->multi[si] && st->n ? 1 : st->n;
            if (KH_VEC_RESERVE(ys->sm, n, 0))
                return KH_ENOMEM;
            for (size_t k = 0; k < n; k++) {
                kh_string_match *o = &ys->sm.v[ys->sm.n++];
                o->id = r->strs + ystr->name;
                o->offset = st->m[k].off;
                o->length = st->m[k].len;
                o->data = ys->data + st->m[k].off;
                o->data_len = KH_MIN(st->m[k].len, KH_Y_MAX_MATCH_DATA);
                o->hex = (ystr->flags & KH_YS_HEX) != 0;
            }
        }
        info.strings = ys->sm.v;
        info.nstrings = ys->sm.n;
    }
    return cb(ud, ri, matched, &info) ? KH_EUSER : 0;
}

int kh_yscan_run(kh_yscan *ys, unsigned flags, double deadline, kh_yrule_cb cb, kh_ylog_cb log, void *ud)
{
    const struct kh_rules *r = ys->r;
    ys->deadline = deadline;
    ys->err = 0;
    ys->steps = 0;
    ys->log = log;
    ys->ud = ud;
    for (uint32_t i = 0; i < ys->nscomp; i++)
        ys->st[ys->scomp[i]].computed = 0, ys->st[ys->scomp[i]].n = 0;
    ys->nscomp = 0;
    memset(ys->rstate, 0, r->nyrules);
    memset(ys->modstate, 0, kh_nymodules);
    if (ys->arena) {
        kh_yarena_destroy(ys->arena);
        ys->arena = NULL;
    }
    int rc = 0;
    /* The rules worth evaluating: those whose condition can hold without a
     * string, and those with a string reported; the rest are false. */
    ys->nrcand = 0;
    for (uint32_t i = 0; i < ys->nalways; i++) {
        ys->rmark[ys->always[i]] = 1;
        ys->rcand[ys->nrcand++] = ys->always[i];
    }
    for (uint32_t i = 0; i < ys->nstouched; i++) {
        uint32_t ri = r->ystrs[ys->stouched[i]].rule;
        if (!ys->rmark[ri]) {
            ys->rmark[ri] = 1;
            ys->rcand[ys->nrcand++] = ri;
        }
    }
    if (ys->nrcand > 1)
        kh_sort_u32(ys->rcand, ys->nrcand);
    for (uint32_t k = 0; k < ys->nrcand && !ys->err; k++) {
        eval_rule(ys, ys->rcand[k], 0);
        if (ys->deadline > 0 && (k & 63) == 0 && kh_now() > ys->deadline)
            ys->err = KH_ETIMEOUT;
    }
    for (uint32_t k = 0; k < ys->nrcand; k++)
        ys->rmark[ys->rcand[k]] = 0;
    if (ys->err)
        return ys->err;
    /* A false global rule makes every rule of its namespace false. */
    for (uint32_t g = 0; g < ys->nglobal; g++) {
        uint32_t i = ys->global[g];
        if (ys->rstate[i] != 2)
            for (uint32_t k = 0; k < r->nyrules; k++)
                if (r->yrules[k].ns == r->yrules[i].ns)
                    ys->rstate[k] = 1;
    }
    if (!(flags & KH_YRUN_ALL)) {
        /* a true rule was a candidate (a rule out of rcand had no string: false) */
        for (uint32_t k = 0; k < ys->nrcand && !rc; k++) {
            uint32_t i = ys->rcand[k];
            if (!(r->yrules[i].flags & KH_YRF_PRIVATE) && ys->rstate[i] == 2)
                rc = report(ys, i, 1, flags, cb, ud);
        }
        return rc;
    }
    for (uint32_t i = 0; i < r->nyrules && !rc; i++) {
        if (r->yrules[i].flags & KH_YRF_PRIVATE)
            continue;
        rc = report(ys, i, ys->rstate[i] == 2, flags, cb, ud);
    }
    return rc;
}

/* ---- Static analysis --------------------------------------------------------------------------------- */

enum { AF = 0, AT = 1, AU = 2 }; /* definitely false, definitely true, unknown */

static int abstract(const struct kh_rules *r, uint32_t e, unsigned depth)
{
    const kh_yexpr *x = &r->yexprs[e];
    if (depth > 64)
        return AU;
    switch (x->op) {
    case KH_YO_STR_FOUND:
    case KH_YO_STR_AT:
    case KH_YO_STR_IN:
        return AF;
    case KH_YO_CONST_BOOL:
        return x->imm.i ? AT : AF;
    case KH_YO_AND: {
        int a = abstract(r, x->a, depth + 1), b = abstract(r, x->b, depth + 1);
        return (a == AF || b == AF) ? AF : (a == AT && b == AT) ? AT : AU;
    }
    case KH_YO_OR: {
        int a = abstract(r, x->a, depth + 1), b = abstract(r, x->b, depth + 1);
        return (a == AF && b == AF) ? AF : (a == AT || b == AT) ? AT : AU;
    }
    case KH_YO_OF:
    case KH_YO_FOR_OF: {
        if (r->yexprs[x->b].op != KH_YO_SET_STRINGS)
            return AU;
        if (x->aux == KH_YQ_ANY || x->aux == KH_YQ_ALL)
            return x->op == KH_YO_OF ? AF : AU;
        if (x->aux == KH_YQ_NUM && r->yexprs[x->a].op == KH_YO_CONST_INT && r->yexprs[x->a].imm.i >= 1)
            return x->op == KH_YO_OF ? AF : AU;
        if (x->aux == KH_YQ_PERCENT && r->yexprs[x->a].op == KH_YO_CONST_INT && r->yexprs[x->a].imm.i >= 1)
            return x->op == KH_YO_OF ? AF : AU;
        return AU;
    }
    case KH_YO_GT:
    case KH_YO_GE:
    case KH_YO_EQ: {
        /* #a > k, #a >= k (k >= 1), #a == k (k >= 1) are false without matches */
        const kh_yexpr *l = &r->yexprs[x->a], *k = &r->yexprs[x->b];
        if ((l->op == KH_YO_STR_COUNT || l->op == KH_YO_STR_COUNT_IN) && k->op == KH_YO_CONST_INT) {
            int64_t v = k->imm.i;
            if ((x->op == KH_YO_GT && v >= 0) || (x->op != KH_YO_GT && v >= 1))
                return AF;
        }
        return AU;
    }
    default:
        return AU;
    }
}

int kh_ycond_needs_string(const struct kh_rules *r, uint32_t cond) { return abstract(r, cond, 0) == AF; }

void kh_yscan_set_data(kh_yscan *ys, const uint8_t *data, size_t len)
{
    ys->data = data;
    ys->len = len;
}
