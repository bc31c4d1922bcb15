/* Khiên — inventory: accounts, groups and who can act as root.
 *
 * Users come from /etc/passwd, groups from /etc/group, password state and
 * the date of the last password change from /etc/shadow (root only; when
 * it cannot be read the state is "unknown" and a warning says why). Local
 * files only: accounts from LDAP or SSSD are not seen.
 *
 * "Admin" means able to become root: uid 0; membership of the sudo, admin
 * or wheel group (what Debian's sudoers and polkit grant by default); or a
 * rule in /etc/sudoers or its included files that names the user or one of
 * the user's groups. Every sudoers rule is also listed in its own table,
 * keyed by who and what, so that a new rule shows up in a diff even when
 * it names a user that does not exist yet. The sudoers grammar is read
 * only as far as needed for that: Defaults and alias definitions are
 * skipped, aliases used as "who" are listed but not expanded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "inventory/inv_int.h"
#include "inventory/rootfs.h"

/* Splits a line into at most max ':'-separated fields (in place). */
static size_t split_colon(char *line, char **f, size_t max)
{
    size_t k = 0;
    char *p = line;
    while (k < max) {
        f[k++] = p;
        char *c = strchr(p, ':');
        if (!c)
            break;
        *c = 0;
        p = c + 1;
    }
    return k;
}

/* ---- passwd ------------------------------------------------------------------------ */

void kh_inv__passwd_load(kh_inventory *inv, kh_inv_passwd *pw)
{
    memset(pw, 0, sizeof(*pw));
    kh_buf b = KH_BUF_INIT(0);
    if (kh_root_read(inv->rootdir, "/etc/passwd", 64u << 20, &b) != 0) {
        kh_buf_dispose(&b);
        return;
    }
    size_t pos = 0, n, cap = 0, ucap = 0;
    const char *line;
    while ((line = kh_next_line(b.data, b.len, &pos, &n)) != NULL) {
        char *l = kh_strndup(line, n), *f[7];
        uint64_t uid;
        if (l && split_colon(l, f, 7) >= 3 && f[0][0] && kh_parse_u64(f[2], strlen(f[2]), &uid) == 0 &&
            kh_grow((void **)&pw->names, &cap, pw->n + 1, sizeof(char *), 1000000) == 0 &&
            kh_grow((void **)&pw->uids, &ucap, pw->n + 1, sizeof(uint64_t), 1000000) == 0 &&
            (pw->names[pw->n] = kh_strdup(f[0])) != NULL)
            pw->uids[pw->n++] = uid;
        free(l);
    }
    kh_buf_dispose(&b);
}

const char *kh_inv__passwd_name(const kh_inv_passwd *pw, uint64_t uid)
{
    for (size_t i = 0; i < pw->n; i++)
        if (pw->uids[i] == uid)
            return pw->names[i];
    return NULL;
}

void kh_inv__passwd_free(kh_inv_passwd *pw)
{
    for (size_t i = 0; i < pw->n; i++)
        free(pw->names[i]);
    free(pw->names);
    free(pw->uids);
    memset(pw, 0, sizeof(*pw));
}

/* ---- Parsed account files ---------------------------------------------------------------- */

typedef struct user {
    char *name, *gecos, *home, *shell;
    uint64_t uid, gid;
    char *pw_state, *lastchg;
    KH_VEC(const char *) groups; /* supplementary group names (borrowed from the group list) */
    KH_VEC(char *) admin;        /* reasons */
} user;

typedef struct group {
    char *name, *members; /* members: the raw comma list */
    uint64_t gid;
} group;

typedef struct accounts {
    KH_VEC(user) users;
    KH_VEC(group) groups;
} accounts;

static void accounts_free(accounts *a)
{
    for (size_t i = 0; i < a->users.n; i++) {
        user *u = &a->users.v[i];
        free(u->name), free(u->gecos), free(u->home), free(u->shell), free(u->pw_state), free(u->lastchg);
        KH_VEC_FREE(u->groups);
        for (size_t k = 0; k < u->admin.n; k++)
            free(u->admin.v[k]);
        KH_VEC_FREE(u->admin);
    }
    for (size_t i = 0; i < a->groups.n; i++)
        free(a->groups.v[i].name), free(a->groups.v[i].members);
    KH_VEC_FREE(a->users);
    KH_VEC_FREE(a->groups);
}

static user *find_user(accounts *a, const char *name)
{
    for (size_t i = 0; i < a->users.n; i++)
        if (strcmp(a->users.v[i].name, name) == 0)
            return &a->users.v[i];
    return NULL;
}

