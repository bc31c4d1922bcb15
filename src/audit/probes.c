/* Khiên — audit: k: probes, the checks that Wazuh's rule language cannot say.
 *
 * SCA rules test files, directories, commands and processes, but some
 * questions need a little program: is this private key readable by
 * everybody, or not protected by a passphrase; does a history file that
 * others can read hold a password; which accounts have empty passwords,
 * weak hash schemes or no password ageing; which files in system folders
 * can anybody write. A policy asks them with a Khiên rule
 *
 *     k:NAME [ARGUMENT...]      e.g.  'k:secrets_readable /home/STAR/.bash_history'
 *
 * (the last argument is the rest of the text, so paths may hold spaces)
 *
 * (STAR being a glob star), usually under `condition: none`: a probe is
 * "found" when it finds what it looks for, and every finding becomes a
 * piece of evidence naming the file, line and kind, or the account. Paths
 * are comma-separated lists of files, folders (walked, at most 4 levels
 * for credentials) and globs, all inside the audited root. A probe that
 * cannot read what it needs (/etc/shadow without root) is not applicable
 * with that reason.
 *
 * Secrets are found by secrets.c and never reported themselves: evidence
 * carries the kind and a masked hint only. Shadow hashes are classified by
 * their prefix and never copied.
 */
#define _GNU_SOURCE /* memmem, S_ISVTX */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit_int.h"

#define CRED_DEPTH 4
#define CRED_MAX_FILE (8u << 20)
#define HITS_PER_FILE 5

typedef kh_rule_outcome (*probe_fn)(kh_audit_ctx *c, int argc, char **argv);

typedef struct probe {
    const char *name;
    int min_args, max_args;
    probe_fn fn;
    const char *usage;
} probe;

/* ---- walking the paths of an argument ------------------------------------------- */

typedef int (*file_fn)(kh_audit_ctx *c, const char *path, const struct stat *st, void *payload);

typedef struct each_state {
    file_fn fn;
    void *payload;
    unsigned files;
    int stop;
} each_state;

static int on_each_walk(kh_audit_ctx *c, const char *path, const struct stat *st, void *payload)
{
    each_state *es = payload;
    if (S_ISDIR(st->st_mode)) {
        const char *b = strrchr(path, '/');
        b = b ? b + 1 : path;
        /* caches and version-control folders hold no configuration */
        if (strcmp(b, ".cache") == 0 || strcmp(b, ".git") == 0 || strcmp(b, "node_modules") == 0)
            return 1;
        return 0;
    }
    if (!S_ISREG(st->st_mode))
        return 0;
    es->files++;
    int r = es->fn(c, path, st, es->payload);
    if (r)
        es->stop = r;
    return r ? KH_EUSER : 0;
}

static int on_each_path(kh_audit_ctx *c, const char *path, void *payload)
{
    each_state *es = payload;
    struct stat st;
    if (kh_host_lstat(c, path, &st) != 0)
        return 0;
    if (S_ISLNK(st.st_mode) && kh_host_stat(c, path, &st) != 0)
        return 0;
    if (S_ISDIR(st.st_mode)) {
        int rc = kh_host_walk(c, path, CRED_DEPTH, on_each_walk, es);
        return rc == KH_EUSER ? 1 : 0;
    }
    if (!S_ISREG(st.st_mode))
        return 0;
    es->files++;
    int r = es->fn(c, path, &st, es->payload);
    if (r)
        es->stop = r;
    return r;
}

/* Calls fn for every regular file named by a comma-separated list. */
static unsigned for_each_file(kh_audit_ctx *c, const char *list, file_fn fn, void *payload)
{
    each_state es = {fn, payload, 0, 0};
    char item[PATH_MAX];
    const char *s = list;
    while (*s && !es.stop) {
        const char *comma = strchr(s, ',');
        size_t l = comma ? (size_t)(comma - s) : strlen(s);
        if (l && l < sizeof(item)) {
            memcpy(item, s, l);
            item[l] = 0;
            kh_host_glob(c, item, on_each_path, &es);
        }
        if (!comma)
            break;
        s = comma + 1;
    }
    return es.files;
}

static void mode_str(char out[8], mode_t m)
{
    snprintf(out, 8, "%04o", (unsigned)(m & 07777));
}

static kh_rule_outcome clean(kh_audit_ctx *c, const char *what, unsigned files, int found)
{
    if (found)
        return KH_RULE_FOUND;
    kh_ev_addf(c, KH_RULE_NOT_FOUND, "clean", NULL, 0, "không phát hiện (%u tệp đã kiểm tra: %s) / nothing found (%u files checked: %s)",
               files, what, files, what);
    return KH_RULE_NOT_FOUND;
}

/* ---- secrets in files ------------------------------------------------------------------ */

typedef struct secret_state {
    kh_audit_ctx *c;
    const char *path, *base;
    int only_world_readable;
    unsigned found, in_file;
    int binary;
} secret_state;

static int on_secret_line(void *payload, const char *s, size_t n, unsigned lineno)
{
    secret_state *ss = payload;
    if (memchr(s, 0, n)) {
        ss->binary = 1;
        return 1;
    }
    kh_secret_hit hits[4];
    size_t nh = kh_secret_scan_line(s, n, ss->base, hits, 4);
    for (size_t i = 0; i < nh; i++) {
        kh_ev_addf(ss->c, KH_RULE_FOUND, "secret", ss->path, lineno, "%s (%s) [%s]", hits[i].label, hits[i].hint,
                   hits[i].kind);
        ss->found++;
        if (++ss->in_file >= HITS_PER_FILE)
            return 1;
    }
    return 0;
}

