/* Khiên — engine/modules: module values (kh_yobj) and their arena.
 *
 * Loaders build a tree of values shaped like their module's declaration,
 * addressing fields by path ("sections[3].name", "version_info[%s]"), the
 * way yara's modules do; the evaluator then reads them by member index,
 * resolved at compile time. All memory comes from an arena released after
 * the scanned object, so a loader never frees and never leaks. Every path
 * is checked against the declaration: a typo in a loader is KH_EINVAL, not
 * a silent new field. Arrays are limited to 1 Mi elements.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "engine/modules/module.h"

#define ARENA_BLOCK (64u << 10)
#define MAX_ITEMS (1u << 20)

typedef struct block {
    struct block *next;
    size_t used, cap;
    uint8_t data[];
} block;

struct kh_yarena {
    block *head;
    size_t total;
};

kh_yarena *kh_yarena_create(void) { return calloc(1, sizeof(kh_yarena)); }

void kh_yarena_destroy(kh_yarena *a)
{
    if (!a)
        return;
    for (block *b = a->head, *n; b; b = n) {
        n = b->next;
        free(b);
    }
    free(a);
}

void *kh_yarena_alloc(kh_yarena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (!a->head || a->head->cap - a->head->used < n) {
        size_t cap = n > ARENA_BLOCK ? n : ARENA_BLOCK;
        if (a->total > (1ull << 30))
            return NULL; /* a module never needs a gigabyte */
        block *b = malloc(sizeof(block) + cap);
        if (!b)
            return NULL;
        b->next = a->head;
        b->used = 0;
        b->cap = cap;
        a->head = b;
        a->total += cap;
    }
    void *p = a->head->data + a->head->used;
    a->head->used += n;
    memset(p, 0, n);
    return p;
}

const uint8_t *kh_yarena_dup(kh_yarena *a, const void *p, size_t n)
{
    uint8_t *d = kh_yarena_alloc(a, n + 1);
    if (d && n)
        memcpy(d, p, n);
    return d;
}

int kh_yobj_init_struct(kh_yobj *o, const kh_ymember *members, kh_yarena *a)
{
    uint32_t n = 0;
    while (members && members[n].name)
        n++;
    o->type = KH_YT_STRUCT;
    o->defined = 1;
    o->nitems = n;
    o->items = n ? kh_yarena_alloc(a, n * sizeof(kh_yobj)) : NULL;
    if (n && !o->items)
        return KH_ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        o->items[i].decl = &members[i];
        o->items[i].type = members[i].type;
        if (members[i].type == KH_YT_STRUCT) {
            int rc = kh_yobj_init_struct(&o->items[i], members[i].members, a);
            if (rc)
                return rc;
            o->items[i].defined = 1;
        } else if (members[i].type == KH_YT_ARRAY || members[i].type == KH_YT_DICT) {
            o->items[i].defined = 1; /* empty container */
        }
    }
    return 0;
}

const kh_yobj *kh_yobj_member(const kh_yobj *o, const char *name)
{
    if (!o || o->type != KH_YT_STRUCT)
        return NULL;
    for (uint32_t i = 0; i < o->nitems; i++)
        if (o->items[i].decl && strcmp(o->items[i].decl->name, name) == 0)
            return &o->items[i];
    return NULL;
}

/* A new element for an array or dictionary `c`, initialised from its declaration. */
static int init_elem(kh_yobj *c, kh_yobj *e, kh_yarena *a)
{
    memset(e, 0, sizeof(*e));
    e->type = c->decl ? c->decl->elem : KH_YT_INT;
    if (e->type == KH_YT_STRUCT)
        return kh_yobj_init_struct(e, c->decl ? c->decl->members : NULL, a);
    return 0;
}

static int grow(kh_yobj *c, uint32_t need, kh_yarena *a)
{
    if (need <= c->cap)
        return 0;
    if (need > MAX_ITEMS)
        return KH_ELIMIT;
    uint32_t ncap = c->cap ? c->cap : 4;
    while (ncap < need)
        ncap *= 2;
    kh_yobj *items = kh_yarena_alloc(a, (size_t)ncap * sizeof(kh_yobj));
    if (!items)
        return KH_ENOMEM;
    if (c->nitems)
        memcpy(items, c->items, c->nitems * sizeof(kh_yobj));
    c->items = items;
    if (c->type == KH_YT_DICT) {
        const char **keys = kh_yarena_alloc(a, (size_t)ncap * sizeof(char *));
        if (!keys)
            return KH_ENOMEM;
        if (c->nitems)
            memcpy(keys, c->keys, c->nitems * sizeof(char *));
        c->keys = keys;
    }
    c->cap = ncap;
    return 0;
}

