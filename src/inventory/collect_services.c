/* Khiên — inventory: services, scheduled tasks and autostart entries.
 *
 * Without talking to systemd (no D-Bus, no systemctl), a service's state is
 * pieced together from files. A unit is enabled when a symbolic link to it
 * sits in a *.wants or *.requires folder under /etc/systemd/system, started
 * by the distribution when the link is under /usr/lib (or /lib), masked
 * when its /etc entry points to /dev/null. It is running when systemd has
 * booted the host (/run/systemd/system exists) and its control group under
 * /sys/fs/cgroup (v2, hybrid or v1 layout) holds processes. Units that are
 * neither started at boot nor running are left out: a host has hundreds.
 * SysV init scripts count when an S link in /etc/rc[2-5].d starts them and
 * no systemd unit replaces them. Symbolic links are followed inside the
 * root, so a --root tree reads its own unit files.
 *
 * Scheduled tasks: /etc/crontab, the files of /etc/cron.d, users' crontabs in
 * /var/spool/cron/crontabs, the scripts of /etc/cron.{hourly,daily,weekly,
 * monthly} (with cron's own rule for valid names), and systemd timers with
 * their schedule. Autostart: desktop autostart entries (system-wide and in
 * each home), /etc/rc.local, /etc/profile.d scripts, per-user systemd units
 * and /etc/ld.so.preload, the places persistent malware likes to hide.
 * Rows are keyed by where the entry lives and what it runs, not by line
 * number, so editing a comment does not make a change.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inventory/inv_int.h"
#include "inventory/rootfs.h"

static const char *const unit_dirs[] = {"/etc/systemd/system", "/run/systemd/system", "/usr/local/lib/systemd/system",
                                        "/usr/lib/systemd/system", "/lib/systemd/system"};

/* Reads a file, following symbolic links inside the root (at most 8). */
static int read_in_root(kh_inventory *inv, const char *path, kh_buf *out, char **final)
{
    char cur[4096];
    snprintf(cur, sizeof(cur), "%s", path);
    for (int hop = 0; hop < 8; hop++) {
        if (kh_root_lkind(inv->rootdir, cur) != KH_ROOT_LINK) {
            if (final)
                *final = kh_strdup(cur);
            return kh_root_read(inv->rootdir, cur, 4u << 20, out);
        }
        char *t = kh_root_readlink(inv->rootdir, cur);
        if (!t)
            return KH_EIO;
        if (strcmp(t, "/dev/null") == 0) {
            free(t);
            return KH_ENOENT;
        }
        char next[4096];
        if (t[0] == '/') {
            snprintf(next, sizeof(next), "%s", t);
        } else {
            const char *slash = strrchr(cur, '/');
            int dn = slash ? (int)(slash - cur) : 0;
            snprintf(next, sizeof(next), "%.*s/%s", dn, cur, t);
        }
        free(t);
        memcpy(cur, next, sizeof(cur));
    }
    return KH_ELIMIT;
}

/* Value of Key= in [section] of a unit file; several values joined by "; ". */
static char *unit_get(const char *text, size_t len, const char *section, const char *key, int all)
{
    size_t pos = 0, n, kl = strlen(key), sl = strlen(section);
    const char *line;
    int in = 0;
    kh_buf b = KH_BUF_INIT(1u << 16);
    while ((line = kh_next_line(text, len, &pos, &n)) != NULL) {
        const char *t = kh_trim(line, &n);
        if (n && t[0] == '[') {
            in = n == sl + 2 && memcmp(t + 1, section, sl) == 0 && t[n - 1] == ']';
            continue;
        }
        if (!in || n <= kl || memcmp(t, key, kl) != 0)
            continue;
        size_t i = kl;
        while (i < n && (t[i] == ' ' || t[i] == '\t'))
            i++;
        if (i >= n || t[i] != '=')
            continue;
        size_t vn = n - i - 1;
        const char *v = kh_trim(t + i + 1, &vn);
        if (!vn)
            continue;
        if (b.len)
            kh_buf_puts(&b, "; ");
        kh_buf_append(&b, v, vn);
        if (!all)
            break;
    }
    if (!b.len) {
        kh_buf_dispose(&b);
        return NULL;
    }
    return kh_buf_detach(&b, NULL);
}

static int has_section(const char *text, const char *section)
{
    char s[64];
    snprintf(s, sizeof(s), "[%s]", section);
    return strstr(text, s) != NULL;
}

/* ---- systemd units ------------------------------------------------------------------ */

