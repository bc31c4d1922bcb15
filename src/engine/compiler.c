/* Khiên — engine: the compiler, from signature sources to a kh_rules.
 *
 * kh_compiler_add_path() only lists database files (checking they can be
 * opened, so a missing database fails at once); kh_compiler_build() does
 * the work: it derives a key from every source's identity (path, inode,
 * size, times; the content for in-memory text), and when a compiled set
 * with that key is in the cache directory it maps that instead of parsing
 * anything. Otherwise it parses the .ign2 lists first (so ignored names
 * are dropped whatever the file order), then every database in order, sorts
 * the hash tables, compiles all body patterns into one matcher and writes
 * the result to the cache for next time.
 *
 * The compiled set is immutable; the compiler keeps the diagnostics
 * (file:line:column and message) for the caller to print.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/clamav/cav.h"
#include "engine/digest.h"
#include "engine/clamav/cvd.h"
#include "engine/exec.h"
#include "engine/rules_int.h"
#include "engine/yara/lexer.h"
#include "engine/yara/ybuild.h"
#include "platform/platform.h"

#define MAX_SOURCES 4096u
#define MAX_DB_BYTES (4ull << 30)
#define CACHE_KEEP 4

typedef struct source {
    char *path;   /* as shown to users */
    char ext[8];
    kh_dbkind kind;
    int yara;     /* a YARA rule file (kind unused) */
    char *ns;     /* YARA namespace */
    char *text;   /* in-memory source, or NULL */
    size_t textlen;
    struct stat st;
} source;

struct kh_compiler {
    kh_compiler_options opts;
    source *src;
    size_t nsrc, capsrc;
    kh_diagv diags;
    int built;
    /* YARA external variables, as "name=value" strings in definition order */
    KH_VEC(char *) defines;
    /* included files read while parsing YARA sources: path and SHA-256 of content */
    KH_VEC(kh_dep) deps;
    /* the set's cache key, made once (it stats every database and reads
     * every rule file): identity, cached stats and build all ask for it */
    uint8_t key[32];
    int have_key;
    int key_memo; /* the key came from its memo (make_key) */
};

/* Past the limit, file-level diagnostics (line 0: a database's summaries,
 * such as "300 malformed lines skipped") are still kept, up to this many:
 * the count is what a user needs once the individual lines are dropped. */
#define DIAG_SUMMARIES 64u

void kh_diagv_add(kh_diagv *d, kh_diag_severity sev, const char *file, unsigned line, unsigned col, const char *msg)
{
    d->total++;
    if ((d->n >= d->max && (line != 0 || d->n >= (size_t)d->max + DIAG_SUMMARIES)) ||
        kh_grow((void **)&d->v, &d->cap, d->n + 1, sizeof(kh_diag), 0))
        return;
    kh_diag *x = &d->v[d->n];
    x->severity = sev;
    x->file = kh_strdup(file ? file : "");
    x->line = line;
    x->column = col;
    x->message = kh_strdup(msg);
    if (!x->file || !x->message) {
        free((void *)x->file);
        free((void *)x->message);
        return;
    }
    d->n++;
}

void kh_diagv_free(kh_diagv *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free((void *)d->v[i].file);
        free((void *)d->v[i].message);
    }
    free(d->v);
    memset(d, 0, sizeof(*d));
}

int kh_compiler_create(kh_compiler **out, const kh_compiler_options *opts)
{
    kh_compiler_options def = KH_COMPILER_OPTIONS_INIT;
    if (opts && opts->version != KH_COMPILER_OPTIONS_VERSION)
        return KH_EINVAL;
    kh_compiler *c = calloc(1, sizeof(*c));
    if (!c)
        return KH_ENOMEM;
    c->opts = opts ? *opts : def;
    c->diags.max = c->opts.max_diags;
    if (c->opts.cache_dir && !(c->opts.cache_dir = kh_strdup(c->opts.cache_dir))) {
        free(c);
        return KH_ENOMEM;
    }
    *out = c;
    return 0;
}

void kh_compiler_destroy(kh_compiler *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nsrc; i++) {
        free(c->src[i].path);
        free(c->src[i].text);
        free(c->src[i].ns);
    }
    for (size_t i = 0; i < c->defines.n; i++)
        free(c->defines.v[i]);
    KH_VEC_FREE(c->defines);
    for (size_t i = 0; i < c->deps.n; i++)
        free(c->deps.v[i].path);
    KH_VEC_FREE(c->deps);
    free(c->src);
    kh_diagv_free(&c->diags);
    free((void *)c->opts.cache_dir);
    free(c);
}

size_t kh_compiler_diag_count(const kh_compiler *c) { return c ? c->diags.n : 0; }
const kh_diag *kh_compiler_diag(const kh_compiler *c, size_t i) { return c && i < c->diags.n ? &c->diags.v[i] : NULL; }

static void cdiag(kh_compiler *c, kh_diag_severity sev, const char *file, const char *fmt, ...) KH_PRINTF(4, 5);
static void cdiag(kh_compiler *c, kh_diag_severity sev, const char *file, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    kh_diagv_add(&c->diags, sev, file, 0, 0, msg);
}

static const char *ext_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(slash ? slash : path, '.');
    return dot ? dot + 1 : "";
}

static int push_source(kh_compiler *c, source *s)
{
    if (c->nsrc >= MAX_SOURCES)
        return KH_ELIMIT;
    int rc = kh_grow((void **)&c->src, &c->capsrc, c->nsrc + 1, sizeof(source), MAX_SOURCES);
    if (rc)
        return rc;
    c->src[c->nsrc++] = *s;
    c->have_key = 0;
    return 0;
}

static int is_yara_ext(const char *ext) { return strcmp(ext, "yar") == 0 || strcmp(ext, "yara") == 0; }

static int add_file_ns(kh_compiler *c, const char *path, int from_dir, const char *ns)
{
    const char *ext = ext_of(path);
    int pua = 0;
    int yara = is_yara_ext(ext) || ns != NULL;
    kh_dbkind kind = yara ? KH_DB_LATER : strlen(ext) < 8 ? kh_clamav_kind(ext, &pua) : KH_DB_UNKNOWN;
    if (kind == KH_DB_UNKNOWN && !yara && kh_cvd_type_of(ext)) /* containers: loaded by cvd.c */
        kind = KH_DB_LATER;
    if (kind == KH_DB_UNKNOWN) {
        if (from_dir)
            return 0;
        cdiag(c, KH_DIAG_ERROR, path, "not a known signature database type (.%s)", ext);
        return KH_EINVAL;
    }
    if (pua && !(c->opts.flags & KH_COMPILE_PUA))
        return 0;
    if (from_dir && kh_cvd_superseded(path)) /* main.cvd beside a newer main.cld: as ClamAV, the newer only */
        return 0;
    source s = {0};
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* a FIFO must not block us */
    if (fd < 0 || fstat(fd, &s.st) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        cdiag(c, KH_DIAG_ERROR, path, "cannot open database: %s", strerror(e));
        return kh_errno_to_kh(e);
    }
    close(fd);
    if (!S_ISREG(s.st.st_mode)) {
        cdiag(c, KH_DIAG_ERROR, path, "not a regular file");
        return KH_EINVAL;
    }
    s.kind = kind;
    s.yara = yara;
    memcpy(s.ext, ext, strlen(ext) < 8 ? strlen(ext) + 1 : 1);
    if (!(s.path = kh_strdup(path)) || (yara && !(s.ns = kh_strdup(ns ? ns : "default")))) {
        free(s.path);
        return KH_ENOMEM;
    }
    int rc = push_source(c, &s);
    if (rc) {
        free(s.path);
        free(s.ns);
    }
    return rc;
}