static group *find_group(accounts *a, const char *name)
{
    for (size_t i = 0; i < a->groups.n; i++)
        if (strcmp(a->groups.v[i].name, name) == 0)
            return &a->groups.v[i];
    return NULL;
}

static const char *group_name(accounts *a, uint64_t gid)
{
    for (size_t i = 0; i < a->groups.n; i++)
        if (a->groups.v[i].gid == gid)
            return a->groups.v[i].name;
    return NULL;
}

/* 1 if user u belongs to group g (primary or supplementary). */
static int in_group(const user *u, const group *g)
{
    if (u->gid == g->gid)
        return 1;
    for (size_t i = 0; i < u->groups.n; i++)
        if (strcmp(u->groups.v[i], g->name) == 0)
            return 1;
    return 0;
}

static void add_reason(user *u, const char *prefix, const char *arg)
{
    char buf[512];
    snprintf(buf, sizeof(buf), "%s%s", prefix, arg);
    for (size_t i = 0; i < u->admin.n; i++)
        if (strcmp(u->admin.v[i], buf) == 0)
            return;
    if (KH_VEC_RESERVE(u->admin, 1, 64) == 0 && (u->admin.v[u->admin.n] = kh_strdup(buf)) != NULL)
        u->admin.n++;
}

static void load_users(kh_inventory *inv, accounts *a)
{
    kh_buf b = KH_BUF_INIT(0);
    int rc = kh_root_read(inv->rootdir, "/etc/passwd", 64u << 20, &b);
    if (rc) {
        kh_inv__warn(inv, "cannot read /etc/passwd: %s", kh_strerror(rc));
        kh_buf_dispose(&b);
        return;
    }
    size_t pos = 0, n;
    const char *line;
    unsigned lineno = 0;
    while ((line = kh_next_line(b.data, b.len, &pos, &n)) != NULL) {
        lineno++;
        char *l = kh_strndup(line, n), *f[7];
        uint64_t uid, gid;
        if (!l)
            break;
        if (!n || l[0] == '#' || l[0] == '+' || l[0] == '-') {
            free(l);
            continue;
        }
        if (split_colon(l, f, 7) != 7 || !f[0][0] || kh_parse_u64(f[2], strlen(f[2]), &uid) ||
            kh_parse_u64(f[3], strlen(f[3]), &gid)) {
            kh_inv__warn(inv, "/etc/passwd:%u: malformed line skipped", lineno);
            free(l);
            continue;
        }
        if (!find_user(a, f[0]) && KH_VEC_RESERVE(a->users, 1, 1000000) == 0) {
            user *u = &a->users.v[a->users.n++];
            memset(u, 0, sizeof(*u));
            u->name = kh_strdup(f[0]);
            u->gecos = kh_strndup(f[4], strcspn(f[4], ","));
            u->home = kh_strdup(f[5]);
            u->shell = kh_strdup(f[6]);
            u->uid = uid;
            u->gid = gid;
        }
        free(l);
    }
    kh_buf_dispose(&b);
}

static void load_groups(kh_inventory *inv, accounts *a)
{
    kh_buf b = KH_BUF_INIT(0);
    int rc = kh_root_read(inv->rootdir, "/etc/group", 64u << 20, &b);
    if (rc) {
        kh_inv__warn(inv, "cannot read /etc/group: %s", kh_strerror(rc));
        kh_buf_dispose(&b);
        return;
    }
    size_t pos = 0, n;
    const char *line;
    while ((line = kh_next_line(b.data, b.len, &pos, &n)) != NULL) {
        char *l = kh_strndup(line, n), *f[4];
        uint64_t gid;
        if (l && n && l[0] != '#' && split_colon(l, f, 4) == 4 && f[0][0] &&
            kh_parse_u64(f[2], strlen(f[2]), &gid) == 0 && !find_group(a, f[0]) &&
            KH_VEC_RESERVE(a->groups, 1, 1000000) == 0) {
            group *g = &a->groups.v[a->groups.n++];
            g->name = kh_strdup(f[0]);
            g->members = kh_strdup(f[3]);
            g->gid = gid;
        }
        free(l);
    }
    kh_buf_dispose(&b);
    /* supplementary groups of each user */
    for (size_t i = 0; i < a->groups.n; i++) {
        group *g = &a->groups.v[i];
        if (!g->members)
            continue;
        char *copy = kh_strdup(g->members), *save = NULL;
        for (char *m = copy ? strtok_r(copy, ",", &save) : NULL; m; m = strtok_r(NULL, ",", &save)) {
            size_t mn = strlen(m);
            const char *t = kh_trim(m, &mn);
            char name[256];
            snprintf(name, sizeof(name), "%.*s", (int)mn, t);
            user *u = find_user(a, name);
            if (u && KH_VEC_RESERVE(u->groups, 1, 100000) == 0)
                u->groups.v[u->groups.n++] = g->name;
        }
        free(copy);
    }
}