typedef struct unit {
    char *name;
    int wanted_etc, wanted_vendor, running, alias;
} unit;

typedef KH_VEC(unit) unit_vec;

static unit *unit_get_or_add(unit_vec *v, const char *name)
{
    for (size_t i = 0; i < v->n; i++)
        if (strcmp(v->v[i].name, name) == 0)
            return &v->v[i];
    if (KH_VEC_RESERVE(*v, 1, 100000))
        return NULL;
    unit *u = &v->v[v->n];
    memset(u, 0, sizeof(*u));
    if (!(u->name = kh_strdup(name)))
        return NULL;
    v->n++;
    return u;
}

static int ends_with(const char *s, const char *suf) { return kh_str_endswith(s, suf); }

/* Collects units named in *.wants / *.requires folders of dir. */
static void scan_wants(kh_inventory *inv, unit_vec *v, const char *dir, int vendor)
{
    char **names = NULL, **links = NULL;
    size_t n = 0, nl = 0;
    if (kh_root_list(inv->rootdir, dir, &names, &n) != 0)
        return;
    for (size_t i = 0; i < n; i++) {
        if (!ends_with(names[i], ".wants") && !ends_with(names[i], ".requires"))
            continue;
        char p[4096];
        if (kh_path_join(p, sizeof(p), dir, names[i]))
            continue;
        if (kh_root_list(inv->rootdir, p, &links, &nl) != 0)
            continue;
        for (size_t k = 0; k < nl; k++) {
            if (!ends_with(links[k], ".service") && !ends_with(links[k], ".timer"))
                continue;
            unit *u = unit_get_or_add(v, links[k]);
            if (u && vendor)
                u->wanted_vendor = 1;
            else if (u)
                u->wanted_etc = 1;
        }
        kh_root_names_free(links, nl);
    }
    kh_root_names_free(names, n);
}

static int nonempty_file(kh_inventory *inv, const char *path)
{
    kh_buf b = KH_BUF_INIT(0);
    int ok = kh_root_read(inv->rootdir, path, 1u << 20, &b) == 0 && b.len > 0;
    kh_buf_dispose(&b);
    return ok;
}

static void scan_running(kh_inventory *inv, unit_vec *v)
{
    static const char *const bases[] = {"/sys/fs/cgroup/system.slice", "/sys/fs/cgroup/unified/system.slice",
                                        "/sys/fs/cgroup/systemd/system.slice"};
    for (size_t b = 0; b < KH_ARRAY_LEN(bases); b++) {
        char **names = NULL;
        size_t n = 0;
        if (kh_root_list(inv->rootdir, bases[b], &names, &n) != 0)
            continue;
        for (size_t i = 0; i < n; i++) {
            if (!ends_with(names[i], ".service"))
                continue;
            char p[4096];
            snprintf(p, sizeof(p), "%s/%s/cgroup.procs", bases[b], names[i]);
            if (nonempty_file(inv, p)) {
                unit *u = unit_get_or_add(v, names[i]);
                if (u)
                    u->running = 1;
            }
        }
        kh_root_names_free(names, n);
        return; /* the first layout found is the one in use */
    }
}

/* Finds the unit file for name (or its template); reads it into b. */
static int find_unit_file(kh_inventory *inv, const char *name, kh_buf *b, char **path, int *masked)
{
    char tmpl[512];
    const char *at = strchr(name, '@'), *dot = strrchr(name, '.');
    if (at && dot && dot > at)
        snprintf(tmpl, sizeof(tmpl), "%.*s%s", (int)(at - name + 1), name, dot);
    else
        tmpl[0] = 0;
    *masked = 0;
    for (int pass = 0; pass < 2; pass++) {
        const char *nm = pass ? tmpl : name;
        if (!*nm)
            continue;
        for (size_t d = 0; d < KH_ARRAY_LEN(unit_dirs); d++) {
            char p[4096];
            if (kh_path_join(p, sizeof(p), unit_dirs[d], nm))
            continue;
            int k = kh_root_lkind(inv->rootdir, p);
            if (k == KH_ROOT_NONE)
                continue;
            if (k == KH_ROOT_LINK) {
                char *t = kh_root_readlink(inv->rootdir, p);
                int is_null = t && strcmp(t, "/dev/null") == 0;
                free(t);
                if (is_null) {
                    *masked = 1;
                    return KH_ENOENT;
                }
            }
            if (read_in_root(inv, p, b, path) == 0)
                return 0;
        }
    }
    return KH_ENOENT;
}