static int secret_file(kh_audit_ctx *c, const char *path, const struct stat *st, void *payload)
{
    secret_state *ss = payload;
    if (ss->only_world_readable && !kh_host_world_readable(c, path, st))
        return 0;
    if ((uint64_t)st->st_size > CRED_MAX_FILE)
        return 0;
    ss->path = path;
    const char *b = strrchr(path, '/');
    ss->base = b ? b + 1 : path;
    ss->in_file = 0;
    ss->binary = 0;
    unsigned before = ss->found;
    kh_host_read_lines(c, path, on_secret_line, ss);
    if (ss->found > before && ss->only_world_readable) {
        char m[8];
        mode_str(m, st->st_mode);
        kh_ev_addf(c, KH_RULE_FOUND, "file", path, 0, "mọi người đọc được tệp này (quyền %s) / everybody can read this file (mode %s)",
                   m, m);
    }
    return 0;
}

static kh_rule_outcome p_secrets_common(kh_audit_ctx *c, const char *paths, int world)
{
    secret_state ss = {c, NULL, NULL, world, 0, 0, 0};
    unsigned files = for_each_file(c, paths, secret_file, &ss);
    return clean(c, paths, files, ss.found > 0);
}

static kh_rule_outcome p_secrets_readable(kh_audit_ctx *c, int argc, char **argv)
{
    return p_secrets_common(c, argv[0], 1);
}

static kh_rule_outcome p_secrets(kh_audit_ctx *c, int argc, char **argv)
{
    return p_secrets_common(c, argv[0], 0);
}

/* ---- files anybody can read ---------------------------------------------------------------- */

typedef struct count_state {
    unsigned found;
} count_state;

static int readable_file(kh_audit_ctx *c, const char *path, const struct stat *st, void *payload)
{
    count_state *cs = payload;
    if (!kh_host_world_readable(c, path, st))
        return 0;
    char m[8];
    mode_str(m, st->st_mode);
    kh_ev_addf(c, KH_RULE_FOUND, "file", path, 0, "mọi người đọc được (quyền %s) / readable by everybody (mode %s)", m, m);
    cs->found++;
    return 0;
}

static kh_rule_outcome p_readable_by_others(kh_audit_ctx *c, int argc, char **argv)
{
    count_state cs = {0};
    unsigned files = for_each_file(c, argv[0], readable_file, &cs);
    return clean(c, argv[0], files, cs.found > 0);
}

/* ---- private keys ------------------------------------------------------------------------------ */

typedef struct key_info {
    int is_key;
    const char *type; /* "RSA ", "OPENSSH ", ... */
    int encrypted;    /* 1 yes, 0 no, -1 unknown */
    unsigned line;
    /* OpenSSH body */
    char b64[256];
    size_t b64len;
    int in_body;
} key_info;

static int b64val(int ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    if (ch == '+')
        return 62;
    if (ch == '/')
        return 63;
    return -1;
}

static size_t b64dec(const char *s, size_t n, unsigned char *out, size_t max)
{
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n && o < max; i++) {
        int v = b64val((unsigned char)s[i]);
        if (v < 0)
            continue;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    return o;
}

static int on_key_line(void *payload, const char *s, size_t n, unsigned lineno)
{
    key_info *k = payload;
    if (!k->is_key) {
        if (lineno > 200)
            return 1;
        if (kh_secret_key_header(s, n, &k->type)) {
            k->is_key = 1;
            k->line = lineno;
            k->in_body = 1;
            if (strcmp(k->type, "ENCRYPTED ") == 0) {
                k->encrypted = 1;
                return 1;
            }
            if (strcmp(k->type, "PGP ") == 0) {
                k->encrypted = -1;
                return 1;
            }
            k->encrypted = strcmp(k->type, "OPENSSH ") == 0 ? -1 : 0;
        }
        return 0;
    }
    if (memmem(s, n, "-----END", 8))
        return 1;
    if (strcmp(k->type, "OPENSSH ") != 0) {
        if (memmem(s, n, "ENCRYPTED", 9) && memmem(s, n, "Proc-Type", 9))
            k->encrypted = 1;
        if (memmem(s, n, "DEK-Info", 8))
            k->encrypted = 1;
        return lineno - k->line > 3 ? 1 : 0;
    }
    size_t take = n < sizeof(k->b64) - k->b64len ? n : sizeof(k->b64) - k->b64len;
    memcpy(k->b64 + k->b64len, s, take);
    k->b64len += take;
    if (k->b64len >= 120) {
        unsigned char bin[96];
        size_t bl = b64dec(k->b64, k->b64len, bin, sizeof(bin));
        /* "openssh-key-v1\0" then string ciphername */
        if (bl >= 19 + 4 && memcmp(bin, "openssh-key-v1", 15) == 0) {
            uint32_t cl = ((uint32_t)bin[15] << 24) | ((uint32_t)bin[16] << 16) | ((uint32_t)bin[17] << 8) | bin[18];
            if (cl == 4 && bl >= 23 && memcmp(bin + 19, "none", 4) == 0)
                k->encrypted = 0;
            else if (cl > 0 && cl < 64)
                k->encrypted = 1;
        }
        return 1;
    }
    return 0;
}

static int read_key(kh_audit_ctx *c, const char *path, const struct stat *st, key_info *k)
{
    memset(k, 0, sizeof(*k));
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    if (kh_str_endswith(b, ".pub") || strcmp(b, "known_hosts") == 0 || strcmp(b, "authorized_keys") == 0 ||
        (uint64_t)st->st_size > (1u << 20))
        return 0;
    kh_host_read_lines(c, path, on_key_line, k);
    return k->is_key;
}

static const char *key_type(const key_info *k)
{
    if (strcmp(k->type, "OPENSSH ") == 0)
        return "OpenSSH";
    if (strcmp(k->type, "RSA ") == 0)
        return "RSA";
    if (strcmp(k->type, "EC ") == 0)
        return "EC";
    if (strcmp(k->type, "DSA ") == 0)
        return "DSA";
    if (strcmp(k->type, "PGP ") == 0)
        return "PGP";
    return "PKCS#8";
}