/* Walks (and with `create`, builds) the path; returns the target object. */
static kh_yobj *walk(kh_yobj *o, kh_yarena *a, const char *path, int create, int *rc)
{
    const char *p = path;
    *rc = KH_EINVAL;
    while (*p) {
        if (*p == '.') {
            p++;
            continue;
        }
        if (*p == '[') {
            if (o->type != KH_YT_ARRAY && o->type != KH_YT_DICT)
                return NULL;
            const char *end = strchr(p, ']');
            if (!end)
                return NULL;
            if (o->type == KH_YT_ARRAY) {
                char *e;
                unsigned long idx = strtoul(p + 1, &e, 10);
                if (e != end || idx >= MAX_ITEMS)
                    return NULL;
                if (idx >= o->nitems) {
                    if (!create)
                        return NULL;
                    if ((*rc = grow(o, (uint32_t)idx + 1, a)))
                        return NULL;
                    for (uint32_t i = o->nitems; i <= idx; i++)
                        if ((*rc = init_elem(o, &o->items[i], a)))
                            return NULL;
                    o->nitems = (uint32_t)idx + 1;
                    *rc = KH_EINVAL;
                }
                o = &o->items[idx];
            } else {
                /* Dictionary keys are given with brackets and quotes: ["key"] or [key]. */
                const char *k = p + 1;
                size_t kn = (size_t)(end - k);
                if (kn >= 2 && k[0] == '"' && k[kn - 1] == '"')
                    k++, kn -= 2;
                uint32_t i;
                for (i = 0; i < o->nitems; i++)
                    if (strlen(o->keys[i]) == kn && memcmp(o->keys[i], k, kn) == 0)
                        break;
                if (i == o->nitems) {
                    if (!create)
                        return NULL;
                    if ((*rc = grow(o, o->nitems + 1, a)) || (*rc = init_elem(o, &o->items[i], a)))
                        return NULL;
                    o->keys[i] = (const char *)kh_yarena_dup(a, k, kn);
                    if (!o->keys[i]) {
                        *rc = KH_ENOMEM;
                        return NULL;
                    }
                    o->nitems++;
                    *rc = KH_EINVAL;
                }
                o = &o->items[i];
            }
            p = end + 1;
            continue;
        }
        size_t n = strcspn(p, ".[");
        if (o->type != KH_YT_STRUCT)
            return NULL;
        kh_yobj *m = NULL;
        for (uint32_t i = 0; i < o->nitems; i++)
            if (o->items[i].decl && strlen(o->items[i].decl->name) == n && memcmp(o->items[i].decl->name, p, n) == 0)
                m = &o->items[i];
        if (!m)
            return NULL;
        o = m;
        p += n;
    }
    *rc = 0;
    return o;
}

static int set(kh_yobj *o, kh_yarena *a, uint8_t type, const char *fmt, va_list ap, kh_yobj **out)
{
    char path[512];
    int n = vsnprintf(path, sizeof(path), fmt, ap);
    if (n < 0 || (size_t)n >= sizeof(path))
        return KH_EINVAL;
    int rc;
    kh_yobj *t = walk(o, a, path, 1, &rc);
    if (!t)
        return rc;
    if (t->type != type)
        return KH_EINVAL;
    *out = t;
    return 0;
}

int kh_yset_int(kh_yobj *o, kh_yarena *a, int64_t v, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kh_yobj *t;
    int rc = set(o, a, KH_YT_INT, fmt, ap, &t);
    va_end(ap);
    if (!rc) {
        t->v.i = v;
        t->defined = 1;
    }
    return rc;
}

int kh_yset_float(kh_yobj *o, kh_yarena *a, double v, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kh_yobj *t;
    int rc = set(o, a, KH_YT_FLOAT, fmt, ap, &t);
    va_end(ap);
    if (!rc) {
        t->v.f = v;
        t->defined = 1;
    }
    return rc;
}

int kh_yset_str(kh_yobj *o, kh_yarena *a, const void *p, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kh_yobj *t;
    int rc = set(o, a, KH_YT_STR, fmt, ap, &t);
    va_end(ap);
    if (rc)
        return rc;
    if (n > UINT32_MAX)
        return KH_ELIMIT;
    const uint8_t *d = kh_yarena_dup(a, p, n);
    if (!d)
        return KH_ENOMEM;
    t->v.s.p = d;
    t->v.s.n = (uint32_t)n;
    t->defined = 1;
    return 0;
}

const kh_yobj *kh_yget(const kh_yobj *o, const char *fmt, ...)
{
    char path[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(path))
        return NULL;
    int rc;
    return walk((kh_yobj *)o, NULL, path, 0, &rc);
}
