/* Khiên — inventory: reading RPM's SQLite package database without SQLite.
 *
 * The inventory must not run rpm, and libkhien links no database library,
 * so the file is read as what it is: an SQLite 3 database
 * (https://sqlite.org/fileformat2.html). We need one thing from it, every
 * row of the table "Packages" (hnum INTEGER PRIMARY KEY, blob BLOB), so the
 * reader is small: find the table's root page in sqlite_schema (page 1),
 * walk its b-tree (interior pages 0x05, leaf pages 0x0D), reassemble each
 * cell's payload from its overflow chain, and decode the record's second
 * column. Indexes, free lists and the write-ahead log are ignored.
 *
 * The file is untrusted input: every page number, offset, varint and length
 * is checked against the file size, the walk never visits more pages than
 * the file has (a cycle of pages ends it), and payloads are bounded. A
 * damaged blob skips one package; a damaged b-tree stops with KH_EFORMAT.
 *
 * An RPM header blob (lib/header.c) is: index count and data size (32-bit
 * big-endian), then 16-byte index entries (tag, type, offset, count), then
 * the data. We read NAME, EPOCH, VERSION, RELEASE, ARCH, SUMMARY and
 * SOURCERPM; the source package name is SOURCERPM less "-version-release
 * .src.rpm".
 */
#include "inventory/pkg_rpm.h"

#include <stdlib.h>
#include <string.h>

#include "inventory/rootfs.h"
#include "util/util.h"

#define RPM_MAX_PKGS 1000000
#define RPM_MAX_BLOB (64u << 20)

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static uint32_t be16(const uint8_t *p) { return (uint32_t)p[0] << 8 | p[1]; }

void kh_rpm_init(kh_rpm_db *db) { memset(db, 0, sizeof(*db)); }

void kh_rpm_pkg_free(kh_rpm_pkg *p)
{
    free(p->name);
    free(p->version);
    free(p->arch);
    free(p->source);
    free(p->summary);
    memset(p, 0, sizeof(*p));
}

void kh_rpm_dispose(kh_rpm_db *db)
{
    if (!db)
        return;
    for (size_t i = 0; i < db->n; i++)
        kh_rpm_pkg_free(&db->pkgs[i]);
    free(db->pkgs);
    memset(db, 0, sizeof(*db));
}

/* ---- RPM header blobs ---------------------------------------------------------------- */

enum { RPMTAG_NAME = 1000, RPMTAG_VERSION = 1001, RPMTAG_RELEASE = 1002, RPMTAG_EPOCH = 1003,
       RPMTAG_SUMMARY = 1004, RPMTAG_ARCH = 1022, RPMTAG_SOURCERPM = 1044 };
enum { RPM_INT32_TYPE = 4, RPM_STRING_TYPE = 6, RPM_STRING_ARRAY_TYPE = 8, RPM_I18NSTRING_TYPE = 9 };

typedef struct hdr {
    const uint8_t *index, *data;
    uint32_t il, dl;
} hdr;

/* The first string of a tag (string, string array, i18n string), or NULL. */
static char *hdr_string(const hdr *h, uint32_t tag)
{
    for (uint32_t i = 0; i < h->il; i++) {
        const uint8_t *e = h->index + 16 * (size_t)i;
        uint32_t t = be32(e), type = be32(e + 4), off = be32(e + 8), count = be32(e + 12);
        if (t != tag)
            continue;
        if ((type != RPM_STRING_TYPE && type != RPM_STRING_ARRAY_TYPE && type != RPM_I18NSTRING_TYPE) || !count ||
            off >= h->dl)
            return NULL;
        const uint8_t *s = h->data + off, *nul = memchr(s, 0, h->dl - off);
        return nul ? kh_strndup((const char *)s, (size_t)(nul - s)) : NULL;
    }
    return NULL;
}

static int hdr_int32(const hdr *h, uint32_t tag, uint32_t *out)
{
    for (uint32_t i = 0; i < h->il; i++) {
        const uint8_t *e = h->index + 16 * (size_t)i;
        if (be32(e) != tag)
            continue;
        uint32_t off = be32(e + 8);
        if (be32(e + 4) != RPM_INT32_TYPE || !be32(e + 12) || off > h->dl || h->dl - off < 4)
            return 0;
        *out = be32(h->data + off);
        return 1;
    }
    return 0;
}