static int key_readable(kh_audit_ctx *c, const char *path, const struct stat *st, void *payload)
{
    count_state *cs = payload;
    key_info k;
    if (!kh_host_world_readable(c, path, st) || !read_key(c, path, st, &k))
        return 0;
    char m[8];
    mode_str(m, st->st_mode);
    kh_ev_addf(c, KH_RULE_FOUND, "key", path, k.line,
               "khóa riêng %s mọi người đọc được (quyền %s) / %s private key readable by everybody (mode %s)",
               key_type(&k), m, key_type(&k), m);
    cs->found++;
    return 0;
}

static int key_plain(kh_audit_ctx *c, const char *path, const struct stat *st, void *payload)
{
    count_state *cs = payload;
    key_info k;
    if (!read_key(c, path, st, &k) || k.encrypted != 0)
        return 0;
    kh_ev_addf(c, KH_RULE_FOUND, "key", path, k.line,
               "khóa riêng %s không có mật khẩu bảo vệ (passphrase) / %s private key without a passphrase",
               key_type(&k), key_type(&k));
    cs->found++;
    return 0;
}

static kh_rule_outcome p_keys_readable(kh_audit_ctx *c, int argc, char **argv)
{
    count_state cs = {0};
    unsigned files = for_each_file(c, argv[0], key_readable, &cs);
    return clean(c, argv[0], files, cs.found > 0);
}

static kh_rule_outcome p_keys_no_passphrase(kh_audit_ctx *c, int argc, char **argv)
{
    count_state cs = {0};
    unsigned files = for_each_file(c, argv[0], key_plain, &cs);
    return clean(c, argv[0], files, cs.found > 0);
}

/* ---- accounts: /etc/passwd and /etc/shadow ------------------------------------------------------ */

typedef struct account {
    char name[64];
    long uid;
    char shell[128];
    int has_shadow;
    char hash_class; /* 'e' empty, 'l' locked (! or *), 'w' weak, 's' strong, 'u' unknown */
    char scheme[24];
    long lastchg, max, inactive;
} account;

typedef struct accounts {
    KH_VEC(account) v;
    int shadow_rc;
} accounts;

static int split_fields(char *s, size_t n, char **f, int max)
{
    int k = 0;
    f[k++] = s;
    for (size_t i = 0; i < n && k < max; i++)
        if (s[i] == ':') {
            s[i] = 0;
            f[k++] = s + i + 1;
        }
    return k;
}

static long num_field(const char *s)
{
    if (!s || !*s)
        return -1;
    char *e;
    long v = strtol(s, &e, 10);
    return *e ? -1 : v;
}

static void classify_hash(account *a, const char *h)
{
    size_t n = strlen(h);
    a->scheme[0] = 0;
    if (n == 0) {
        a->hash_class = 'e';
        return;
    }
    if (h[0] == '!' || h[0] == '*') {
        a->hash_class = 'l';
        return;
    }
    static const struct {
        const char *prefix, *name;
        char cls;
    } schemes[] = {
        {"$1$", "MD5-crypt", 'w'},   {"$md5", "SunMD5", 'w'},     {"$3$", "NT-hash", 'w'},
        {"$sha1$", "SHA1-crypt", 'w'}, {"$2a$", "bcrypt", 's'},   {"$2b$", "bcrypt", 's'},
        {"$2y$", "bcrypt", 's'},     {"$5$", "SHA-256-crypt", 's'}, {"$6$", "SHA-512-crypt", 's'},
        {"$y$", "yescrypt", 's'},    {"$gy$", "gost-yescrypt", 's'}, {"$7$", "scrypt", 's'},
    };
    for (size_t i = 0; i < KH_ARRAY_LEN(schemes); i++)
        if (strncmp(h, schemes[i].prefix, strlen(schemes[i].prefix)) == 0) {
            a->hash_class = schemes[i].cls;
            snprintf(a->scheme, sizeof(a->scheme), "%s", schemes[i].name);
            return;
        }
    if (h[0] == '_' && n == 20) {
        a->hash_class = 'w';
        snprintf(a->scheme, sizeof(a->scheme), "BSDi-DES");
        return;
    }
    if (n == 13) {
        a->hash_class = 'w';
        snprintf(a->scheme, sizeof(a->scheme), "DES-crypt");
        return;
    }
    a->hash_class = 'u';
    snprintf(a->scheme, sizeof(a->scheme), "unknown");
}

static int on_passwd(void *payload, const char *s, size_t n, unsigned lineno)
{
    accounts *as = payload;
    if (!n || s[0] == '#' || s[0] == '+' || s[0] == '-' || n > 4096)
        return 0;
    char buf[4097];
    memcpy(buf, s, n);
    buf[n] = 0;
    char *f[8];
    if (split_fields(buf, n, f, 7) < 7 || KH_VEC_RESERVE(as->v, 1, 1u << 20))
        return 0;
    account *a = &as->v.v[as->v.n++];
    memset(a, 0, sizeof(*a));
    snprintf(a->name, sizeof(a->name), "%s", f[0]);
    a->uid = num_field(f[2]);
    snprintf(a->shell, sizeof(a->shell), "%s", f[6]);
    classify_hash(a, strcmp(f[1], "x") == 0 ? "*" : f[1]); /* until the shadow file says otherwise */
    a->lastchg = a->max = a->inactive = -1;
    return 0;
}

