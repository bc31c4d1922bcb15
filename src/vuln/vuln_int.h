/* Khiên — vuln: internal representation of OSV records.
 *
 * Only what matching and reporting need is kept from a record; everything
 * else in the JSON is dropped after parsing. Affected entries of ecosystems
 * whose versions are not Debian versions (PyPI, npm, ...) are dropped too:
 * comparing them with dpkg's order would be wrong.
 */
#ifndef KH_VULN_INT_H
#define KH_VULN_INT_H

#include "khien/vuln.h"
#include "util/util.h"

#define KH_VULN_MAX_DIAGS 1000
#define KH_VULN_MAX_RECORDS 10000000
#define KH_VULN_FILE_LIMIT (64u << 20)

typedef enum osv_ev_kind { OSV_INTRODUCED = 0, OSV_LAST_AFFECTED = 1, OSV_FIXED = 2, OSV_LIMIT = 3 } osv_ev_kind;

typedef struct osv_event {
    osv_ev_kind kind;
    char *version;
} osv_event;

typedef struct osv_range {
    osv_event *ev; /* sorted by version ("0" first) */
    size_t nev;
} osv_range;

typedef struct osv_affected {
    char *ecosystem;
    char *name;
    osv_range *ranges; /* ECOSYSTEM ranges only */
    size_t nranges;
    char **versions;
    size_t nversions;
    char *label; /* ecosystem_specific / database_specific severity or urgency, or NULL */
} osv_affected;

typedef struct osv_record {
    char *id;
    char **aliases;
    size_t naliases;
    char *summary;
    char *label;  /* database_specific severity, or NULL */
    char *vector; /* the best severity[] score string, or NULL */
    double score; /* its CVSS base score, or -1 */
    osv_affected *aff;
    size_t naff;
} osv_record;

struct kh_vuln_db {
    osv_record *recs;
    size_t n, cap;
    kh_vuln_diag *diags;
    size_t ndiags, diags_cap;
    size_t skipped, withdrawn;
};

/* 1 if versions in this ecosystem are Debian versions (Debian, Ubuntu). */
int kh_vuln__dpkg_ecosystem(const char *eco);

#endif