/* "openssl-3.0.7-27.el9.src.rpm" -> "openssl" */
static char *source_name(const char *srpm)
{
    size_t n = strlen(srpm);
    if (n > 8 && strcmp(srpm + n - 8, ".src.rpm") == 0)
        n -= 8;
    else if (n > 10 && strcmp(srpm + n - 10, ".nosrc.rpm") == 0)
        n -= 10;
    for (int k = 0; k < 2; k++) {
        while (n && srpm[n - 1] != '-')
            n--;
        if (!n)
            return NULL;
        n--;
    }
    return n ? kh_strndup(srpm, n) : NULL;
}

int kh_rpm_parse_header(kh_rpm_pkg *out, const uint8_t *blob, size_t len)
{
    if (len < 8)
        return KH_EFORMAT;
    hdr h;
    h.il = be32(blob);
    h.dl = be32(blob + 4);
    if (h.il == 0 || h.il > 0xffff || h.dl > RPM_MAX_BLOB || (uint64_t)8 + (uint64_t)h.il * 16 + h.dl > len)
        return KH_EFORMAT;
    h.index = blob + 8;
    h.data = h.index + 16 * (size_t)h.il;
    kh_rpm_pkg p = {0};
    char *ver = hdr_string(&h, RPMTAG_VERSION), *rel = hdr_string(&h, RPMTAG_RELEASE);
    char *srpm = hdr_string(&h, RPMTAG_SOURCERPM);
    uint32_t epoch;
    int has_epoch = hdr_int32(&h, RPMTAG_EPOCH, &epoch);
    p.name = hdr_string(&h, RPMTAG_NAME);
    p.arch = hdr_string(&h, RPMTAG_ARCH);
    p.summary = hdr_string(&h, RPMTAG_SUMMARY);
    int rc = 0;
    if (!p.name || !*p.name || !ver) {
        rc = KH_EFORMAT;
    } else {
        kh_buf b = KH_BUF_INIT(0);
        if (has_epoch)
            kh_buf_printf(&b, "%u:", epoch);
        kh_buf_puts(&b, ver);
        if (rel && *rel)
            kh_buf_printf(&b, "-%s", rel);
        p.version = kh_buf_detach(&b, NULL);
        p.source = srpm ? source_name(srpm) : NULL;
        if (!p.source)
            p.source = kh_strdup(p.name);
        if (!p.arch)
            p.arch = kh_strdup("");
        if (!p.summary)
            p.summary = kh_strdup("");
        if (!p.version || !p.source || !p.arch || !p.summary)
            rc = KH_ENOMEM;
    }
    free(ver);
    free(rel);
    free(srpm);
    if (rc) {
        kh_rpm_pkg_free(&p);
        return rc;
    }
    *out = p;
    return 0;
}

/* ---- SQLite file ------------------------------------------------------------------------- */

typedef struct sqf {
    const uint8_t *d;
    size_t len;
    uint32_t psz, usable, npages;
} sqf;

static const uint8_t *page_at(const sqf *s, uint32_t pno)
{
    if (pno == 0 || pno > s->npages)
        return NULL;
    return s->d + (size_t)(pno - 1) * s->psz;
}

/* SQLite varint at p (at most 9 bytes, not past end). Returns its length, 0 if cut. */
static size_t varint(const uint8_t *p, const uint8_t *end, uint64_t *v)
{
    uint64_t x = 0;
    for (size_t i = 0; i < 9; i++) {
        if (p + i >= end)
            return 0;
        if (i == 8) {
            x = x << 8 | p[i];
            *v = x;
            return 9;
        }
        x = x << 7 | (p[i] & 0x7f);
        if (!(p[i] & 0x80)) {
            *v = x;
            return i + 1;
        }
    }
    return 0;
}

/* The payload of a table-leaf cell whose payload starts at p (P bytes in all). */
static int cell_payload(const sqf *s, const uint8_t *p, const uint8_t *page_end, uint64_t P, kh_buf *out)
{
    uint64_t U = s->usable, X = U - 35, local;
    if (P <= X) {
        local = P;
    } else {
        uint64_t M = ((U - 12) * 32 / 255) - 23, K = M + ((P - M) % (U - 4));
        local = K <= X ? K : M;
    }
    kh_buf_clear(out);
    if (P > RPM_MAX_BLOB || (uint64_t)(page_end - p) < local + (P > local ? 4 : 0))
        return KH_EFORMAT;
    int rc = kh_buf_append(out, p, (size_t)local);
    uint64_t left = P - local;
    uint32_t next = left ? be32(p + local) : 0;
    for (uint32_t hops = 0; !rc && left; hops++) {
        const uint8_t *pg = page_at(s, next);
        if (!pg || hops > s->npages)
            return KH_EFORMAT;
        uint64_t take = KH_MIN(left, U - 4);
        rc = kh_buf_append(out, pg + 4, (size_t)take);
        left -= take;
        next = be32(pg);
    }
    return rc;
}