static int on_shadow(void *payload, const char *s, size_t n, unsigned lineno)
{
    accounts *as = payload;
    if (!n || n > 4096)
        return 0;
    char buf[4097];
    memcpy(buf, s, n);
    buf[n] = 0;
    char *f[10];
    int k = split_fields(buf, n, f, 9);
    if (k < 2)
        return 0;
    for (size_t i = 0; i < as->v.n; i++) {
        account *a = &as->v.v[i];
        if (strcmp(a->name, f[0]) != 0)
            continue;
        a->has_shadow = 1;
        classify_hash(a, f[1]);
        a->lastchg = k > 2 ? num_field(f[2]) : -1;
        a->max = k > 4 ? num_field(f[4]) : -1;
        a->inactive = k > 6 ? num_field(f[6]) : -1;
        break;
    }
    memset(buf, 0, sizeof(buf)); /* the hash does not outlive this function */
    return 0;
}

static int load_accounts(kh_audit_ctx *c, accounts *as)
{
    memset(as, 0, sizeof(*as));
    int rc = kh_host_read_lines(c, "/etc/passwd", on_passwd, as);
    if (rc < 0) {
        kh_ev_addf(c, KH_RULE_INVALID, "unreadable", "/etc/passwd", 0, "không đọc được / cannot read: %s",
                   kh_strerror(rc));
        return rc;
    }
    as->shadow_rc = kh_host_read_lines(c, "/etc/shadow", on_shadow, as);
    return 0;
}

static int need_shadow(kh_audit_ctx *c, accounts *as)
{
    if (as->shadow_rc >= 0)
        return 0;
    kh_ev_addf(c, KH_RULE_INVALID, "unreadable", "/etc/shadow", 0,
               "không đọc được /etc/shadow (%s): hãy chạy với quyền root / cannot read /etc/shadow (%s): run as root",
               kh_strerror(as->shadow_rc), kh_strerror(as->shadow_rc));
    return -1;
}

static int login_shell(const account *a)
{
    const char *b = strrchr(a->shell, '/');
    b = b ? b + 1 : a->shell;
    return *a->shell && strcmp(b, "nologin") != 0 && strcmp(b, "false") != 0 && strcmp(b, "sync") != 0 &&
           strcmp(b, "shutdown") != 0 && strcmp(b, "halt") != 0;
}

static int usable(const account *a)
{
    return a->hash_class != 'l';
}

static kh_rule_outcome p_shadow_empty(kh_audit_ctx *c, int argc, char **argv)
{
    accounts as;
    if (load_accounts(c, &as))
        return KH_RULE_INVALID;
    unsigned found = 0;
    for (size_t i = 0; i < as.v.n; i++) {
        account *a = &as.v.v[i];
        if (a->hash_class != 'e')
            continue;
        kh_ev_addf(c, KH_RULE_FOUND, "account", a->has_shadow ? "/etc/shadow" : "/etc/passwd", 0,
                   "tài khoản '%s' có mật khẩu rỗng / account '%s' has an empty password", a->name, a->name);
        found++;
    }
    kh_rule_outcome o;
    if (!found && need_shadow(c, &as))
        o = KH_RULE_INVALID;
    else
        o = found ? KH_RULE_FOUND : clean(c, "/etc/passwd, /etc/shadow", 2, 0);
    KH_VEC_FREE(as.v);
    return o;
}

static kh_rule_outcome p_shadow_weak(kh_audit_ctx *c, int argc, char **argv)
{
    accounts as;
    if (load_accounts(c, &as))
        return KH_RULE_INVALID;
    kh_rule_outcome o = KH_RULE_INVALID;
    if (need_shadow(c, &as) == 0) {
        unsigned found = 0;
        for (size_t i = 0; i < as.v.n; i++) {
            account *a = &as.v.v[i];
            if (a->hash_class != 'w')
                continue;
            kh_ev_addf(c, KH_RULE_FOUND, "account", "/etc/shadow", 0,
                       "tài khoản '%s' dùng kiểu băm yếu %s / account '%s' uses the weak hash scheme %s", a->name,
                       a->scheme, a->name, a->scheme);
            found++;
        }
        o = found ? KH_RULE_FOUND : clean(c, "/etc/shadow", 1, 0);
    }
    KH_VEC_FREE(as.v);
    return o;
}

static kh_rule_outcome p_shadow_no_ageing(kh_audit_ctx *c, int argc, char **argv)
{
    long limit = argc > 0 ? atol(argv[0]) : -1;
    accounts as;
    if (load_accounts(c, &as))
        return KH_RULE_INVALID;
    kh_rule_outcome o = KH_RULE_INVALID;
    if (need_shadow(c, &as) == 0) {
        unsigned found = 0;
        for (size_t i = 0; i < as.v.n; i++) {
            account *a = &as.v.v[i];
            if (!usable(a) || !login_shell(a) || !a->has_shadow)
                continue;
            if (a->max < 0 || a->max >= 99999) {
                kh_ev_addf(c, KH_RULE_FOUND, "account", "/etc/shadow", 0,
                           "tài khoản '%s': mật khẩu không bao giờ hết hạn / account '%s': password ageing is disabled",
                           a->name, a->name);
                found++;
            } else if (limit >= 0 && a->max > limit) {
                kh_ev_addf(c, KH_RULE_FOUND, "account", "/etc/shadow", 0,
                           "tài khoản '%s': mật khẩu hết hạn sau %ld ngày (> %ld) / account '%s': password expires after "
                           "%ld days (> %ld)",
                           a->name, a->max, limit, a->name, a->max, limit);
                found++;
            }
        }
        o = found ? KH_RULE_FOUND : clean(c, "/etc/shadow", 1, 0);
    }
    KH_VEC_FREE(as.v);
    return o;
}