static void load_shadow(kh_inventory *inv, accounts *a)
{
    kh_buf b = KH_BUF_INIT(0);
    int rc = kh_root_read(inv->rootdir, "/etc/shadow", 64u << 20, &b);
    if (rc) {
        if (rc != KH_ENOENT)
            kh_inv__warn(inv, "cannot read /etc/shadow (%s): password states unknown", kh_strerror(rc));
        kh_buf_dispose(&b);
        return;
    }
    size_t pos = 0, n;
    const char *line;
    while ((line = kh_next_line(b.data, b.len, &pos, &n)) != NULL) {
        char *l = kh_strndup(line, n), *f[9];
        if (!l)
            break;
        size_t k = split_colon(l, f, 9);
        user *u = k >= 3 ? find_user(a, f[0]) : NULL;
        if (u && !u->pw_state) {
            const char *h = f[1];
            u->pw_state = kh_strdup(!h[0] ? "none" : (h[0] == '!' || h[0] == '*') ? "locked" : "set");
            uint64_t days;
            if (f[2][0] && kh_parse_u64(f[2], strlen(f[2]), &days) == 0) {
                if (days == 0) {
                    u->lastchg = kh_strdup("must-change");
                } else {
                    char d[32];
                    time_t t = (time_t)(days * 86400);
                    struct tm tm;
                    if (gmtime_r(&t, &tm) && strftime(d, sizeof(d), "%Y-%m-%d", &tm))
                        u->lastchg = kh_strdup(d);
                }
            }
        }
        free(l);
    }
    kh_buf_dispose(&b);
}

/* ---- sudoers ------------------------------------------------------------------------------------ */

typedef struct sudo_ctx {
    kh_inventory *inv;
    accounts *a;
    kh_inv_table *t;
    int depth;
} sudo_ctx;

static void sudo_file(sudo_ctx *c, const char *path);

static int valid_includedir_name(const char *n)
{
    /* sudo skips names ending in '~' or containing '.' */
    return *n && !strchr(n, '.') && n[strlen(n) - 1] != '~';
}

static void sudo_includedir(sudo_ctx *c, const char *dir)
{
    char **names = NULL;
    size_t n = 0;
    if (kh_root_list(c->inv->rootdir, dir, &names, &n) != 0)
        return;
    for (size_t i = 0; i < n; i++) {
        if (!valid_includedir_name(names[i]))
            continue;
        char p[4096];
        if (kh_path_join(p, sizeof(p), dir, names[i]))
            continue;
        sudo_file(c, p);
    }
    kh_root_names_free(names, n);
}