/* Column col of a record: *type is its serial type, [*val, *val + *n) its bytes. */
static int record_column(const uint8_t *rec, size_t len, unsigned col, uint64_t *type, const uint8_t **val,
                         size_t *n)
{
    const uint8_t *end = rec + len;
    uint64_t hsize;
    size_t k = varint(rec, end, &hsize);
    if (!k || hsize > len || hsize < k)
        return KH_EFORMAT;
    const uint8_t *h = rec + k, *hend = rec + hsize;
    uint64_t off = hsize;
    for (unsigned c = 0; h < hend; c++) {
        uint64_t st, size;
        size_t m = varint(h, hend, &st);
        if (!m)
            return KH_EFORMAT;
        h += m;
        static const uint8_t intsz[10] = {0, 1, 2, 3, 4, 6, 8, 8, 0, 0};
        size = st < 10 ? intsz[st] : st >= 12 ? (st - 12) / 2 : 0;
        if (off > len || size > len - off)
            return KH_EFORMAT;
        if (c == col) {
            *type = st;
            *val = rec + off;
            *n = (size_t)size;
            return 0;
        }
        off += size;
    }
    return KH_ENOTFOUND;
}

static int64_t record_int(uint64_t type, const uint8_t *v, size_t n)
{
    if (type == 8 || type == 0)
        return 0;
    if (type == 9)
        return 1;
    int64_t x = (n && (v[0] & 0x80)) ? -1 : 0;
    for (size_t i = 0; i < n; i++)
        x = (int64_t)((uint64_t)x << 8 | v[i]);
    return x;
}

typedef int (*row_fn)(void *arg, const uint8_t *rec, size_t len);

/* Calls fn for every row of the table b-tree rooted at page root. */
static int walk_table(const sqf *s, uint32_t root, row_fn fn, void *arg)
{
    KH_VEC(uint32_t) stack = {0};
    kh_buf pl = KH_BUF_INIT(0);
    uint32_t visited = 0;
    int rc = KH_VEC_RESERVE(stack, 1, 0);
    if (!rc)
        stack.v[stack.n++] = root;
    while (!rc && stack.n) {
        uint32_t pno = stack.v[--stack.n];
        const uint8_t *pg = page_at(s, pno);
        if (!pg || ++visited > s->npages) {
            rc = KH_EFORMAT;
            break;
        }
        size_t h = pno == 1 ? 100 : 0;
        const uint8_t *pend = pg + s->usable;
        uint8_t type = pg[h];
        uint32_t ncells = be16(pg + h + 3);
        size_t hlen = type == 0x05 ? 12 : 8;
        if ((type != 0x05 && type != 0x0d) || h + hlen + 2 * (size_t)ncells > s->usable) {
            rc = KH_EFORMAT;
            break;
        }
        for (uint32_t i = 0; !rc && i < ncells; i++) {
            uint32_t ptr = be16(pg + h + hlen + 2 * i);
            if (ptr < h + hlen || ptr >= s->usable) {
                rc = KH_EFORMAT;
                break;
            }
            const uint8_t *c = pg + ptr;
            if (type == 0x05) {
                if (pend - c < 4 || (rc = KH_VEC_RESERVE(stack, 1, 1u << 24)) != 0) {
                    rc = rc ? rc : KH_EFORMAT;
                    break;
                }
                stack.v[stack.n++] = be32(c);
            } else {
                uint64_t P, rowid;
                size_t a = varint(c, pend, &P), b = a ? varint(c + a, pend, &rowid) : 0;
                if (!a || !b) {
                    rc = KH_EFORMAT;
                    break;
                }
                if ((rc = cell_payload(s, c + a + b, pend, P, &pl)) == 0)
                    rc = fn(arg, (const uint8_t *)pl.data, pl.len);
            }
        }
        if (!rc && type == 0x05) {
            if ((rc = KH_VEC_RESERVE(stack, 1, 1u << 24)) == 0)
                stack.v[stack.n++] = be32(pg + h + 8);
        }
    }
    KH_VEC_FREE(stack);
    kh_buf_dispose(&pl);
    return rc;
}

typedef struct schema_find {
    uint32_t root;
} schema_find;