static int add_file(kh_compiler *c, const char *path, int from_dir) { return add_file_ns(c, path, from_dir, NULL); }

int kh_compiler_add_yara_file(kh_compiler *c, const char *path, const char *ns)
{
    if (!c || !path || c->built)
        return KH_EINVAL;
    return add_file_ns(c, path, 0, ns ? ns : "default");
}

int kh_compiler_add_yara_text(kh_compiler *c, const char *ns, const char *origin, const char *text, size_t len)
{
    if (!c || !origin || (!text && len) || c->built)
        return KH_EINVAL;
    source s = {0};
    s.kind = KH_DB_LATER;
    s.yara = 1;
    s.path = kh_strdup(origin);
    s.ns = kh_strdup(ns ? ns : "default");
    s.text = malloc(len + 1);
    if (!s.path || !s.ns || !s.text) {
        free(s.path), free(s.ns), free(s.text);
        return KH_ENOMEM;
    }
    if (len)
        memcpy(s.text, text, len);
    s.text[len] = 0;
    s.textlen = len;
    int rc = push_source(c, &s);
    if (rc)
        free(s.path), free(s.ns), free(s.text);
    return rc;
}

int kh_compiler_define(kh_compiler *c, const char *name, const char *value)
{
    if (!c || !name || !value || c->built || !*name)
        return KH_EINVAL;
    kh_buf b = KH_BUF_INIT(1u << 20);
    if (kh_buf_printf(&b, "%s=%s", name, value))
        return KH_ENOMEM;
    if (KH_VEC_RESERVE(c->defines, 1, 65536)) {
        kh_buf_dispose(&b);
        return KH_ENOMEM;
    }
    c->defines.v[c->defines.n++] = kh_buf_detach(&b, NULL);
    c->have_key = 0;
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int kh_compiler_add_path(kh_compiler *c, const char *path)
{
    if (!c || !path || c->built)
        return KH_EINVAL;
    struct stat st;
    if (stat(path, &st) != 0) {
        int e = errno;
        cdiag(c, KH_DIAG_ERROR, path, "cannot open database: %s", strerror(e));
        return kh_errno_to_kh(e);
    }
    if (!S_ISDIR(st.st_mode))
        return add_file(c, path, 0);
    DIR *d = opendir(path);
    if (!d) {
        int e = errno;
        cdiag(c, KH_DIAG_ERROR, path, "cannot open database directory: %s", strerror(e));
        return kh_errno_to_kh(e);
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *de;
    while (!rc && (de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        if ((rc = kh_grow((void **)&names, &cap, n + 1, sizeof(char *), MAX_SOURCES)))
            break;
        if (!(names[n] = kh_strdup(de->d_name)))
            rc = KH_ENOMEM;
        else
            n++;
    }
    closedir(d);
    if (n > 1)
        kh_qsort(names, n, sizeof(char *), cmp_str);
    size_t before = c->nsrc;
    for (size_t i = 0; i < n && !rc; i++) {
        kh_buf p = KH_BUF_INIT(4096);
        if ((rc = kh_buf_printf(&p, "%s%s%s", path, kh_str_endswith(path, "/") ? "" : "/", names[i])))
            break;
        struct stat fst;
        if (stat(p.data, &fst) == 0 && S_ISREG(fst.st_mode))
            rc = add_file(c, p.data, 1);
        kh_buf_dispose(&p);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (!rc && c->nsrc == before) {
        cdiag(c, KH_DIAG_ERROR, path, "no supported database files found in this directory");
        rc = KH_EINVAL;
    }
    return rc;
}

int kh_compiler_add_text(kh_compiler *c, const char *kind, const char *origin, const char *text, size_t len)
{
    if (!c || !kind || !origin || (!text && len) || c->built)
        return KH_EINVAL;
    int pua = 0;
    kh_dbkind k = strlen(kind) < 8 ? kh_clamav_kind(kind, &pua) : KH_DB_UNKNOWN;
    if (k == KH_DB_UNKNOWN) {
        cdiag(c, KH_DIAG_ERROR, origin, "not a known signature database type (.%s)", kind);
        return KH_EINVAL;
    }
    source s = {0};
    s.kind = k;
    memcpy(s.ext, kind, strlen(kind) + 1);
    s.path = kh_strdup(origin);
    s.text = malloc(len + 1);
    if (!s.path || !s.text) {
        free(s.path);
        free(s.text);
        return KH_ENOMEM;
    }
    if (len)
        memcpy(s.text, text, len);
    s.text[len] = 0;
    s.textlen = len;
    int rc = push_source(c, &s);
    if (rc) {
        free(s.path);
        free(s.text);
    }
    return rc;
}

/* ---- Built-in signatures ---------------------------------------------- */

/* The EICAR test string, stored XOR 0x5a so that this source file (and the
 * binary) never look like the test file to another antivirus product. */
static const uint8_t eicar_x[] = {
    0x02, 0x6f, 0x15, 0x7b, 0x0a, 0x7f, 0x1a, 0x1b, 0x0a, 0x01, 0x6e, 0x06, 0x0a, 0x00, 0x02, 0x6f, 0x6e,
    0x72, 0x0a, 0x04, 0x73, 0x6d, 0x19, 0x19, 0x73, 0x6d, 0x27, 0x7e, 0x1f, 0x13, 0x19, 0x1b, 0x08, 0x77,
    0x09, 0x0e, 0x1b, 0x14, 0x1e, 0x1b, 0x08, 0x1e, 0x77, 0x1b, 0x14, 0x0e, 0x13, 0x0c, 0x13, 0x08, 0x0f,
    0x09, 0x77, 0x0e, 0x1f, 0x09, 0x0e, 0x77, 0x1c, 0x13, 0x16, 0x1f, 0x7b, 0x7e, 0x12, 0x71, 0x12, 0x70,
};

#define BUILTIN_NAME "Eicar-Test-Signature"

static int builtin_text(kh_buf *out)
{
    int rc = kh_buf_puts(out, BUILTIN_NAME ":0:0:");
    for (size_t i = 0; i < sizeof(eicar_x) && !rc; i++)
        rc = kh_buf_printf(out, "%02x", eicar_x[i] ^ 0x5a);
    return rc ? rc : kh_buf_putc(out, '\n');
}

/* ---- Building ------------------------------------------------------------ */

static void db_diag(void *ud, kh_diag_severity sev, unsigned line, unsigned col, const char *msg)
{
    void **a = ud;
    kh_compiler *c = a[0];
    const char *file = a[1];
    kh_diagv_add(&c->diags, sev, file, line, col, msg);
}

static uint64_t atom_hash(const kh_yatom *a, const uint8_t *bytes)
{
    uint64_t h = 1469598103934665603ull ^ a->len ^ ((uint64_t)a->flags << 32);
    uint32_t n = (a->flags & KH_YAF_MASKED) ? 2 * a->len : a->len;
    for (uint32_t i = 0; i < n; i++)
        h = (h ^ bytes[a->off + i]) * 1099511628211ull;
    return h;
}

static int same_atom(const kh_yatom *x, const kh_yatom *y, const uint8_t *bytes)
{
    if (x->len != y->len || x->flags != y->flags)
        return 0;
    uint32_t n = (x->flags & KH_YAF_MASKED) ? 2 * x->len : x->len;
    return memcmp(bytes + x->off, bytes + y->off, n) == 0;
}

/* Links atoms with the same literal (bytes, mask, case) into chains in
 * index order: twin = next one + 1. */
static int twin_atoms(kh_yatom *atoms, size_t n, const uint8_t *bytes)
{
    if (n < 2)
        return 0;
    size_t cap = 16;
    while (cap < n * 2)
        cap <<= 1;
    uint32_t *head = calloc(cap, sizeof(uint32_t)), *tail = calloc(n, sizeof(uint32_t));
    if (!head || !tail) {
        free(head);
        free(tail);
        return KH_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        atoms[i].twin = 0;
        size_t slot = (size_t)atom_hash(&atoms[i], bytes) & (cap - 1);
        while (head[slot] && !same_atom(&atoms[head[slot] - 1], &atoms[i], bytes))
            slot = (slot + 1) & (cap - 1);
        if (!head[slot]) {
            head[slot] = (uint32_t)i + 1;
            tail[i] = (uint32_t)i + 1;
            continue;
        }
        uint32_t lead = head[slot] - 1;
        atoms[tail[lead] - 1].twin = (uint32_t)i + 1;
        tail[lead] = (uint32_t)i + 1;
    }
    free(head);
    free(tail);
    return 0;
}

#define MAX_RULE_FILE (64u << 20)
#define MAX_KEY_INCLUDES 4096u /* distinct included files the key follows */

/* An include's path: relative to the including file's folder, as is when
 * absolute or when the including file has no folder (yara does the same). */
static int include_path(const char *from, const char *name, kh_buf *p)
{
    const char *slash = from ? strrchr(from, '/') : NULL;
    if (name[0] == '/' || !slash)
        return kh_buf_puts(p, name);
    int rc = kh_buf_append(p, from, (size_t)(slash - from) + 1);
    return rc ? rc : kh_buf_puts(p, name);
}

/* The files a rule text includes, in the key without parsing the rules: every
 * "include" followed by a text string is taken, wherever it is (in a comment
 * or a string too: more files than the parser reads, never fewer), through
 * the lexer itself so that blanks, comments and escapes between the two are
 * read as the parser reads them. Each included file goes in with its content
 * hash (or the error that kept it from being read) and is searched in turn;
 * a path is followed once. */
typedef struct inc_scan {
    kh_buf *k;
    kh_buf *memo; /* the stat of every file read (memo_note), or NULL */
    int memo_bad; /* a path the memo cannot hold */
    KH_VEC(char *) seen;
    KH_VEC(unsigned) seen_depth; /* the least depth each was met at */
    int over; /* more than MAX_KEY_INCLUDES files */
    kh_buf text[KH_Y_MAX_INCLUDE_DEPTH + 1]; /* the file read at each depth */
    uint32_t *slots; /* SEEN_SLOTS: index in seen + 1 by path hash (0: free), allocated on first use */
} inc_scan;

#define SEEN_SLOTS (2u * MAX_KEY_INCLUDES)

/* The slot of path in is->slots: the one holding it, or the free one where
 * it goes (a linear search of `seen` cost 11 ms for 1,040 includes). */
static uint32_t *seen_slot(inc_scan *is, const char *path)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *c = (const unsigned char *)path; *c; c++)
        h = (h ^ *c) * 16777619u;
    for (uint32_t k = 0;; k++) {
        uint32_t *sl = &is->slots[(h + k) & (SEEN_SLOTS - 1)];
        if (!*sl || strcmp(is->seen.v[*sl - 1], path) == 0)
            return sl; /* the table never fills: at most MAX_KEY_INCLUDES paths */
    }
}

/* ---- The key's memo ----------------------------------------------------------
 *
 * The key reads every rule file and every file it includes: 1,040 files
 * and 21 ms of a 70 ms start with protections-artifacts, at every run. The
 * memo (cache_dir/key-<hash of the sources>.memo) remembers, for one list
 * of sources, the key and the stat of each file read to make it (device,
 * inode, size, mtime and ctime in nanoseconds, or that it was missing).
 * When every file still has the same stat, the key is the memo's, and the
 * files are not read; any rewrite of a file changes its ctime.
 *
 * A file changed twice within one tick of the file system's clock keeps
 * its ctime; if the memo was written between the two changes, the stat
 * would not show the second. As git does with its index ("racy git"), a
 * file whose recorded ctime is not MEMO_RACY_NS older than the memo itself
 * (its mtime, the same clock) is never trusted: the key is made again. */
#define MEMO_MAGIC "khien-key-memo/1 "
#define MEMO_RACY_NS 2000000000LL
#define MEMO_KEEP 8u
#define MEMO_MAX (64u << 20)

/* A file's identity as the key and the memo write it: device, inode,
 * size, mtime and ctime (ns), then a space. */
static int put_stat(kh_buf *b, const struct stat *st)
{
    return kh_buf_printf(b, "%llu %llu %lld %lld.%09ld %lld.%09ld ", (unsigned long long)st->st_dev,
                         (unsigned long long)st->st_ino, (long long)st->st_size, (long long)st->st_mtim.tv_sec,
                         st->st_mtim.tv_nsec, (long long)st->st_ctim.tv_sec, st->st_ctim.tv_nsec);
}

static void memo_note(inc_scan *is, const char *path)
{
    if (!is->memo || is->memo_bad)
        return;
    struct stat st;
    if (strchr(path, '\n')) {
        is->memo_bad = 1;
        return;
    }
    int rc = stat(path, &st) == 0 ? put_stat(is->memo, &st) : kh_buf_puts(is->memo, "- ");
    if (rc || kh_buf_puts(is->memo, path) || kh_buf_putc(is->memo, '\n'))
        is->memo_bad = 1;
}

static int64_t ns_of(long long sec, long nsec) { return (int64_t)sec * 1000000000LL + nsec; }

/* The key the memo at path gives, if every file it names is unchanged and
 * none is racy: 0 and key set, else nonzero. */
static int memo_check(const char *path, uint8_t key[32])
{
    /* The memo is replaced by rename: if it is replaced between the stat
     * and the read, the content is newer than `written`, which only makes
     * the racy test stricter. */
    struct stat ms = {0};
    kh_buf m = KH_BUF_INIT(MEMO_MAX);
    int rc = stat(path, &ms) != 0 || kh_read_path(path, MEMO_MAX, &m) != 0;
    const int64_t written = ns_of((long long)ms.st_mtim.tv_sec, ms.st_mtim.tv_nsec);
    const size_t ml = sizeof(MEMO_MAGIC) - 1, got = m.len;
    uint8_t k[32];
    if (!rc)
        rc = got < ml + 65 || memcmp(m.data, MEMO_MAGIC, ml) != 0 || m.data[ml + 64] != '\n' ||
             kh_hex_decode(m.data + ml, 64, k) != 0;
    for (char *line = m.data + ml + 65, *nl; !rc && line < m.data + got; line = nl + 1) {
        if (!(nl = memchr(line, '\n', (size_t)(m.data + got - line)))) {
            rc = -1;
            break;
        }
        *nl = 0;
        struct stat st;
        if (line[0] == '-' && line[1] == ' ') {
            rc = stat(line + 2, &st) == 0; /* was missing: must still be */
            continue;
        }
        unsigned long long dev, ino;
        long long size, ms_, cs;
        long mn, cn;
        int off = 0;
        if (sscanf(line, "%llu %llu %lld %lld.%ld %lld.%ld %n", &dev, &ino, &size, &ms_, &mn, &cs, &cn, &off) != 7 ||
            off <= 0 || stat(line + off, &st) != 0 || (unsigned long long)st.st_dev != dev ||
            (unsigned long long)st.st_ino != ino || (long long)st.st_size != size ||
            (long long)st.st_mtim.tv_sec != ms_ || st.st_mtim.tv_nsec != mn || (long long)st.st_ctim.tv_sec != cs ||
            st.st_ctim.tv_nsec != cn || ns_of(cs, cn) > written - MEMO_RACY_NS)
            rc = -1;
    }
    if (!rc)
        memcpy(key, k, 32);
    kh_buf_dispose(&m);
    return rc;
}

static int key_includes(inc_scan *is, const char *from, const char *text, size_t len, unsigned depth)
{
    static const char kw[] = "include";
    int rc = 0;
    for (size_t pos = 0; pos + sizeof(kw) - 1 <= len && !rc && !is->over;) {
        const char *hit = memmem(text + pos, len - pos, kw, sizeof(kw) - 1);
        if (!hit)
            break;
        size_t off = (size_t)(hit - text);
        pos = off + sizeof(kw) - 1;
        kh_ylex lx;
        kh_ylex_init(&lx, hit, len - off);
        if (kh_ylex_next(&lx) != KH_T_INCLUDE || kh_ylex_next(&lx) != KH_T_TEXT || !lx.text.data) {
            kh_ylex_dispose(&lx);
            continue;
        }
        kh_buf p = KH_BUF_INIT(8192);
        rc = include_path(from, lx.text.data, &p);
        kh_ylex_dispose(&lx);
        /* A path is followed once, and again only when met less deep than
         * before: includes deeper than the parser reads are left out, and a
         * file met first through a commented-out include can come deeper
         * than the parser reads it. */
        size_t dup = SIZE_MAX;
        uint32_t *slot = NULL;
        if (!rc && p.data && !is->slots && !(is->slots = calloc(SEEN_SLOTS, sizeof(uint32_t)))) {
            kh_buf_dispose(&p);
            return KH_ENOMEM;
        }
        if (!rc && p.data && *(slot = seen_slot(is, p.data)))
            dup = *slot - 1;
        if (rc || !p.data || (dup != SIZE_MAX && depth + 1 >= is->seen_depth.v[dup])) {
            kh_buf_dispose(&p);
            rc = rc == KH_ELIMIT ? 0 : rc; /* a path too long: the parser cannot open it either */
            continue;
        }
        const char *path;
        if (dup != SIZE_MAX) {
            kh_buf_dispose(&p);
            path = is->seen.v[dup];
            is->seen_depth.v[dup] = depth + 1;
        } else {
            if (is->seen.n >= MAX_KEY_INCLUDES) {
                is->over = 1;
                kh_buf_dispose(&p);
                break;
            }
            char *own = kh_buf_detach(&p, NULL);
            if (!own || KH_VEC_RESERVE(is->seen, 1, MAX_KEY_INCLUDES) ||
                KH_VEC_RESERVE(is->seen_depth, 1, MAX_KEY_INCLUDES)) {
                free(own);
                return KH_ENOMEM;
            }
            is->seen.v[is->seen.n++] = own;
            *slot = (uint32_t)is->seen.n;
            path = own;
            is->seen_depth.v[is->seen_depth.n++] = depth + 1;
        }
        kh_buf *t = &is->text[depth + 1 <= KH_Y_MAX_INCLUDE_DEPTH ? depth + 1 : KH_Y_MAX_INCLUDE_DEPTH];
        memo_note(is, path);
        int mrc = kh_read_path(path, MAX_RULE_FILE, t);
        if (mrc) {
            rc = kh_buf_printf(is->k, "include %s unreadable %d\n", path, mrc);
            continue;
        }
        uint8_t h[32];
        char hex[65];
        if (!(rc = kh_sha256(t->data ? t->data : "", t->len, h))) {
            kh_hex_encode(h, 32, hex);
            rc = kh_buf_printf(is->k, "include %s %s\n", path, hex);
        }
        /* The parser refuses includes this deep: what they include does not matter. */
        if (!rc && depth + 1 < KH_Y_MAX_INCLUDE_DEPTH)
            rc = key_includes(is, path, t->data ? t->data : "", t->len, depth + 1);
    }
    return rc;
}

/* The first lines of the key's text and of the memo's: what the compiled
 * set depends on besides the sources (program, options, built-in
 * signatures, external variables). */
static int key_head(kh_compiler *c, const kh_buf *builtin, const char *tag, kh_buf *k)
{
    char self[128];
    kh_self_id(self, sizeof(self));
    int rc = kh_buf_printf(k, "%s/%s/%s/%u/%s/%s/%s\n", tag, KH_VERSION_STRING, self,
                           c->opts.flags & (KH_COMPILE_PUA | KH_COMPILE_NO_BUILTIN | KH_COMPILE_STRICT |
                                            KH_COMPILE_UNSIGNED_OK),
                           builtin->data ? builtin->data : "", c->opts.clamav_keys ? c->opts.clamav_keys : "",
                           c->opts.clamav_certs ? c->opts.clamav_certs : "");
    for (size_t i = 0; i < c->defines.n && !rc; i++)
        rc = kh_buf_printf(k, "define %s\n", c->defines.v[i]);
    return rc;
}

/* A signature database file in the key: named by its stat, taken when it
 * was added (its content, up to 600 MB, is not hashed). */
static int key_file_line(kh_buf *k, const source *s)
{
    int rc = kh_buf_printf(k, "file %s %s ", s->ext, s->path);
    if (!rc && !(rc = put_stat(k, &s->st)))
        k->data[k->len - 1] = '\n'; /* the line ends with the stat */
    return rc;
}

/* The memo's path for this compiler's sources (the key's text without the
 * content of the rule files): 0 and *out filled, or nonzero when the
 * sources cannot have one (no cache folder, no rule file, rules given as
 * text). */
static int memo_path(kh_compiler *c, const kh_buf *builtin, kh_buf *out)
{
    /* Only rule files are read for the key: without them (signature
     * databases are keyed by their stat) a memo would save nothing. */
    int any = 0;
    for (size_t i = 0; i < c->nsrc; i++)
        any |= c->src[i].yara && !c->src[i].text;
    if (!c->opts.cache_dir || !any)
        return -1;
    kh_buf k = KH_BUF_INIT(0);
    int rc = key_head(c, builtin, "memo", &k);
    for (size_t i = 0; i < c->nsrc && !rc; i++) {
        const source *s = &c->src[i];
        if (s->text)
            rc = -1;
        else if (s->yara)
            rc = kh_buf_printf(&k, "yara %s %s\n", s->ns, s->path);
        else
            rc = key_file_line(&k, s);
    }
    uint8_t h[32];
    char hex[65];
    if (!rc && !(rc = kh_sha256(k.data, k.len, h))) {
        kh_hex_encode(h, 32, hex);
        hex[24] = 0;
        rc = kh_buf_printf(out, "%s/key-%s.memo", c->opts.cache_dir, hex);
    }
    kh_buf_dispose(&k);
    return rc;
}

static void prune_files(const char *dir, const char *prefix, const char *suffix, const char *keep, size_t nkeep);

static int make_key_text(kh_compiler *c, const kh_buf *builtin, uint8_t key[32], kh_buf *memo);

static int make_key(kh_compiler *c, const kh_buf *builtin, uint8_t key[32])
{
    kh_buf mp = KH_BUF_INIT(0);
    c->key_memo = 0;
    if (memo_path(c, builtin, &mp) != 0) {
        kh_buf_dispose(&mp);
        return make_key_text(c, builtin, key, NULL);
    }
    if (memo_check(mp.data, key) == 0) {
        c->key_memo = 1;
        kh_buf_dispose(&mp);
        return 0;
    }
    kh_buf files = KH_BUF_INIT(MEMO_MAX), memo = KH_BUF_INIT(MEMO_MAX);
    size_t ndiag = c->diags.n;
    int rc = make_key_text(c, builtin, key, &files);
    char hex[65];
    kh_hex_encode(key, 32, hex);
    /* A memo that cannot be written costs the next run the reads, nothing else. */
    if (!rc && files.len && c->diags.n == ndiag && !kh_buf_printf(&memo, "%s%s\n", MEMO_MAGIC, hex) &&
        !kh_buf_append(&memo, files.data, files.len) && kh_mkdir_p(c->opts.cache_dir, 0700) == 0 &&
        kh_write_atomic(mp.data, memo.data, memo.len) == 0)
        prune_files(c->opts.cache_dir, "key-", ".memo", mp.data, MEMO_KEEP);
    kh_buf_dispose(&files);
    kh_buf_dispose(&memo);
    kh_buf_dispose(&mp);
    return rc;
}

/* The key: a SHA-256 over a text naming every source, with the content
 * hash of each rule file and each file it includes. With memo, the stat of
 * each file read is written there (memo_note), before it is read. */
static int make_key_text(kh_compiler *c, const kh_buf *builtin, uint8_t key[32], kh_buf *memo)
{
    kh_buf k = KH_BUF_INIT(0);
    int rc = key_head(c, builtin, "khien-db/1", &k);
    inc_scan is = {.k = &k, .memo = memo};
    for (size_t i = 0; i < c->nsrc && !rc; i++) {
        source *s = &c->src[i];
        if (s->yara && !s->text) {
            /* Rule files are small: key on their content and on that of the
             * files they include (the compiled set's own list of them is not
             * checked again on load: this is that check). */
            kh_buf *t = &is.text[0];
            uint8_t h[32];
            char hex[65];
            memo_note(&is, s->path);
            if ((rc = kh_read_path(s->path, 1ull << 30, t))) {
                cdiag(c, KH_DIAG_ERROR, s->path, "cannot read rules: %s", kh_strerror(rc));
                break;
            }
            rc = kh_sha256(t->data ? t->data : "", t->len, h);
            kh_hex_encode(h, 32, hex);
            if (!rc)
                rc = kh_buf_printf(&k, "yara %s %s %s\n", s->ns, s->path, hex);
            if (!rc)
                rc = key_includes(&is, s->path, t->data ? t->data : "", t->len, 0);
            continue;
        }
        if (s->yara)
            rc = kh_buf_printf(&k, "yara-ns %s\n", s->ns);
        if (rc)
            break;
        if (s->text) {
            uint8_t h[32];
            char hex[65];
            if ((rc = kh_sha256(s->text, s->textlen, h)))
                break;
            kh_hex_encode(h, 32, hex);
            rc = kh_buf_printf(&k, "text %s %s %s\n", s->ext, s->path, hex);
            if (!rc && s->yara)
                rc = key_includes(&is, s->path, s->text, s->textlen, 0);
        } else {
            rc = key_file_line(&k, s);
        }
    }
    /* Too many included files to follow: a key no other run can have, so
     * neither this set nor files found clean with it are ever reused. */
    if (!rc && is.over)
        rc = kh_buf_printf(&k, "includes not followed %p %.9f %ld\n", (void *)c, kh_now(), (long)getpid());
    if (memo && (is.over || is.memo_bad))
        memo->len = 0; /* no memo for this key */
    for (size_t i = 0; i < is.seen.n; i++)
        free(is.seen.v[i]);
    KH_VEC_FREE(is.seen);
    KH_VEC_FREE(is.seen_depth);
    for (size_t i = 0; i <= KH_Y_MAX_INCLUDE_DEPTH; i++)
        kh_buf_dispose(&is.text[i]);
    free(is.slots);
    if (!rc)
        rc = kh_sha256(k.data, k.len, key);
    kh_buf_dispose(&k);
    return rc;
}

static int compiler_key(kh_compiler *c, const kh_buf *builtin, uint8_t key[32])
{
    if (!c->have_key) {
        int rc = make_key(c, builtin, c->key);
        if (rc)
            return rc;
        c->have_key = 1;
    }
    memcpy(key, c->key, 32);
    return 0;
}

/* Sorts one table's records and collects its distinct sizes. */
static int finish_table(kh_htab *t, kh_buf *recs, unsigned alg, void **heap, unsigned *nheap)
{
    size_t rl = KH_HREC(alg), dl = kh_halg_len[alg];
    size_t n = recs->len / rl;
    if (n > 1)
        kh_htab_sort((uint8_t *)recs->data, n, alg);
    uint32_t *sizes = malloc(sizeof(uint32_t) * (n ? n : 1));
    if (!sizes)
        return KH_ENOMEM;
    size_t ns = 0;
    t->any_size = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t sz;
        memcpy(&sz, recs->data + i * rl + dl, 4);
        if (sz == KH_ANY_SIZE)
            t->any_size = 1;
        else
            sizes[ns++] = sz;
    }
    if (ns > 1)
        kh_sort_u32(sizes, ns);
    size_t k = 0;
    for (size_t i = 0; i < ns; i++)
        if (k == 0 || sizes[k - 1] != sizes[i])
            sizes[k++] = sizes[i];
    t->rec = (const uint8_t *)recs->data;
    t->n = n;
    t->sizes = sizes;
    t->nsizes = k;
    heap[(*nheap)++] = sizes;
    heap[(*nheap)++] = kh_buf_detach(recs, NULL);
    return 0;
}

static void cache_path(kh_compiler *c, const uint8_t key[32], kh_buf *out)
{
    char hex[65];
    kh_hex_encode(key, 32, hex);
    hex[24] = 0;
    kh_buf_printf(out, "%s/sigs-%s.kdb", c->opts.cache_dir, hex);
}

/* Keeps the newest nkeep files named prefix*suffix in dir, keep among them. */
static void prune_files(const char *dir, const char *prefix, const char *suffix, const char *keep, size_t nkeep)
{
    const char *keep_base = strrchr(keep, '/');
    keep_base = keep_base ? keep_base + 1 : keep;
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct ent {
        char name[256];
        time_t mtime;
    } e[64];
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < KH_ARRAY_LEN(e)) {
        if (strncmp(de->d_name, prefix, strlen(prefix)) || !kh_str_endswith(de->d_name, suffix) ||
            strlen(de->d_name) > 255 ||
            strcmp(de->d_name, keep_base) == 0)
            continue;
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, 0) != 0)
            continue;
        strcpy(e[n].name, de->d_name);
        e[n].mtime = st.st_mtime;
        n++;
    }
    while (n + 1 > nkeep) {
        size_t old = 0;
        for (size_t i = 1; i < n; i++)
            if (e[i].mtime < e[old].mtime)
                old = i;
        unlinkat(dirfd(d), e[old].name, 0);
        e[old] = e[--n];
    }
    closedir(d);
}