static kh_rule_outcome p_uid0(kh_audit_ctx *c, int argc, char **argv)
{
    accounts as;
    if (load_accounts(c, &as))
        return KH_RULE_INVALID;
    unsigned found = 0;
    for (size_t i = 0; i < as.v.n; i++) {
        account *a = &as.v.v[i];
        if (a->uid == 0 && strcmp(a->name, "root") != 0) {
            kh_ev_addf(c, KH_RULE_FOUND, "account", "/etc/passwd", 0,
                       "tài khoản '%s' có UID 0 (quyền root) / account '%s' has UID 0 (root privileges)", a->name,
                       a->name);
            found++;
        }
    }
    KH_VEC_FREE(as.v);
    return found ? KH_RULE_FOUND : clean(c, "/etc/passwd", 1, 0);
}

static int in_list(const char *list, const char *name)
{
    size_t nl = strlen(name);
    for (const char *s = list; *s;) {
        const char *e = strchr(s, ',');
        size_t l = e ? (size_t)(e - s) : strlen(s);
        if (l == nl && memcmp(s, name, l) == 0)
            return 1;
        if (!e)
            break;
        s = e + 1;
    }
    return 0;
}

static kh_rule_outcome p_usable_password(kh_audit_ctx *c, int argc, char **argv)
{
    accounts as;
    if (load_accounts(c, &as))
        return KH_RULE_INVALID;
    kh_rule_outcome o = KH_RULE_INVALID;
    if (need_shadow(c, &as) == 0) {
        unsigned found = 0;
        for (size_t i = 0; i < as.v.n; i++) {
            account *a = &as.v.v[i];
            if (!in_list(argv[0], a->name) || !usable(a) || !login_shell(a))
                continue;
            kh_ev_addf(c, KH_RULE_FOUND, "account", "/etc/shadow", 0,
                       "tài khoản mặc định '%s' đăng nhập được bằng mật khẩu / default account '%s' can log in with a password",
                       a->name, a->name);
            found++;
        }
        o = found ? KH_RULE_FOUND : clean(c, argv[0], 1, 0);
    }
    KH_VEC_FREE(as.v);
    return o;
}

/* /var/log/lastlog: one struct lastlog per UID (int32 time, 32 + 256 chars). */
#define LASTLOG_REC 292

static int64_t lastlog_time(kh_audit_ctx *c, long uid, int fd)
{
    if (fd < 0 || uid < 0)
        return -1;
    unsigned char rec[4];
    ssize_t r = pread(fd, rec, 4, (off_t)uid * LASTLOG_REC);
    if (r != 4)
        return 0;
    return (int64_t)((uint32_t)rec[0] | (uint32_t)rec[1] << 8 | (uint32_t)rec[2] << 16 | (uint32_t)rec[3] << 24);
}

static kh_rule_outcome p_inactive(kh_audit_ctx *c, int argc, char **argv)
{
    long days = atol(argv[0]);
    accounts as;
    if (load_accounts(c, &as))
        return KH_RULE_INVALID;
    kh_rule_outcome o = KH_RULE_INVALID;
    if (need_shadow(c, &as) == 0) {
        int fd = kh_host_open(c, "/var/log/lastlog");
        unsigned found = 0;
        int64_t now = kh_audit_now(c);
        for (size_t i = 0; i < as.v.n; i++) {
            account *a = &as.v.v[i];
            if (!usable(a) || !login_shell(a) || a->uid < 1000 || a->uid == 65534)
                continue;
            int64_t ll = lastlog_time(c, a->uid, fd);
            int64_t chg = a->lastchg > 0 ? (int64_t)a->lastchg * 86400 : 0;
            int64_t last = ll > chg ? ll : chg;
            if (last <= 0)
                continue;
            int64_t idle = (now - last) / 86400;
            if (idle > days) {
                if (ll > 0)
                    kh_ev_addf(c, KH_RULE_FOUND, "account", "/var/log/lastlog", 0,
                               "tài khoản '%s' không đăng nhập %lld ngày (> %ld) / account '%s' has not logged in for %lld days (> %ld)",
                               a->name, (long long)idle, days, a->name, (long long)idle, days);
                else
                    kh_ev_addf(c, KH_RULE_FOUND, "account", "/etc/shadow", 0,
                               "tài khoản '%s' chưa từng đăng nhập, mật khẩu đặt %lld ngày trước (> %ld) / account '%s' never "
                               "logged in, password set %lld days ago (> %ld)",
                               a->name, (long long)idle, days, a->name, (long long)idle, days);
                found++;
            }
        }
        if (fd >= 0)
            close(fd);
        o = found ? KH_RULE_FOUND : clean(c, "/etc/shadow, /var/log/lastlog", 2, 0);
    }
    KH_VEC_FREE(as.v);
    return o;
}

/* ---- permissions of system folders ---------------------------------------------------------------- */

typedef struct ww_state {
    unsigned found, seen;
} ww_state;

static int on_ww(kh_audit_ctx *c, const char *path, const struct stat *st, void *payload)
{
    ww_state *ws = payload;
    ws->seen++;
    if (S_ISLNK(st->st_mode) || !(st->st_mode & S_IWOTH))
        return 0;
    if (S_ISDIR(st->st_mode) && (st->st_mode & S_ISVTX))
        return 0;
    if (!S_ISDIR(st->st_mode) && !S_ISREG(st->st_mode))
        return 0;
    char m[8];
    mode_str(m, st->st_mode);
    if (S_ISDIR(st->st_mode))
        kh_ev_addf(c, KH_RULE_FOUND, "file", path, 0,
                   "thư mục ai cũng ghi được, không có sticky bit (quyền %s) / directory writable by everybody without the sticky bit (mode %s)",
                   m, m);
    else
        kh_ev_addf(c, KH_RULE_FOUND, "file", path, 0, "tệp ai cũng ghi được (quyền %s) / file writable by everybody (mode %s)",
                   m, m);
    ws->found++;
    return 0;
}