/* One logical sudoers line (continuations joined). */
static void sudo_line(sudo_ctx *c, const char *path, char *s)
{
    size_t n = strlen(s);
    s = (char *)kh_trim(s, &n);
    s[n] = 0;
    if (!n)
        return;
    if (strncmp(s, "@includedir", 11) == 0 || strncmp(s, "#includedir", 11) == 0) {
        size_t m = strlen(s + 11);
        const char *d = kh_trim(s + 11, &m);
        char dir[4096];
        snprintf(dir, sizeof(dir), "%.*s", (int)m, d);
        sudo_includedir(c, dir);
        return;
    }
    if (strncmp(s, "@include", 8) == 0 || strncmp(s, "#include", 8) == 0) {
        size_t m = strlen(s + 8);
        const char *d = kh_trim(s + 8, &m);
        char f[4096];
        snprintf(f, sizeof(f), "%.*s", (int)m, d);
        sudo_file(c, f);
        return;
    }
    if (s[0] == '#' && !(s[1] >= '0' && s[1] <= '9'))
        return; /* comment ("#123" would be a uid) */
    char *hash = strstr(s, " #");
    if (hash)
        *hash = 0;
    static const char *const skip[] = {"Defaults", "User_Alias", "Runas_Alias", "Host_Alias", "Cmnd_Alias", "Cmd_Alias"};
    for (size_t i = 0; i < KH_ARRAY_LEN(skip); i++)
        if (strncmp(s, skip[i], strlen(skip[i])) == 0)
            return;
    /* who[, who...] host = ... : the who list ends at the first blank not after a comma */
    char *p = s;
    KH_VEC(char *) who = {0};
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        char *st = p;
        while (*p && *p != ',' && *p != ' ' && *p != '\t')
            p++;
        char *w = kh_strndup(st, (size_t)(p - st));
        if (w && *w && KH_VEC_RESERVE(who, 1, 1000) == 0)
            who.v[who.n++] = w;
        else
            free(w);
        char *q = p;
        while (*q == ' ' || *q == '\t')
            q++;
        if (*q == ',') {
            p = q + 1;
            continue;
        }
        p = q;
        break;
    }
    if (!strchr(p, '=')) { /* not a user specification */
        for (size_t i = 0; i < who.n; i++)
            free(who.v[i]);
        KH_VEC_FREE(who);
        return;
    }
    /* the rule with blanks collapsed */
    kh_buf rule = KH_BUF_INIT(0);
    for (char *q = p; *q; q++) {
        if ((*q == ' ' || *q == '\t') && (rule.len == 0 || rule.data[rule.len - 1] == ' '))
            continue;
        kh_buf_putc(&rule, *q == '\t' ? ' ' : *q);
    }
    while (rule.len && rule.data[rule.len - 1] == ' ')
        rule.data[--rule.len] = 0;
    for (size_t i = 0; i < who.n; i++) {
        const char *w = who.v[i];
        const char *kind = w[0] == '%' ? "group" : w[0] == '#' ? "uid" : (w[0] >= 'A' && w[0] <= 'Z') ? "alias" : "user";
        kh_inv_row *r = kh_inv__rowf(c->inv, c->t, "%s %s", w, rule.data ? rule.data : "");
        kh_inv__set(c->inv, r, "who", w, 0);
        kh_inv__set(c->inv, r, "kind", kind, 0);
        kh_inv__set(c->inv, r, "rule", rule.data ? rule.data : "", 0);
        kh_inv__set(c->inv, r, "source", path, 0);
        if (w[0] == '%') {
            group *g = find_group(c->a, w + 1);
            for (size_t k = 0; g && k < c->a->users.n; k++)
                if (in_group(&c->a->users.v[k], g))
                    add_reason(&c->a->users.v[k], "sudoers ", w);
        } else if (w[0] == '#') {
            uint64_t uid;
            if (kh_parse_u64(w + 1, strlen(w + 1), &uid) == 0)
                for (size_t k = 0; k < c->a->users.n; k++)
                    if (c->a->users.v[k].uid == uid)
                        add_reason(&c->a->users.v[k], "sudoers ", w);
        } else {
            user *u = find_user(c->a, w);
            if (u)
                add_reason(u, "sudoers", "");
        }
    }
    kh_buf_dispose(&rule);
    for (size_t i = 0; i < who.n; i++)
        free(who.v[i]);
    KH_VEC_FREE(who);
}

static void sudo_file(sudo_ctx *c, const char *path)
{
    if (c->depth >= 8)
        return;
    kh_buf b = KH_BUF_INIT(0);
    int rc = kh_root_read(c->inv->rootdir, path, 16u << 20, &b);
    if (rc) {
        if (rc != KH_ENOENT)
            kh_inv__warn(c->inv, "cannot read %s: %s", path, kh_strerror(rc));
        kh_buf_dispose(&b);
        return;
    }
    c->depth++;
    kh_buf logical = KH_BUF_INIT(1u << 20);
    size_t pos = 0, n;
    const char *line;
    while ((line = kh_next_line(b.data, b.len, &pos, &n)) != NULL) {
        int cont = n && line[n - 1] == '\\';
        kh_buf_append(&logical, line, cont ? n - 1 : n);
        if (cont)
            continue;
        if (logical.data)
            sudo_line(c, path, logical.data);
        kh_buf_clear(&logical);
    }
    if (logical.len)
        sudo_line(c, path, logical.data);
    kh_buf_dispose(&logical);
    kh_buf_dispose(&b);
    c->depth--;
}

/* ---- Tables ------------------------------------------------------------------------------- */

static int cmp_cstr(const void *x, const void *y) { return strcmp(*(char *const *)x, *(char *const *)y); }

static void join_sorted(kh_buf *out, const char **v, size_t n)
{
    kh_buf_clear(out);
    if (n > 1)
        kh_qsort(v, n, sizeof(*v), cmp_cstr);
    for (size_t i = 0; i < n; i++)
        if (!i || strcmp(v[i], v[i - 1]) != 0)
            kh_buf_printf(out, "%s%s", out->len ? ", " : "", v[i]);
}