static int load_source(kh_compiler *c, size_t i, kh_dbctx *ctx, char ***ign, size_t *nign, size_t *capign,
                       int ign_pass)
{
    source *s = &c->src[i];
    if (!s->yara && !s->text && kh_cvd_type_of(s->ext)) { /* .cvd .cld .cud: cvd.c */
        void *cud[2] = {c, s->path};
        ctx->source = (uint32_t)i;
        ctx->ud = cud;
        return kh_cvd_load_source(ctx, s->path, c->opts.clamav_keys, c->opts.clamav_certs, ign_pass, ign, nign,
                                  capign);
    }
    if (s->yara || (s->kind == KH_DB_IGN) != ign_pass)
        return 0;
    kh_map m = {0};
    const char *text = s->text;
    size_t len = s->textlen;
    int rc = 0;
    if (!text) {
        if ((rc = kh_map_path(&m, s->path, MAX_DB_BYTES))) {
            cdiag(c, KH_DIAG_ERROR, s->path, "cannot read database: %s", kh_strerror(rc));
            return rc;
        }
        text = (const char *)m.data;
        len = m.len;
    }
    void *ud[2] = {c, s->path};
    ctx->source = (uint32_t)i;
    ctx->ud = ud;
    if (ign_pass)
        rc = kh_clamav_ign_collect(ctx, text, len, ign, nign, capign);
    else
        rc = kh_clamav_load(ctx, s->kind, s->ext, text, len);
    kh_map_release(&m);
    return rc;
}