static int on_schema(void *arg, const uint8_t *rec, size_t len)
{
    schema_find *f = arg;
    uint64_t t0, t1, t3;
    const uint8_t *v0, *v1, *v3;
    size_t n0, n1, n3;
    if (record_column(rec, len, 0, &t0, &v0, &n0) || record_column(rec, len, 1, &t1, &v1, &n1) ||
        record_column(rec, len, 3, &t3, &v3, &n3))
        return 0;
    if (n0 == 5 && memcmp(v0, "table", 5) == 0 && n1 == 8 && memcmp(v1, "Packages", 8) == 0 && t3 >= 1 && t3 <= 9) {
        int64_t r = record_int(t3, v3, n3);
        if (r > 0 && r <= UINT32_MAX)
            f->root = (uint32_t)r;
    }
    return 0;
}

static int on_package(void *arg, const uint8_t *rec, size_t len)
{
    kh_rpm_db *db = arg;
    uint64_t t;
    const uint8_t *v;
    size_t n;
    kh_rpm_pkg p;
    if (record_column(rec, len, 1, &t, &v, &n) != 0 || t < 12 || (t & 1)) {
        db->nbad++;
        return 0;
    }
    int rc = kh_rpm_parse_header(&p, v, n);
    if (rc == KH_ENOMEM)
        return rc;
    if (rc) {
        db->nbad++;
        return 0;
    }
    if (strcmp(p.name, "gpg-pubkey") == 0) { /* imported signing keys, not software */
        kh_rpm_pkg_free(&p);
        return 0;
    }
    if ((rc = kh_grow((void **)&db->pkgs, &db->cap, db->n + 1, sizeof(*db->pkgs), RPM_MAX_PKGS)) != 0) {
        kh_rpm_pkg_free(&p);
        return rc;
    }
    db->pkgs[db->n++] = p;
    return 0;
}

static int cmp_pkg(const void *a, const void *b)
{
    const kh_rpm_pkg *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (!c)
        c = strcmp(x->arch, y->arch);
    return c ? c : strcmp(x->version, y->version);
}

int kh_rpm_parse_sqlite(kh_rpm_db *db, const uint8_t *data, size_t len)
{
    if (len < 100 || memcmp(data, "SQLite format 3", 16) != 0)
        return KH_EFORMAT;
    sqf s;
    s.d = data;
    s.len = len;
    s.psz = be16(data + 16);
    if (s.psz == 1)
        s.psz = 65536;
    if (s.psz < 512 || (s.psz & (s.psz - 1)) || data[20] > s.psz - 480)
        return KH_EFORMAT;
    s.usable = s.psz - data[20];
    s.npages = (uint32_t)KH_MIN(len / s.psz, (size_t)UINT32_MAX);
    if (s.npages == 0)
        return KH_EFORMAT;
    schema_find f = {0};
    int rc = walk_table(&s, 1, on_schema, &f);
    if (rc)
        return rc;
    if (!f.root)
        return KH_EFORMAT;
    rc = walk_table(&s, f.root, on_package, db);
    if (db->n > 1)
        kh_qsort(db->pkgs, db->n, sizeof(*db->pkgs), cmp_pkg);
    return rc;
}

int kh_rpm_read(kh_rpm_db *db, const char *root, const char **path_out)
{
    static const char *const sqlite_paths[] = {"/var/lib/rpm/rpmdb.sqlite", "/usr/lib/sysimage/rpm/rpmdb.sqlite"};
    static const char *const other_paths[] = {"/var/lib/rpm/Packages", "/var/lib/rpm/Packages.db",
                                              "/usr/lib/sysimage/rpm/Packages.db"};
    for (size_t i = 0; i < KH_ARRAY_LEN(sqlite_paths); i++) {
        if (kh_root_kind(root, sqlite_paths[i]) != KH_ROOT_FILE)
            continue;
        if (path_out)
            *path_out = sqlite_paths[i];
        kh_buf b = KH_BUF_INIT(0);
        int rc = kh_root_read(root, sqlite_paths[i], KH_RPM_DB_LIMIT, &b);
        if (!rc)
            rc = kh_rpm_parse_sqlite(db, (const uint8_t *)b.data, b.len);
        kh_buf_dispose(&b);
        return rc;
    }
    for (size_t i = 0; i < KH_ARRAY_LEN(other_paths); i++)
        if (kh_root_kind(root, other_paths[i]) == KH_ROOT_FILE) {
            if (path_out)
                *path_out = other_paths[i];
            return KH_EUNSUPPORTED;
        }
    return KH_ENOENT;
}