/* The program a unit runs: ExecStart's first word without systemd's prefixes. */
static char *exec_program(const char *exec)
{
    if (!exec)
        return NULL;
    while (*exec && strchr("@-:+! \t", *exec))
        exec++;
    size_t n = strcspn(exec, " \t;");
    return n ? kh_strndup(exec, n) : NULL;
}

static void add_sysv(kh_inventory *inv, kh_inv_table *t, const unit_vec *units)
{
    char **scripts = NULL;
    size_t ns = 0;
    if (kh_root_list(inv->rootdir, "/etc/init.d", &scripts, &ns) != 0)
        return;
    for (size_t i = 0; i < ns; i++) {
        const char *s = scripts[i];
        if (s[0] == '.' || strcmp(s, "README") == 0 || strcmp(s, "skeleton") == 0 || strcmp(s, "rc") == 0 ||
            strcmp(s, "rcS") == 0)
            continue;
        char svc[512];
        snprintf(svc, sizeof(svc), "%s.service", s);
        int has_unit = 0;
        for (size_t u = 0; u < units->n; u++)
            has_unit |= strcmp(units->v[u].name, svc) == 0;
        for (size_t d = 0; d < KH_ARRAY_LEN(unit_dirs) && !has_unit; d++) {
            char p[4096];
            if (kh_path_join(p, sizeof(p), unit_dirs[d], svc))
            continue;
            has_unit = kh_root_lkind(inv->rootdir, p) != KH_ROOT_NONE;
        }
        if (has_unit)
            continue;
        int enabled = 0;
        for (int lvl = 2; lvl <= 5 && !enabled; lvl++) {
            char dir[64];
            char **links = NULL;
            size_t nl = 0;
            snprintf(dir, sizeof(dir), "/etc/rc%d.d", lvl);
            if (kh_root_list(inv->rootdir, dir, &links, &nl) != 0)
                continue;
            for (size_t k = 0; k < nl && !enabled; k++)
                enabled = links[k][0] == 'S' && strlen(links[k]) > 3 && strcmp(links[k] + 3, s) == 0;
            kh_root_names_free(links, nl);
        }
        if (!enabled)
            continue;
        kh_inv_row *r = kh_inv__row(inv, t, svc);
        kh_inv__set(inv, r, "manager", "sysv", 0);
        kh_inv__set(inv, r, "enabled", "enabled", 0);
        kh_inv__set(inv, r, "running", "unknown", 0);
        kh_inv__setf(inv, r, "exec", 0, "/etc/init.d/%s", s);
    }
    kh_root_names_free(scripts, ns);
}