/* ---- YARA sources ------------------------------------------------------------ */

static void yara_diag(void *ud, kh_diag_severity sev, const char *file, unsigned line, unsigned col, const char *msg)
{
    kh_compiler *c = ud;
    kh_diagv_add(&c->diags, sev, file, line, col, msg);
}

/* Reads an included rule file, relative to the including file's folder,
 * and remembers its path as a dependency of the compiled set. Its content
 * is not hashed here: the set's key already holds the SHA-256 of every
 * included file (make_key, key_includes), and that is what a cached set is
 * found under. */
static int yara_include(void *ud, const char *from, const char *name, char **text, size_t *len, char **path)
{
    kh_compiler *c = ud;
    kh_buf p = KH_BUF_INIT(8192), t = KH_BUF_INIT(MAX_RULE_FILE + 1);
    int rc = include_path(from, name, &p);
    if (!rc)
        rc = kh_read_path(p.data, MAX_RULE_FILE, &t);
    kh_dep d = {0};
    if (!rc && (KH_VEC_RESERVE(c->deps, 1, 1u << 20) || !(d.path = kh_strdup(p.data))))
        rc = KH_ENOMEM;
    if (rc) {
        kh_buf_dispose(&t);
        kh_buf_dispose(&p);
        return rc;
    }
    c->deps.v[c->deps.n++] = d;
    *len = t.len;
    *text = kh_buf_detach(&t, NULL);
    *path = kh_buf_detach(&p, NULL);
    return 0;
}

