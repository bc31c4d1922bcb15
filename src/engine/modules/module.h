/* Khiên — engine/modules: the interface of YARA modules (pe, elf, math, ...).
 *
 * A module has two halves:
 *  - a declaration: a static tree of kh_ymember (names and types of its
 *    fields, arrays, dictionaries, structures and functions), which the
 *    compiler uses to resolve and type-check `pe.sections[0].name` and
 *    `math.entropy(0, filesize)` once, at compile time, into member indices;
 *  - a loader: called at most once per scanned object, when a rule that
 *    uses the module is evaluated, it parses the data (bounded, hostile
 *    input) and fills a tree of kh_yobj values shaped like the declaration.
 * Fields a loader does not set stay undefined, as in yara.
 *
 * Values live in a per-object arena (kh_yarena) freed after the object is
 * scanned, so loaders allocate freely and never free.
 */
#ifndef KH_ENGINE_MODULES_MODULE_H
#define KH_ENGINE_MODULES_MODULE_H

#include <stddef.h>
#include <stdint.h>

#include "engine/yara/yara.h"

typedef struct kh_yobj kh_yobj;
typedef struct kh_yarena kh_yarena;
typedef struct kh_ymember kh_ymember;

/* A value passed to or returned by a module function. */
typedef struct kh_yval {
    uint8_t type;    /* KH_YT_INT, FLOAT, STR, BOOL (as INT), REGEX */
    uint8_t defined; /* 0: undefined */
    union {
        int64_t i;
        double f;
        struct {
            const uint8_t *p;
            uint32_t n;
        } s;
        uint32_t regex; /* regex index, for module functions taking a regex */
    } v;
} kh_yval;

/* What a module function gets at scan time. */
typedef struct kh_ycall {
    const kh_yobj *self;      /* the structure the function belongs to (often the module root) */
    const uint8_t *data;      /* the scanned object */
    size_t len;
    kh_yarena *arena;
    void *scan;               /* opaque: the evaluator (for regex arguments) */
    /* Tests a regex argument against bytes (set by the evaluator): 1 match, 0 not. */
    int (*regex_match)(void *scan, uint32_t regex, const uint8_t *p, size_t n);
    /* Delivers a console.log message to the application (the library never prints). */
    void (*log)(void *scan, const char *msg, size_t n);
    /* Unique id of the scanned object (process-wide), a key for per-object
     * caches; 0 when not known (then nothing may be cached). */
    uint64_t object;
} kh_ycall;

typedef int (*kh_yfn)(const kh_ycall *c, const kh_yval *args, kh_yval *out);

/* One overload of a function: argument types as letters (i int, f float,
 * s string, r regex), the return type, the implementation. */
typedef struct kh_yfunc {
    const char *args;
    uint8_t ret;
    kh_yfn fn;
} kh_yfunc;

struct kh_ymember {
    const char *name;
    uint8_t type;                /* KH_YT_INT, FLOAT, STR, STRUCT, ARRAY, DICT, FUNC */
    uint8_t elem;                /* ARRAY/DICT: element type */
    const kh_ymember *members;   /* STRUCT, or ARRAY/DICT of STRUCT: NULL-name terminated */
    const kh_yfunc *funcs;       /* FUNC: NULL-fn terminated overloads */
};

typedef struct kh_ymodule {
    const char *name;
    kh_ymember decl; /* the module's root structure: {name, KH_YT_STRUCT, 0, members, NULL} */
    /* Fills `root` (a STRUCT shaped like members) for one object. May leave
     * everything undefined (not this module's kind of file). */
    int (*load)(kh_yobj *root, const uint8_t *data, size_t len, kh_yarena *arena);
} kh_ymodule;

/* The module registry (module_list.c). */
extern const kh_ymodule *const kh_ymodules[];
extern const unsigned kh_nymodules;
int kh_ymodule_find(const char *name);

/* ---- Values at scan time ----------------------------------------------------- */

struct kh_yobj {
    const kh_ymember *decl; /* NULL for array/dict items of scalar type */
    uint8_t type;
    uint8_t defined;
    union {
        int64_t i;
        double f;
        struct {
            const uint8_t *p;
            uint32_t n;
        } s;
    } v;
    kh_yobj *items;  /* STRUCT: one per member (declaration order); ARRAY/DICT: elements */
    uint32_t nitems;
    uint32_t cap;
    const char **keys; /* DICT keys */
};

kh_yarena *kh_yarena_create(void);
void kh_yarena_destroy(kh_yarena *a);
void *kh_yarena_alloc(kh_yarena *a, size_t n);
const uint8_t *kh_yarena_dup(kh_yarena *a, const void *p, size_t n);

/* Makes `o` a structure shaped like `members` (all members undefined). */
int kh_yobj_init_struct(kh_yobj *o, const kh_ymember *members, kh_yarena *a);

/* Setting values by path, relative to a structure: "sections[%d].name",
 * "version_info[%s]", "number_of_sections". Arrays grow to the index set;
 * dictionaries get the key. Returns 0, KH_ENOMEM, KH_EINVAL (no such path). */
int kh_yset_int(kh_yobj *o, kh_yarena *a, int64_t v, const char *fmt, ...);
int kh_yset_float(kh_yobj *o, kh_yarena *a, double v, const char *fmt, ...);
int kh_yset_str(kh_yobj *o, kh_yarena *a, const void *p, size_t n, const char *fmt, ...);
/* The object at a path (NULL if absent), for functions reading their data. */
const kh_yobj *kh_yget(const kh_yobj *o, const char *fmt, ...);
/* Member of a structure by name (NULL if absent). */
const kh_yobj *kh_yobj_member(const kh_yobj *o, const char *name);

#endif