static int no_login_shell(const char *sh)
{
    const char *b = strrchr(sh, '/');
    b = b ? b + 1 : sh;
    return !*sh || strcmp(b, "nologin") == 0 || strcmp(b, "false") == 0 || strcmp(b, "sync") == 0 ||
           strcmp(b, "halt") == 0 || strcmp(b, "shutdown") == 0;
}

static uint64_t uid_min(kh_inventory *inv)
{
    kh_buf b = KH_BUF_INIT(0);
    uint64_t v = 1000;
    if (kh_root_read(inv->rootdir, "/etc/login.defs", 1u << 20, &b) == 0) {
        size_t pos = 0, n;
        const char *line;
        while ((line = kh_next_line(b.data, b.len, &pos, &n)) != NULL)
            if (n > 7 && strncmp(line, "UID_MIN", 7) == 0 && (line[7] == ' ' || line[7] == '\t'))
                v = strtoull(line + 7, NULL, 10);
    }
    kh_buf_dispose(&b);
    return v;
}

void kh_inv__collect_accounts(kh_inventory *inv)
{
    accounts a = {0};
    load_users(inv, &a);
    load_groups(inv, &a);
    load_shadow(inv, &a);

    /* administrators: uid 0, admin groups, sudoers */
    static const char *const admin_groups[] = {"sudo", "admin", "wheel"};
    for (size_t i = 0; i < a.users.n; i++) {
        user *u = &a.users.v[i];
        if (u->uid == 0)
            add_reason(u, "uid 0", "");
        for (size_t k = 0; k < KH_ARRAY_LEN(admin_groups); k++) {
            group *g = find_group(&a, admin_groups[k]);
            if (g && in_group(u, g))
                add_reason(u, "group ", g->name);
        }
    }
    sudo_ctx sc = {inv, &a, kh_inv__table(inv, "sudoers", KH_INV_ACCOUNT), 0};
    sudo_file(&sc, "/etc/sudoers");

    uint64_t umin = uid_min(inv);
    kh_inv_table *tu = kh_inv__table(inv, "users", KH_INV_ACCOUNT);
    kh_buf list = KH_BUF_INIT(0);
    for (size_t i = 0; i < a.users.n; i++) {
        user *u = &a.users.v[i];
        kh_inv_row *r = kh_inv__row(inv, tu, u->name);
        kh_inv__set_u64(inv, r, "uid", u->uid, 0);
        kh_inv__set_u64(inv, r, "gid", u->gid, 0);
        kh_inv__set(inv, r, "group", group_name(&a, u->gid), 0);
        join_sorted(&list, u->groups.v, u->groups.n);
        kh_inv__set(inv, r, "groups", list.data ? list.data : "", 0);
        kh_inv__set(inv, r, "full_name", u->gecos, 0);
        kh_inv__set(inv, r, "home", u->home, 0);
        kh_inv__set(inv, r, "shell", u->shell, 0);
        kh_inv__set(inv, r, "login", u->shell && no_login_shell(u->shell) ? "no" : "yes", 0);
        kh_inv__set(inv, r, "system", u->uid < umin || u->uid == 65534 ? "yes" : "no", 0);
        kh_inv__set(inv, r, "password", u->pw_state ? u->pw_state : "unknown", 0);
        kh_inv__set(inv, r, "last_password_change", u->lastchg ? u->lastchg : "", 0);
        join_sorted(&list, (const char **)u->admin.v, u->admin.n);
        kh_inv__set(inv, r, "admin", list.data ? list.data : "", 0);
    }
    kh_inv_table *tg = kh_inv__table(inv, "groups", KH_INV_ACCOUNT);
    for (size_t i = 0; i < a.groups.n; i++) {
        group *g = &a.groups.v[i];
        kh_inv_row *r = kh_inv__row(inv, tg, g->name);
        kh_inv__set_u64(inv, r, "gid", g->gid, 0);
        KH_VEC(const char *) m = {0};
        char *copy = kh_strdup(g->members ? g->members : ""), *save = NULL;
        for (char *t = copy ? strtok_r(copy, ", ", &save) : NULL; t; t = strtok_r(NULL, ", ", &save))
            if (KH_VEC_RESERVE(m, 1, 100000) == 0)
                m.v[m.n++] = t;
        join_sorted(&list, m.v, m.n);
        kh_inv__set(inv, r, "members", list.data ? list.data : "", 0);
        KH_VEC_FREE(m);
        free(copy);
    }
    kh_buf_dispose(&list);
    accounts_free(&a);
}