static int parse_yara(kh_compiler *c, kh_ybuild *yb)
{
    int rc = 0;
    for (size_t i = 0; i < c->defines.n && !rc; i++) {
        char *eq = strchr(c->defines.v[i], '=');
        *eq = 0;
        rc = kh_ybuild_define(yb, c->defines.v[i], eq + 1);
        *eq = '=';
    }
    for (size_t i = 0; i < c->nsrc && !rc; i++) {
        source *s = &c->src[i];
        if (!s->yara)
            continue;
        kh_map m = {0};
        const char *text = s->text;
        size_t len = s->textlen;
        if (!text) {
            if ((rc = kh_map_path(&m, s->path, MAX_RULE_FILE))) {
                cdiag(c, KH_DIAG_ERROR, s->path, "cannot read rules: %s", kh_strerror(rc));
                break;
            }
            text = (const char *)m.data;
            len = m.len;
        }
        rc = kh_yara_parse(yb, s->ns, s->path, text, len);
        kh_map_release(&m);
    }
    return rc;
}

/* Moves the YARA arrays into the set and marks rules that need a string. */
static void freeze_yara(struct kh_rules *r, kh_ybuild *yb)
{
#define TAKE(field, count, vec)                \
    do {                                       \
        r->field = (vec).v;                    \
        r->count = (uint32_t)(vec).n;          \
        r->heap[r->nheap++] = (vec).v;         \
        (vec).v = NULL;                        \
        (vec).n = (vec).cap = 0;               \
    } while (0)
    TAKE(yrules, nyrules, yb->rules);
    TAKE(ystrs, nystrs, yb->ystrs);
    TAKE(yexprs, nyexprs, yb->exprs);
    TAKE(ylists, nylists, yb->lists);
    TAKE(ymetas, nymetas, yb->metas);
    TAKE(yregexes, nyregexes, yb->regexes);
    TAKE(yexts, nyexts, yb->exts);
#undef TAKE
    r->ymodules = yb->modules_used;
    kh_yrule *rules = (kh_yrule *)r->yrules;
    for (uint32_t i = 0; i < r->nyrules; i++)
        if (kh_ycond_needs_string(r, rules[i].cond))
            rules[i].flags |= KH_YRF_NEEDS_STRING;
    r->stats.yara_rules = r->nyrules;
    r->stats.yara_strings = r->nystrs;
}

