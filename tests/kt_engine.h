/* Khiên — test helpers: compile database text, scan a buffer, list matches. */
#ifndef KH_TEST_ENGINE_H
#define KH_TEST_ENGINE_H

#include "harness.h"
#include "khien/khien.h"
#include "util/util.h"

typedef struct kt_hits {
    char names[64][128];
    long long offsets[64];
    int n;
} kt_hits;

static int kt_on_detect(const kh_detection *d, void *p)
{
    kt_hits *h = p;
    if (h->n < 64) {
        snprintf(h->names[h->n], sizeof(h->names[0]), "%s", d->name);
        h->offsets[h->n] = d->offset;
        h->n++;
    }
    return 0;
}

/* Builds rules from one database text of the given kind (no built-ins, no
 * cache). Returns NULL and prints the diagnostics on failure. */
static inline kh_rules *kt_rules(const char *kind, const char *text)
{
    kh_compiler_options o = KH_COMPILER_OPTIONS_INIT;
    o.flags = KH_COMPILE_NO_BUILTIN | KH_COMPILE_STRICT;
    kh_compiler *c = NULL;
    kh_rules *r = NULL;
    if (kh_compiler_create(&c, &o))
        return NULL;
    if (kh_compiler_add_text(c, kind, "test.db", text, strlen(text)) || kh_compiler_build(c, &r)) {
        for (size_t i = 0; i < kh_compiler_diag_count(c); i++)
            fprintf(stderr, "  diag: %u:%u %s\n", kh_compiler_diag(c, i)->line, kh_compiler_diag(c, i)->column,
                    kh_compiler_diag(c, i)->message);
        r = NULL;
    }
    kh_compiler_destroy(c);
    return r;
}

/* Scans buf with rules (allmatch), filling hits. Returns the scan's status. */
static inline int kt_scan(const kh_rules *r, const void *buf, size_t len, kt_hits *hits)
{
    kh_scan_options so = KH_SCAN_OPTIONS_INIT;
    so.flags = KH_SCAN_ALLMATCH;
    kh_scanner *s = NULL;
    memset(hits, 0, sizeof(*hits));
    int rc = kh_scanner_create(&s, r, &so);
    if (!rc)
        rc = kh_scanner_scan_mem(s, buf, len, kt_on_detect, NULL, hits);
    kh_scanner_destroy(s);
    return rc;
}

#endif