static void collect_units(kh_inventory *inv)
{
    unit_vec units = {0};
    scan_wants(inv, &units, "/etc/systemd/system", 0);
    scan_wants(inv, &units, "/usr/lib/systemd/system", 1);
    scan_wants(inv, &units, "/lib/systemd/system", 1);
    int booted = kh_root_kind(inv->rootdir, "/run/systemd/system") == KH_ROOT_DIR;
    if (booted)
        scan_running(inv, &units);
    kh_inv_table *ts = kh_inv__table(inv, "services", KH_INV_SERVICE);
    kh_inv_table *tt = kh_inv__table(inv, "scheduled", KH_INV_SERVICE);
    kh_buf b = KH_BUF_INIT(0);
    for (size_t i = 0; i < units.n; i++) {
        unit *u = &units.v[i];
        char *path = NULL;
        int masked = 0;
        int found = find_unit_file(inv, u->name, &b, &path, &masked) == 0;
        const char *text = found ? b.data : "";
        size_t len = found ? b.len : 0;
        const char *state = masked              ? "masked"
                            : u->wanted_etc     ? "enabled"
                            : u->wanted_vendor  ? "static"
                            : found && !has_section(text, "Install") ? "static"
                                                                     : "disabled";
        char *desc = unit_get(text, len, "Unit", "Description", 0);
        if (ends_with(u->name, ".service")) {
            kh_inv_row *r = kh_inv__row(inv, ts, u->name);
            kh_inv__set(inv, r, "manager", "systemd", 0);
            kh_inv__set(inv, r, "enabled", state, 0);
            kh_inv__set(inv, r, "running", !booted ? "unknown" : u->running ? "yes" : "no", 0);
            kh_inv__set(inv, r, "description", desc, 0);
            char *exec = unit_get(text, len, "Service", "ExecStart", 0);
            char *prog = exec_program(exec);
            kh_inv__set(inv, r, "exec", prog, 0);
            free(prog);
            free(exec);
            kh_inv__set(inv, r, "unit_file", path, 0);
        } else if (!masked) { /* a timer */
            static const char *const keys[] = {"OnCalendar", "OnBootSec", "OnStartupSec", "OnActiveSec",
                                               "OnUnitActiveSec", "OnUnitInactiveSec"};
            kh_buf sched = KH_BUF_INIT(0);
            for (size_t k = 0; k < KH_ARRAY_LEN(keys); k++) {
                char *v = unit_get(text, len, "Timer", keys[k], 1);
                if (v)
                    kh_buf_printf(&sched, "%s%s=%s", sched.len ? "; " : "", keys[k], v);
                free(v);
            }
            char *target = unit_get(text, len, "Timer", "Unit", 0);
            if (!target) {
                kh_buf tb = KH_BUF_INIT(0);
                kh_buf_printf(&tb, "%.*s.service", (int)(strlen(u->name) - 6), u->name);
                target = kh_buf_detach(&tb, NULL);
            }
            kh_inv_row *r = kh_inv__rowf(inv, tt, "timer %s", u->name);
            kh_inv__set(inv, r, "kind", "systemd-timer", 0);
            kh_inv__set(inv, r, "source", path ? path : u->name, 0);
            kh_inv__set(inv, r, "user", "root", 0);
            kh_inv__set(inv, r, "schedule", sched.data ? sched.data : "", 0);
            kh_inv__set(inv, r, "command", target, 0);
            kh_inv__set(inv, r, "enabled", state, 0);
            free(target);
            kh_buf_dispose(&sched);
        }
        free(desc);
        free(path);
    }
    kh_buf_dispose(&b);
    add_sysv(inv, ts, &units);
    for (size_t i = 0; i < units.n; i++)
        free(units.v[i].name);
    KH_VEC_FREE(units);
}

/* ---- cron ------------------------------------------------------------------------------ */

/* cron and run-parts ignore names outside [A-Za-z0-9_-]. */
static int runparts_name(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' ||
              *s == '-'))
            return 0;
    return 1;
}

/* Next blank-separated word of [*p, end); NULL at the end. */
static const char *word(const char **p, const char *end, size_t *n)
{
    const char *s = *p;
    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    if (s >= end)
        return NULL;
    const char *e = s;
    while (e < end && *e != ' ' && *e != '\t')
        e++;
    *n = (size_t)(e - s);
    *p = e;
    return s;
}

static void cron_file(kh_inventory *inv, kh_inv_table *t, const char *path, const char *owner)
{
    kh_buf b = KH_BUF_INIT(0);
    int rc = kh_root_read(inv->rootdir, path, 4u << 20, &b);
    if (rc) {
        if (rc != KH_ENOENT)
            kh_inv__warn(inv, "cannot read %s: %s", path, kh_strerror(rc));
        kh_buf_dispose(&b);
        return;
    }
    size_t pos = 0, n;
    const char *line;
    while ((line = kh_next_line(b.data, b.len, &pos, &n)) != NULL) {
        const char *s = kh_trim(line, &n), *end = s + n, *p = s;
        if (!n || s[0] == '#')
            continue;
        size_t wn;
        const char *w = word(&p, end, &wn);
        if (!w || !memchr("0123456789*@", w[0], 12))
            continue; /* VAR=value, or not a schedule */
        kh_buf sched = KH_BUF_INIT(0);
        int ok = 1;
        if (w[0] == '@') {
            kh_buf_append(&sched, w, wn);
        } else {
            kh_buf_append(&sched, w, wn);
            for (int k = 0; k < 4 && ok; k++) {
                const char *x = word(&p, end, &wn);
                if (!x)
                    ok = 0;
                else
                    kh_buf_putc(&sched, ' '), kh_buf_append(&sched, x, wn);
            }
        }
        char user[256] = "";
        if (ok && !owner) {
            const char *x = word(&p, end, &wn);
            if (!x || wn >= sizeof(user))
                ok = 0;
            else
                snprintf(user, sizeof(user), "%.*s", (int)wn, x);
        } else if (owner) {
            snprintf(user, sizeof(user), "%s", owner);
        }
        size_t cn = (size_t)(end - p);
        const char *cmd = ok ? kh_trim(p, &cn) : NULL;
        if (ok && cn) {
            kh_inv_row *r = kh_inv__rowf(inv, t, "%s: %.*s", path, (int)cn, cmd);
            kh_inv__set(inv, r, "kind", owner ? "crontab" : "cron", 0);
            kh_inv__set(inv, r, "source", path, 0);
            kh_inv__set(inv, r, "user", user, 0);
            kh_inv__set(inv, r, "schedule", sched.data, 0);
            kh_inv__setn(inv, r, "command", cmd, cn, 0);
        }
        kh_buf_dispose(&sched);
    }
    kh_buf_dispose(&b);
}