/* What one database added to the counts (for the per-database summary). */
static void stats_add_delta(kh_rules_stats *o, const kh_rules_stats *after, const kh_rules_stats *before)
{
#define D(f) o->f += after->f - before->f
    D(hash_md5), D(hash_sha1), D(hash_sha256), D(body), D(allow), D(ignored), D(unsupported), D(malformed);
    D(flevel_skipped), D(databases), D(logical), D(section_hash), D(import_hash), D(unsup_format);
    D(unsup_target), D(unsup_offset), D(unsup_feature), D(container_meta), D(ftm_types), D(ftm_other);
    D(ftm_unused);
#undef D
}

static int build_fresh(kh_compiler *c, const kh_buf *builtin, struct kh_rules **out)
{
    struct kh_rules *r = calloc(1, sizeof(*r));
    if (!r)
        return KH_ENOMEM;
    kh_irb b;
    kh_irb_init(&b);
    char **ign = NULL;
    size_t nign = 0, capign = 0;
    int rc = 0;
    kh_cavb cav;
    memset(&cav, 0, sizeof(cav));
    kh_dbctx ctx = {.b = &b, .flags = c->opts.flags, .stats = &r->stats, .diag = db_diag, .cav = &cav};
    kh_rules_stats *srcst = calloc(c->nsrc + 1, sizeof(kh_rules_stats)), before;
    if (!srcst)
        rc = KH_ENOMEM;

    for (size_t i = 0; i < c->nsrc && !rc; i++) {
        before = r->stats;
        rc = load_source(c, i, &ctx, &ign, &nign, &capign, 1);
        stats_add_delta(&srcst[i], &r->stats, &before);
    }
    if (!rc) {
        if (nign > 1)
            kh_qsort(ign, nign, sizeof(char *), cmp_str);
        ctx.ignored = ign;
        ctx.nignored = nign;
    }
    /* Source names, then the built-in source, then every database in order. */
    for (size_t i = 0; i <= c->nsrc && !rc; i++) {
        uint32_t off;
        const char *name = i < c->nsrc ? c->src[i].path : "<builtin>";
        if (!(rc = kh_irb_str(&b, name, strlen(name), &off)) && !(rc = KH_VEC_RESERVE(b.sources, 1, 0)))
            b.sources.v[b.sources.n++] = off;
    }
    for (size_t i = 0; i < c->nsrc && !rc; i++) {
        before = r->stats;
        rc = load_source(c, i, &ctx, &ign, &nign, &capign, 0);
        stats_add_delta(&srcst[i], &r->stats, &before);
    }
    if (!rc && builtin->len) {
        void *ud[2] = {c, "<builtin>"};
        ctx.source = (uint32_t)c->nsrc;
        ctx.ud = ud;
        before = r->stats;
        rc = kh_clamav_load(&ctx, KH_DB_NDB, "ndb", builtin->data, builtin->len);
        r->stats.databases--;
        stats_add_delta(&srcst[c->nsrc], &r->stats, &before);
    }
    for (size_t i = 0; i < nign; i++)
        free(ign[i]);
    free(ign);
    if (rc)
        goto fail;
    /* YARA rules: their strings become patterns of the same matcher. */
    kh_ybuild yb;
    kh_ybuild_init(&yb, &b);
    yb.diag = yara_diag;
    yb.include = yara_include;
    yb.ud = c;
    if ((rc = parse_yara(c, &yb))) {
        kh_ybuild_dispose(&yb);
        goto fail;
    }

    /* What the matcher searches for on behalf of YARA strings. */
    kh_yatom *atoms = NULL;
    size_t natoms = 0;
    kh_mpm_lit *lits = NULL;
    if ((rc = kh_yatoms_build(&b, yb.ystrs.v, yb.ystrs.n, &atoms, &natoms)) ||
        (natoms && !(lits = calloc(natoms, sizeof(kh_mpm_lit))))) {
        rc = rc ? rc : KH_ENOMEM;
        free(atoms);
        kh_ybuild_dispose(&yb);
        goto fail;
    }
    if ((rc = twin_atoms(atoms, natoms, (const uint8_t *)b.bytes.data))) {
        free(atoms);
        free(lits);
        kh_ybuild_dispose(&yb);
        goto fail;
    }
    uint32_t brule = UINT32_MAX; /* the rule the bounds below are of (atoms come rule by rule) */
    int mz_only = 0;
    uint64_t max_len = 0;
    for (size_t i = 0; i < natoms; i++) {
        const kh_ystr *ys = &yb.ystrs.v[atoms[i].str];
        if (ys->rule != brule) {
            brule = ys->rule;
            kh_yrule_bounds(yb.exprs.v, (uint32_t)yb.exprs.n, &yb.rules.v[brule], &mz_only, &max_len);
        }
        lits[i].p = (const uint8_t *)b.bytes.data + atoms[i].off;
        lits[i].len = atoms[i].len;
        lits[i].caseless = (atoms[i].flags & KH_YAF_CASELESS) != 0;
        lits[i].mask = (atoms[i].flags & KH_YAF_MASKED) ? lits[i].p + atoms[i].len : NULL;
        /* existence is all that is asked of a plain literal string: one report */
        lits[i].single = ys->mode == KH_YSM_EXACT && !atoms[i].before && !atoms[i].after;
        lits[i].mz_only = (uint8_t)mz_only;
        lits[i].max_len = max_len == UINT64_MAX ? 0 : max_len;
    }
    /* An atom shared with earlier ones is searched through the first of them:
     * one literal in the matcher, one report fanned out along the twins. */
    for (size_t i = 0; i < natoms; i++) {
        if (lits[i].len == 0)
            continue; /* a follower, already folded into its leader */
        for (uint32_t t = atoms[i].twin; t; t = atoms[t - 1].twin) {
            lits[i].single &= lits[t - 1].single;
            lits[i].mz_only &= lits[t - 1].mz_only;
            lits[i].max_len = !lits[i].max_len || !lits[t - 1].max_len ? 0 : KH_MAX(lits[i].max_len, lits[t - 1].max_len);
            lits[t - 1].len = 0;
        }
    }
    r->yatoms = atoms;
    r->nyatoms = (uint32_t)natoms;
    r->heap[r->nheap++] = atoms;

    /* Matcher. */
    if (b.pats.n || natoms) {
        kh_mpm_input in = {b.nodes.v, b.kids.v, (const uint8_t *)b.bytes.data, b.pats.v, (uint32_t)b.pats.n,
                           lits, (uint32_t)natoms};
        kh_buf err = KH_BUF_INIT(4096);
        rc = kh_mpm_vs.compile(&r->mpm, &in, &err);
        free(lits);
        lits = NULL;
        if (rc) {
            cdiag(c, KH_DIAG_ERROR, "<matcher>", "cannot compile the body signatures: %s",
                  err.data ? err.data : kh_strerror(rc));
            kh_buf_dispose(&err);
            kh_ybuild_dispose(&yb);
            goto fail;
        }
        kh_buf_dispose(&err);
        /* yara never reports a regex match longer than its scan limit: such
         * patterns are confirmed with that limit. */
        for (size_t i = 0; i < yb.ystrs.n; i++) {
            kh_pat *pt = &b.pats.v[yb.ystrs.v[i].pat];
            if ((yb.ystrs.v[i].flags & KH_YS_REGEX) && pt->maxlen > KH_Y_RE_SCAN_LIMIT)
                pt->exact = 0;
        }
        for (size_t i = 0; i < b.pats.n; i++)
            r->stats.prefiltered += !b.pats.v[i].exact || b.pats.v[i].offkind != KH_OFF_ANY;
    }
    /* Hash tables. */
    for (int role = 0; role < 2 && !rc; role++)
        for (unsigned a = 0; a < KH_NALG && !rc; a++)
            rc = finish_table(role ? &r->allow[a] : &r->detect[a], &b.hrec[role][a], a, r->heap, &r->nheap);
    if (rc) {
        kh_ybuild_dispose(&yb);
        goto fail;
    }
    /* Freeze: the builder's arrays become the set's. */
    r->nodes = b.nodes.v, r->nnodes = (uint32_t)b.nodes.n;
    r->kids = b.kids.v, r->nkids = (uint32_t)b.kids.n;
    r->pats = b.pats.v, r->npats = (uint32_t)b.pats.n;
    r->sigs = b.sigs.v, r->nsigs = (uint32_t)b.sigs.n;
    r->sources = b.sources.v, r->nsources = (uint32_t)b.sources.n;
    r->heap[r->nheap++] = b.nodes.v;
    r->heap[r->nheap++] = b.kids.v;
    r->heap[r->nheap++] = b.pats.v;
    r->heap[r->nheap++] = b.sigs.v;
    r->heap[r->nheap++] = b.sources.v;
    r->bytes = (const uint8_t *)kh_buf_detach(&b.bytes, &r->nbytes);
    r->heap[r->nheap++] = (void *)r->bytes;
    r->strs = kh_buf_detach(&b.strs, &r->nstrs);
    r->heap[r->nheap++] = (void *)r->strs;
    rc = kh_cav_freeze(r, &cav, srcst, (uint32_t)c->nsrc + 1);
    freeze_yara(r, &yb);
    kh_ybuild_dispose(&yb);
    memset(&b.nodes, 0, sizeof(b.nodes));
    memset(&b.kids, 0, sizeof(b.kids));
    memset(&b.pats, 0, sizeof(b.pats));
    memset(&b.sigs, 0, sizeof(b.sigs));
    memset(&b.sources, 0, sizeof(b.sources));
    kh_irb_dispose(&b);
    kh_cavb_dispose(&cav);
    free(srcst);
    if (rc) {
        kh_rules_destroy(r);
        return rc;
    }
    *out = r;
    return 0;
fail:
    kh_cavb_dispose(&cav);
    free(srcst);
    kh_irb_dispose(&b);
    kh_rules_destroy(r);
    return rc;
}