static kh_rule_outcome p_world_writable(kh_audit_ctx *c, int argc, char **argv)
{
    ww_state ws = {0, 0};
    int limited = 0;
    char item[PATH_MAX];
    for (const char *s = argv[0]; *s;) {
        const char *e = strchr(s, ',');
        size_t l = e ? (size_t)(e - s) : strlen(s);
        if (l && l < sizeof(item)) {
            memcpy(item, s, l);
            item[l] = 0;
            struct stat st;
            if (kh_host_stat(c, item, &st) == 0 && S_ISDIR(st.st_mode)) {
                int rc = kh_host_walk(c, item, 64, on_ww, &ws);
                if (rc == KH_ELIMIT)
                    limited = 1;
            }
        }
        if (!e)
            break;
        s = e + 1;
    }
    if (limited && !ws.found) {
        kh_ev_add(c, KH_RULE_INVALID, "limit", argv[0], 0,
                  "quá nhiều tệp, chưa kiểm tra hết / too many files, not all were checked (max_entries)");
        return KH_RULE_INVALID;
    }
    if (ws.found)
        return KH_RULE_FOUND;
    kh_ev_addf(c, KH_RULE_NOT_FOUND, "clean", argv[0], 0, "không phát hiện (%u mục đã kiểm tra) / nothing found (%u entries checked)",
               ws.seen, ws.seen);
    return KH_RULE_NOT_FOUND;
}

/* ---- freshness ------------------------------------------------------------------------------------- */

typedef struct fresh_state {
    int64_t cutoff;
    int64_t newest;
    char newest_path[PATH_MAX];
    int found;
} fresh_state;

static int fresh_file(kh_audit_ctx *c, const char *path, const struct stat *st, void *payload)
{
    fresh_state *fs = payload;
    int64_t m = (int64_t)st->st_mtime;
    if (m > fs->newest) {
        fs->newest = m;
        snprintf(fs->newest_path, sizeof(fs->newest_path), "%s", path);
    }
    if (m >= fs->cutoff) {
        fs->found = 1;
        return 1;
    }
    return 0;
}

static kh_rule_outcome p_recent_files(kh_audit_ctx *c, int argc, char **argv)
{
    long hours = atol(argv[0]);
    int64_t now = kh_audit_now(c);
    fresh_state fs = {now - (int64_t)hours * 3600, 0, "", 0};
    unsigned files = for_each_file(c, argv[1], fresh_file, &fs);
    if (fs.found) {
        long long age = (long long)((now - fs.newest) / 3600);
        kh_ev_addf(c, KH_RULE_FOUND, "file", fs.newest_path, 0, "cập nhật %lld giờ trước (≤ %ld) / updated %lld hours ago (≤ %ld)",
                   age < 0 ? 0 : age, hours, age < 0 ? 0 : age, hours);
        return KH_RULE_FOUND;
    }
    if (files == 0)
        kh_ev_add(c, KH_RULE_NOT_FOUND, "missing", argv[1], 0, "không có tệp nào / no files");
    else
        kh_ev_addf(c, KH_RULE_NOT_FOUND, "file", fs.newest_path, 0,
                   "tệp mới nhất đã %lld giờ (> %ld) / the newest file is %lld hours old (> %ld)",
                   (long long)((now - fs.newest) / 3600), hours, (long long)((now - fs.newest) / 3600), hours);
    return KH_RULE_NOT_FOUND;
}

/* ---- log retention ---------------------------------------------------------------------------------- */

/* systemd time span ("3month", "90d 12h", "7776000") in days; -1 if unreadable. */
static double span_days(const char *s)
{
    static const struct {
        const char *unit;
        double days;
    } units[] = {
        {"usec", 1.0 / 86400e6}, {"us", 1.0 / 86400e6}, {"msec", 1.0 / 86400e3}, {"ms", 1.0 / 86400e3},
        {"seconds", 1.0 / 86400}, {"second", 1.0 / 86400}, {"sec", 1.0 / 86400}, {"s", 1.0 / 86400},
        {"minutes", 1.0 / 1440}, {"minute", 1.0 / 1440}, {"min", 1.0 / 1440}, {"months", 30.44},
        {"month", 30.44}, {"M", 30.44}, {"m", 1.0 / 1440}, {"hours", 1.0 / 24}, {"hour", 1.0 / 24},
        {"hr", 1.0 / 24}, {"h", 1.0 / 24}, {"days", 1}, {"day", 1}, {"d", 1}, {"weeks", 7}, {"week", 7},
        {"w", 7}, {"years", 365.25}, {"year", 365.25}, {"y", 365.25},
    };
    double total = 0;
    int any = 0;
    while (*s) {
        while (*s == ' ' || *s == '\t')
            s++;
        if (!*s)
            break;
        char *end;
        double v = strtod(s, &end);
        if (end == s)
            return -1;
        s = end;
        while (*s == ' ')
            s++;
        size_t ul = 0;
        while (isalpha((unsigned char)s[ul]))
            ul++;
        double mult = 1.0 / 86400; /* a bare number is seconds */
        if (ul) {
            size_t k;
            for (k = 0; k < KH_ARRAY_LEN(units); k++)
                if (strlen(units[k].unit) == ul && strncmp(units[k].unit, s, ul) == 0)
                    break;
            if (k == KH_ARRAY_LEN(units))
                return -1;
            mult = units[k].days;
        }
        total += v * mult;
        any = 1;
        s += ul;
    }
    return any ? total : -1;
}

typedef struct journald_conf {
    char storage[32];
    char retention[64];
} journald_conf;