static void collect_cron(kh_inventory *inv)
{
    kh_inv_table *t = kh_inv__table(inv, "scheduled", KH_INV_SERVICE);
    cron_file(inv, t, "/etc/crontab", NULL);
    char **names = NULL;
    size_t n = 0;
    char p[4096];
    if (kh_root_list(inv->rootdir, "/etc/cron.d", &names, &n) == 0) {
        for (size_t i = 0; i < n; i++)
            if (runparts_name(names[i])) {
                snprintf(p, sizeof(p), "/etc/cron.d/%s", names[i]);
                cron_file(inv, t, p, NULL);
            }
        kh_root_names_free(names, n);
    }
    if (kh_root_list(inv->rootdir, "/var/spool/cron/crontabs", &names, &n) == 0) {
        for (size_t i = 0; i < n; i++) {
            snprintf(p, sizeof(p), "/var/spool/cron/crontabs/%s", names[i]);
            cron_file(inv, t, p, names[i]);
        }
        kh_root_names_free(names, n);
    }
    static const char *const periods[] = {"hourly", "daily", "weekly", "monthly"};
    for (size_t k = 0; k < KH_ARRAY_LEN(periods); k++) {
        char dir[64];
        snprintf(dir, sizeof(dir), "/etc/cron.%s", periods[k]);
        if (kh_root_list(inv->rootdir, dir, &names, &n) != 0)
            continue;
        for (size_t i = 0; i < n; i++) {
            if (!runparts_name(names[i]))
                continue;
            if (kh_path_join(p, sizeof(p), dir, names[i]))
            continue;
            kh_inv_row *r = kh_inv__rowf(inv, t, "%s", p);
            kh_inv__set(inv, r, "kind", "cron-period", 0);
            kh_inv__set(inv, r, "source", dir, 0);
            kh_inv__set(inv, r, "user", "root", 0);
            kh_inv__set(inv, r, "schedule", periods[k], 0);
            kh_inv__set(inv, r, "command", p, 0);
        }
        kh_root_names_free(names, n);
    }
}

/* ---- Autostart ----------------------------------------------------------------------------- */

static void desktop_dir(kh_inventory *inv, kh_inv_table *t, const char *dir, const char *user)
{
    char **names = NULL;
    size_t n = 0;
    if (kh_root_list(inv->rootdir, dir, &names, &n) != 0)
        return;
    kh_buf b = KH_BUF_INIT(0);
    for (size_t i = 0; i < n; i++) {
        if (!ends_with(names[i], ".desktop"))
            continue;
        char p[4096];
        if (kh_path_join(p, sizeof(p), dir, names[i]))
            continue;
        if (read_in_root(inv, p, &b, NULL) != 0)
            continue;
        char *exec = unit_get(b.data, b.len, "Desktop Entry", "Exec", 0);
        char *hidden = unit_get(b.data, b.len, "Desktop Entry", "Hidden", 0);
        char *en = unit_get(b.data, b.len, "Desktop Entry", "X-GNOME-Autostart-enabled", 0);
        int off = (hidden && strcmp(hidden, "true") == 0) || (en && strcmp(en, "false") == 0);
        kh_inv_row *r = kh_inv__row(inv, t, p);
        kh_inv__set(inv, r, "kind", "desktop", 0);
        kh_inv__set(inv, r, "source", p, 0);
        kh_inv__set(inv, r, "user", user, 0);
        kh_inv__set(inv, r, "command", exec ? exec : "", 0);
        kh_inv__set(inv, r, "enabled", off ? "no" : "yes", 0);
        free(exec), free(hidden), free(en);
    }
    kh_buf_dispose(&b);
    kh_root_names_free(names, n);
}