int kh_compiler_build(kh_compiler *c, kh_rules **out)
{
    if (!c || !out || c->built)
        return KH_EINVAL;
    c->built = 1;
    kh_buf builtin = KH_BUF_INIT(0);
    int rc = 0;
    if (!(c->opts.flags & KH_COMPILE_NO_BUILTIN) && (rc = builtin_text(&builtin)))
        return rc;
    if (c->nsrc == 0 && builtin.len == 0) {
        cdiag(c, KH_DIAG_ERROR, NULL, "no signatures to load: give a database with -d, or leave out --no-builtin");
        return KH_EINVAL;
    }
    uint8_t key[32];
    if ((rc = compiler_key(c, &builtin, key)))
        goto done;
    struct kh_rules *r = NULL;
    kh_buf path = KH_BUF_INIT(4096);
    if (c->opts.cache_dir) {
        cache_path(c, key, &path);
        kh_diagv cached = {.max = c->diags.max};
        if (kh_dbfile_load(&r, &cached, key, path.data) == 0) {
            r->stats.from_cache = 1;
            r->stats.key_memo = c->key_memo;
            for (size_t i = 0; i < cached.n; i++)
                kh_diagv_add(&c->diags, cached.v[i].severity, cached.v[i].file, cached.v[i].line, cached.v[i].column,
                             cached.v[i].message);
        }
        kh_diagv_free(&cached);
    }
    if (!r) {
        size_t ndiag_before = c->diags.n;
        if ((rc = build_fresh(c, &builtin, &r)))
            goto done_path;
        if (c->opts.cache_dir && kh_mkdir_p(c->opts.cache_dir, 0700) == 0) {
            kh_diagv mine = {.v = c->diags.v + ndiag_before, .n = c->diags.n - ndiag_before};
            if (kh_dbfile_write(r, &mine, c->deps.v, c->deps.n, key, path.data) == 0)
                prune_files(c->opts.cache_dir, "sigs-", ".kdb", path.data, CACHE_KEEP);
        }
    }
    memcpy(r->id, key, 32);
    *out = r;
done_path:
    kh_buf_dispose(&path);
done:
    kh_buf_dispose(&builtin);
    return rc;
}