static int on_journald_line(void *payload, const char *s, size_t n, unsigned lineno)
{
    journald_conf *j = payload;
    while (n && (*s == ' ' || *s == '\t'))
        s++, n--;
    if (!n || *s == '#' || *s == ';' || *s == '[')
        return 0;
    const char *eq = memchr(s, '=', n);
    if (!eq)
        return 0;
    size_t kl = (size_t)(eq - s);
    while (kl && (s[kl - 1] == ' ' || s[kl - 1] == '\t'))
        kl--;
    const char *v = eq + 1;
    size_t vl = n - (size_t)(v - s);
    while (vl && (*v == ' ' || *v == '\t'))
        v++, vl--;
    while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
        vl--;
    if (kl == 7 && strncmp(s, "Storage", 7) == 0)
        snprintf(j->storage, sizeof(j->storage), "%.*s", (int)vl, v);
    else if (kl == 15 && strncmp(s, "MaxRetentionSec", 15) == 0)
        snprintf(j->retention, sizeof(j->retention), "%.*s", (int)vl, v);
    return 0;
}

static int journald_file(kh_audit_ctx *c, const char *path, void *payload)
{
    kh_host_read_lines(c, path, on_journald_line, payload);
    return 0;
}

typedef struct rotate_conf {
    int in_block; /* logrotate.conf: inside a { } block */
    int top_only;
    double period; /* days: 1 daily, 7 weekly, ... ; 0 unknown */
    long rotate;   /* -1 unknown */
} rotate_conf;

static int on_rotate_line(void *payload, const char *s, size_t n, unsigned lineno)
{
    rotate_conf *r = payload;
    char w[32] = "";
    long num = -1;
    while (n && (*s == ' ' || *s == '\t'))
        s++, n--;
    if (!n || *s == '#')
        return 0;
    if (memchr(s, '{', n))
        r->in_block++;
    if (memchr(s, '}', n)) {
        if (r->in_block)
            r->in_block--;
        return 0;
    }
    if (r->top_only && r->in_block)
        return 0;
    size_t k = 0;
    while (k < n && k < sizeof(w) - 1 && isalpha((unsigned char)s[k]))
        w[k] = s[k], k++;
    w[k] = 0;
    while (k < n && (s[k] == ' ' || s[k] == '\t'))
        k++;
    if (k < n && isdigit((unsigned char)s[k]))
        num = strtol(s + k, NULL, 10);
    if (r->period == 0) {
        if (strcmp(w, "daily") == 0)
            r->period = 1;
        else if (strcmp(w, "weekly") == 0)
            r->period = 7;
        else if (strcmp(w, "monthly") == 0)
            r->period = 30.44;
        else if (strcmp(w, "yearly") == 0)
            r->period = 365.25;
    }
    if (r->rotate < 0 && strcmp(w, "rotate") == 0 && num >= 0)
        r->rotate = num;
    return 0;
}

/* Found when the logs of the audited system are kept for less than DAYS:
 * journald with persistent storage keeps them for MaxRetentionSec (else
 * until its size limit), rsyslog for logrotate's rotate x period. */
static kh_rule_outcome p_log_retention_short(kh_audit_ctx *c, int argc, char **argv)
{
    double want = atof(argv[0]);
    double best = -1;
    /* journald */
    journald_conf j;
    memset(&j, 0, sizeof(j));
    kh_host_glob(c, "/usr/lib/systemd/journald.conf.d/*.conf", journald_file, &j);
    journald_file(c, "/etc/systemd/journald.conf", &j);
    kh_host_glob(c, "/etc/systemd/journald.conf.d/*.conf", journald_file, &j);
    struct stat st;
    int persistent = strcmp(j.storage, "persistent") == 0 ||
                     ((!j.storage[0] || strcmp(j.storage, "auto") == 0) && kh_host_stat(c, "/var/log/journal", &st) == 0 &&
                      S_ISDIR(st.st_mode));
    if (persistent) {
        double d = j.retention[0] ? span_days(j.retention) : 0;
        if (d > 0) {
            kh_ev_addf(c, KH_RULE_NOT_FOUND, "retention", "/etc/systemd/journald.conf", 0,
                       "journald lưu bền vững, MaxRetentionSec=%s (%.0f ngày) / persistent journal, MaxRetentionSec=%s "
                       "(%.0f days)",
                       j.retention, d, j.retention, d);
            best = d;
        } else {
            kh_ev_add(c, KH_RULE_NOT_FOUND, "retention", "/var/log/journal", 0,
                      "journald lưu bền vững, không giới hạn theo thời gian (chỉ theo dung lượng SystemMaxUse) / "
                      "persistent journal, no time limit (only the SystemMaxUse size limit)");
            best = 1e9;
        }
    } else {
        kh_ev_addf(c, KH_RULE_NOT_FOUND, "retention", "/etc/systemd/journald.conf", 0,
                   "journald không lưu bền vững (Storage=%s, không có /var/log/journal) / the journal is not persistent "
                   "(Storage=%s, no /var/log/journal)",
                   j.storage[0] ? j.storage : "auto", j.storage[0] ? j.storage : "auto");
    }
    /* rsyslog through logrotate */
    rotate_conf g = {0, 1, 0, -1}, r = {0, 0, 0, -1};
    if (kh_host_read_lines(c, "/etc/logrotate.d/rsyslog", on_rotate_line, &r) == 0) {
        kh_host_read_lines(c, "/etc/logrotate.conf", on_rotate_line, &g);
        double period = r.period ? r.period : g.period ? g.period : 7;
        long rot = r.rotate >= 0 ? r.rotate : g.rotate >= 0 ? g.rotate : 0;
        double d = period * (double)rot;
        kh_ev_addf(c, KH_RULE_NOT_FOUND, "retention", "/etc/logrotate.d/rsyslog", 0,
                   "rsyslog: %ld bản x %.0f ngày = %.0f ngày / %ld copies x %.0f days = %.0f days", rot, period, d, rot,
                   period, d);
        if (d > best)
            best = d;
    }
    if (best >= want)
        return KH_RULE_NOT_FOUND;
    /* the evidence so far told how long; now it is the finding */
    for (size_t i = 0; i < c->ev.n; i++)
        if (c->ev.v[i].rule == c->rule->text && c->ev.v[i].outcome == KH_RULE_NOT_FOUND)
            c->ev.v[i].outcome = KH_RULE_FOUND;
    if (best < 0)
        kh_ev_add(c, KH_RULE_FOUND, "retention", NULL, 0,
                  "không có nhật ký nào được lưu trên đĩa / no logs are kept on disk");
    else
        kh_ev_addf(c, KH_RULE_FOUND, "retention", NULL, 0,
                   "nhật ký chỉ được giữ khoảng %.0f ngày (< %.0f) / logs are kept for about %.0f days (< %.0f)", best,
                   want, best, want);
    return KH_RULE_FOUND;
}