static void user_units(kh_inventory *inv, kh_inv_table *t, const char *dir, const char *user)
{
    char **names = NULL, **links = NULL;
    size_t n = 0, nl = 0;
    if (kh_root_list(inv->rootdir, dir, &names, &n) != 0)
        return;
    for (size_t i = 0; i < n; i++) {
        if (!ends_with(names[i], ".wants"))
            continue;
        char p[4096];
        if (kh_path_join(p, sizeof(p), dir, names[i]))
            continue;
        if (kh_root_list(inv->rootdir, p, &links, &nl) != 0)
            continue;
        for (size_t k = 0; k < nl; k++) {
            char q[4096];
            if (kh_path_join(q, sizeof(q), p, links[k]))
            continue;
            kh_inv_row *r = kh_inv__row(inv, t, q);
            kh_inv__set(inv, r, "kind", "systemd-user", 0);
            kh_inv__set(inv, r, "source", q, 0);
            kh_inv__set(inv, r, "user", user, 0);
            kh_inv__set(inv, r, "command", links[k], 0);
            kh_inv__set(inv, r, "enabled", "yes", 0);
        }
        kh_root_names_free(links, nl);
    }
    kh_root_names_free(names, n);
}

static void lines_file(kh_inventory *inv, kh_inv_table *t, const char *path, const char *kind)
{
    kh_buf b = KH_BUF_INIT(0);
    if (kh_root_read(inv->rootdir, path, 1u << 20, &b) != 0) {
        kh_buf_dispose(&b);
        return;
    }
    size_t pos = 0, n;
    const char *line;
    while ((line = kh_next_line(b.data, b.len, &pos, &n)) != NULL) {
        const char *s = kh_trim(line, &n);
        if (!n || s[0] == '#' || (n == 6 && memcmp(s, "exit 0", 6) == 0))
            continue;
        kh_inv_row *r = kh_inv__rowf(inv, t, "%s: %.*s", path, (int)n, s);
        kh_inv__set(inv, r, "kind", kind, 0);
        kh_inv__set(inv, r, "source", path, 0);
        kh_inv__set(inv, r, "user", "root", 0);
        kh_inv__setn(inv, r, "command", s, n, 0);
        kh_inv__set(inv, r, "enabled", "yes", 0);
    }
    kh_buf_dispose(&b);
}

static void collect_autostart(kh_inventory *inv)
{
    kh_inv_table *t = kh_inv__table(inv, "autostart", KH_INV_SERVICE);
    desktop_dir(inv, t, "/etc/xdg/autostart", "*");
    lines_file(inv, t, "/etc/rc.local", "rc.local");
    lines_file(inv, t, "/etc/ld.so.preload", "ld.so.preload");
    char **names = NULL;
    size_t n = 0;
    if (kh_root_list(inv->rootdir, "/etc/profile.d", &names, &n) == 0) {
        for (size_t i = 0; i < n; i++) {
            if (!ends_with(names[i], ".sh"))
                continue;
            char p[4096];
            snprintf(p, sizeof(p), "/etc/profile.d/%s", names[i]);
            kh_inv_row *r = kh_inv__row(inv, t, p);
            kh_inv__set(inv, r, "kind", "profile.d", 0);
            kh_inv__set(inv, r, "source", p, 0);
            kh_inv__set(inv, r, "user", "*", 0);
            kh_inv__set(inv, r, "command", p, 0);
            kh_inv__set(inv, r, "enabled", "yes", 0);
        }
        kh_root_names_free(names, n);
    }
    /* per-user entries: each account's home from /etc/passwd */
    kh_buf b = KH_BUF_INIT(0);
    if (kh_root_read(inv->rootdir, "/etc/passwd", 64u << 20, &b) == 0) {
        size_t pos = 0, ln;
        const char *line;
        while ((line = kh_next_line(b.data, b.len, &pos, &ln)) != NULL) {
            char *l = kh_strndup(line, ln);
            char *f[7] = {0};
            size_t k = 0;
            for (char *s = l, *c; l && k < 7; s = c + 1) {
                f[k++] = s;
                if (!(c = strchr(s, ':')))
                    break;
                *c = 0;
            }
            if (k == 7 && f[5][0] == '/' && strcmp(f[5], "/") != 0 && strcmp(f[5], "/nonexistent") != 0) {
                char p[4096];
                snprintf(p, sizeof(p), "%s/.config/autostart", f[5]);
                desktop_dir(inv, t, p, f[0]);
                snprintf(p, sizeof(p), "%s/.config/systemd/user", f[5]);
                user_units(inv, t, p, f[0]);
            }
            free(l);
        }
    }
    kh_buf_dispose(&b);
}

void kh_inv__collect_services(kh_inventory *inv)
{
    collect_units(inv);
    collect_cron(inv);
    collect_autostart(inv);
}