/* The identity without building: make_key() needs only what
 * kh_compiler_add_path() recorded (each file's stat), the built-in text and
 * the content of the YARA rule files and of the files they include (found
 * by key_includes() without parsing the rules). */
static int identity_key(kh_compiler *c, uint8_t key[32])
{
    kh_buf builtin = KH_BUF_INIT(0);
    int rc = 0;
    if (!(c->opts.flags & KH_COMPILE_NO_BUILTIN) && (rc = builtin_text(&builtin)))
        return rc;
    if (c->nsrc == 0 && builtin.len == 0)
        rc = KH_EINVAL;
    else
        rc = compiler_key(c, &builtin, key);
    kh_buf_dispose(&builtin);
    return rc;
}

int kh_compiler_identity(kh_compiler *c, uint8_t out[32])
{
    uint8_t key[32];
    if (!c || !out)
        return KH_EINVAL;
    int rc = identity_key(c, key);
    if (!rc)
        memcpy(out, key, 32);
    return rc;
}

int kh_compiler_cached_stats(kh_compiler *c, kh_rules_stats *out)
{
    uint8_t key[32];
    if (!c || !out)
        return KH_EINVAL;
    if (!c->opts.cache_dir)
        return KH_ENOENT;
    int rc = identity_key(c, key);
    if (rc)
        return rc;
    kh_buf path = KH_BUF_INIT(4096);
    cache_path(c, key, &path);
    kh_rules_stats st;
    rc = path.data ? kh_dbfile_peek_stats(path.data, key, &st) : KH_ENOMEM;
    kh_buf_dispose(&path);
    if (!rc) {
        st.from_cache = 1;
        *out = st;
    }
    return rc;
}

void kh_rules_destroy(kh_rules *r)
{
    if (!r)
        return;
    if (r->mpm)
        kh_mpm_vs.destroy(r->mpm);
    for (unsigned i = 0; i < r->nheap; i++)
        free(r->heap[i]);
    if (r->map)
        kh_unmap(r->map, r->maplen);
    free(r);
}

void kh_rules_get_stats(const kh_rules *r, kh_rules_stats *out)
{
    if (r && out)
        *out = r->stats;
}

uint64_t kh_rules_stats_count(const kh_rules_stats *s)
{
    return s ? s->hash_md5 + s->hash_sha1 + s->hash_sha256 + s->body + s->yara_rules + s->logical + s->section_hash +
                   s->import_hash + s->container_meta
             : 0;
}

uint64_t kh_rules_count(const kh_rules *r) { return r ? kh_rules_stats_count(&r->stats) : 0; }

const uint8_t *kh_rules_id(const kh_rules *r) { return r ? r->id : NULL; }

/* Explicitly saved sets are not tied to sources: a fixed key marks them. */
static const uint8_t explicit_key[32] = "khien compiled rules, explicit";

int kh_rules_save(const kh_rules *r, const char *path)
{
    if (!r || !path)
        return KH_EINVAL;
    return kh_dbfile_write(r, NULL, NULL, 0, explicit_key, path);
}

int kh_rules_load(kh_rules **out, const char *path)
{
    if (!out || !path)
        return KH_EINVAL;
    kh_diagv d = {.max = 0};
    struct kh_rules *r = NULL;
    int rc = kh_dbfile_load(&r, &d, explicit_key, path);
    kh_diagv_free(&d);
    if (rc)
        return rc;
    r->stats.from_cache = 1;
    *out = r;
    return 0;
}