/* ---- table -------------------------------------------------------------------------------------------- */

static const probe probes[] = {
    {"secrets_readable", 1, 1, p_secrets_readable, "k:secrets_readable PATHS"},
    {"secrets", 1, 1, p_secrets, "k:secrets PATHS"},
    {"readable_by_others", 1, 1, p_readable_by_others, "k:readable_by_others PATHS"},
    {"private_keys_readable", 1, 1, p_keys_readable, "k:private_keys_readable PATHS"},
    {"private_keys_no_passphrase", 1, 1, p_keys_no_passphrase, "k:private_keys_no_passphrase PATHS"},
    {"shadow_empty_password", 0, 0, p_shadow_empty, "k:shadow_empty_password"},
    {"shadow_weak_hash", 0, 0, p_shadow_weak, "k:shadow_weak_hash"},
    {"shadow_no_ageing", 0, 1, p_shadow_no_ageing, "k:shadow_no_ageing [MAX_DAYS]"},
    {"uid0_non_root", 0, 0, p_uid0, "k:uid0_non_root"},
    {"usable_password", 1, 1, p_usable_password, "k:usable_password NAME,NAME..."},
    {"inactive_accounts", 1, 1, p_inactive, "k:inactive_accounts DAYS"},
    {"world_writable", 1, 1, p_world_writable, "k:world_writable DIR,DIR..."},
    {"recent_files", 2, 2, p_recent_files, "k:recent_files HOURS PATHS"},
    {"log_retention_short", 1, 1, p_log_retention_short, "k:log_retention_short DAYS"},
};

/* Splits "name a b rest of text": words separated by blanks, except that
 * the probe's last argument takes the rest of the text (paths may hold
 * spaces: /home/STAR/Màn hình nền). */
static int split_args(char *s, char **argv, int max)
{
    int n = 0;
    while (*s && n < max) {
        while (*s == ' ' || *s == '\t')
            s++;
        if (!*s)
            break;
        argv[n++] = s;
        int last = 0;
        if (n == 1) {
            const probe *p = NULL;
            size_t l = strcspn(s, " \t");
            for (size_t i = 0; i < KH_ARRAY_LEN(probes); i++)
                if (strlen(probes[i].name) == l && strncmp(probes[i].name, s, l) == 0)
                    p = &probes[i];
            if (p)
                max = 1 + p->max_args;
        } else if (n == max) {
            last = 1;
        }
        if (last) {
            char *e = s + strlen(s);
            while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
                *--e = 0;
            break;
        }
        while (*s && *s != ' ' && *s != '\t')
            s++;
        if (*s)
            *s++ = 0;
    }
    return n;
}

static const probe *lookup(const char *name)
{
    for (size_t i = 0; i < KH_ARRAY_LEN(probes); i++)
        if (strcmp(probes[i].name, name) == 0)
            return &probes[i];
    return NULL;
}

int kh_probe_known(const char *location, char *err, size_t errlen)
{
    char buf[4096];
    snprintf(buf, sizeof(buf), "%s", location);
    char *argv[8];
    int argc = split_args(buf, argv, 8);
    const probe *p = argc ? lookup(argv[0]) : NULL;
    if (p && p->max_args == 0 && argc == 1 && strcspn(location, " \t") < strlen(location) &&
        location[strspn(location + strcspn(location, " \t"), " \t") + strcspn(location, " \t")])
        argc = 2; /* words after a probe that takes none */
    if (!p) {
        snprintf(err, errlen, "không có phép kiểm tra k:%s / unknown probe k:%s", argc ? argv[0] : "",
                 argc ? argv[0] : "");
        return 0;
    }
    if (argc - 1 < p->min_args || argc - 1 > p->max_args) {
        snprintf(err, errlen, "sai số đối số, cách dùng / wrong number of arguments, usage: %s", p->usage);
        return 0;
    }
    if ((p->fn == p_inactive || p->fn == p_recent_files || p->fn == p_shadow_no_ageing ||
         p->fn == p_log_retention_short) &&
        argc > 1) {
        char *e;
        long v = strtol(argv[1], &e, 10);
        if (*e || v < 0) {
            snprintf(err, errlen, "'%s' phải là số nguyên không âm, cách dùng / must be a non-negative integer, usage: %s",
                     argv[1], p->usage);
            return 0;
        }
    }
    return 1;
}

kh_rule_outcome kh_probe_run(kh_audit_ctx *c, const char *location)
{
    char buf[4096];
    snprintf(buf, sizeof(buf), "%s", location);
    char *argv[8];
    int argc = split_args(buf, argv, 8);
    const probe *p = argc ? lookup(argv[0]) : NULL;
    if (!p) {
        kh_ev_add(c, KH_RULE_INVALID, "skipped", location, 0, "phép kiểm tra không rõ / unknown probe");
        return KH_RULE_INVALID;
    }
    return p->fn(c, argc - 1, argv + 1);
}
