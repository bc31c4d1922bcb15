/* Khiên — inventory: network interfaces and listening sockets, from /proc
 * and /sys.
 *
 * Interfaces are the folders of /sys/class/net (MAC address, MTU, driver;
 * the link state is volatile). Linux publishes IPv6 addresses per
 * interface in /proc/net/if_inet6 but IPv4 addresses only through netlink
 * or ioctl, so they are reconstructed from files: /proc/net/fib_trie lists
 * every local address ("/32 host LOCAL"), and the interface is the one
 * whose route in /proc/net/route covers the address with the longest mask
 * (127.0.0.0/8 is the loopback's). Temporary IPv6 privacy addresses are
 * left out: they change every few hours by design.
 *
 * Listening sockets are TCP sockets in LISTEN state and unconnected UDP
 * sockets from /proc/net/{tcp,tcp6,udp,udp6}. A UDP socket on a port of the
 * kernel's ephemeral range (ip_local_port_range) is a client's, whose port
 * changes at every start: it is keyed by its process, the port volatile. The owning process is found
 * by matching the socket's inode with the "socket:[inode]" links in
 * /proc/PID/fd (root sees all processes; others only their own). Rows are
 * keyed by protocol, address and port; several sockets on the same port
 * (SO_REUSEPORT, or one socket shared by worker processes) make one row.
 * Process ids are volatile; the process name is not.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inventory/inv_int.h"
#include "inventory/rootfs.h"

/* ---- IPv4 addresses from fib_trie + route ----------------------------------------- */

typedef struct route4 {
    char ifname[64];
    uint32_t dest, mask; /* network byte order, as in /proc/net/route (host-endian hex of it) */
} route4;

static int parse_ipv4(const char *s, size_t n, uint32_t *out)
{
    char tmp[32];
    struct in_addr a;
    if (n >= sizeof(tmp))
        return -1;
    memcpy(tmp, s, n);
    tmp[n] = 0;
    if (inet_pton(AF_INET, tmp, &a) != 1)
        return -1;
    *out = a.s_addr;
    return 0;
}

static int prefix_len(uint32_t mask_net)
{
    uint32_t m = ntohl(mask_net);
    int n = 0;
    while (m & 0x80000000u) {
        n++;
        m <<= 1;
    }
    return n;
}

typedef struct addr_ent {
    char *ifname;
    char *text; /* "192.0.2.2/24" or "fd00::2/64" */
} addr_ent;
typedef KH_VEC(addr_ent) addr_vec;

static void addrs_free(addr_vec *v)
{
    for (size_t i = 0; i < v->n; i++) {
        free(v->v[i].ifname);
        free(v->v[i].text);
    }
    KH_VEC_FREE(*v);
}

static void add_addr(addr_vec *v, const char *ifname, const char *text)
{
    for (size_t i = 0; i < v->n; i++)
        if (strcmp(v->v[i].ifname, ifname) == 0 && strcmp(v->v[i].text, text) == 0)
            return;
    if (KH_VEC_RESERVE(*v, 1, 100000))
        return;
    addr_ent *e = &v->v[v->n];
    e->ifname = kh_strdup(ifname);
    e->text = kh_strdup(text);
    if (e->ifname && e->text)
        v->n++;
    else
        free(e->ifname), free(e->text);
}

static void load_ipv4(kh_inventory *inv, addr_vec *out)
{
    KH_VEC(route4) routes = {0};
    kh_buf b = KH_BUF_INIT(0);
    size_t pos = 0, n;
    const char *line;
    if (kh_root_read(inv->rootdir, "/proc/net/route", 16u << 20, &b) == 0) {
        while ((line = kh_next_line(b.data, b.len, &pos, &n)) != NULL) {
            char ifn[64];
            unsigned dest, gw, flags, refcnt, use, metric, mask;
            char *l = kh_strndup(line, n);
            if (l && sscanf(l, "%63s %x %x %x %u %u %u %x", ifn, &dest, &gw, &flags, &refcnt, &use, &metric, &mask) ==
                         8 &&
                mask != 0 && KH_VEC_RESERVE(routes, 1, 100000) == 0) {
                route4 *r = &routes.v[routes.n++];
                snprintf(r->ifname, sizeof(r->ifname), "%s", ifn);
                r->dest = dest; /* the kernel prints the __be32 as a host integer */
                r->mask = mask;
            }
            free(l);
        }
    }
    if (kh_root_read(inv->rootdir, "/proc/net/fib_trie", 64u << 20, &b) == 0) {
        char last[32] = "";
        pos = 0;
        while ((line = kh_next_line(b.data, b.len, &pos, &n)) != NULL) {
            size_t tn = n;
            const char *t = kh_trim(line, &tn);
            if (tn > 4 && memcmp(t, "|-- ", 4) == 0 && tn - 4 < sizeof(last)) {
                memcpy(last, t + 4, tn - 4);
                last[tn - 4] = 0;
            } else if (tn >= 14 && memcmp(t, "/32 host LOCAL", 14) == 0 && last[0]) {
                uint32_t a;
                if (parse_ipv4(last, strlen(last), &a))
                    continue;
                const route4 *best = NULL;
                for (size_t i = 0; i < routes.n; i++)
                    if ((a & routes.v[i].mask) == routes.v[i].dest &&
                        (!best || prefix_len(routes.v[i].mask) > prefix_len(best->mask)))
                        best = &routes.v[i];
                char text[64];
                if (best) {
                    snprintf(text, sizeof(text), "%s/%d", last, prefix_len(best->mask));
                    add_addr(out, best->ifname, text);
                } else if ((ntohl(a) >> 24) == 127) {
                    snprintf(text, sizeof(text), "%s/8", last);
                    add_addr(out, "lo", text);
                }
            }
        }
    }
    kh_buf_dispose(&b);
    KH_VEC_FREE(routes);
}

static void load_ipv6(kh_inventory *inv, addr_vec *out)
{
    kh_buf b = KH_BUF_INIT(0);
    if (kh_root_read(inv->rootdir, "/proc/net/if_inet6", 16u << 20, &b) != 0) {
        kh_buf_dispose(&b);
        return;
    }
    size_t pos = 0, n;
    const char *line;
    while ((line = kh_next_line(b.data, b.len, &pos, &n)) != NULL) {
        char hex[40], ifn[64];
        unsigned idx, plen, scope, flags;
        char *l = kh_strndup(line, n);
        if (l && sscanf(l, "%32s %x %x %x %x %63s", hex, &idx, &plen, &scope, &flags, ifn) == 6 &&
            strlen(hex) == 32 && !(flags & 0x01) /* IFA_F_TEMPORARY */) {
            unsigned char a[16];
            char text[INET6_ADDRSTRLEN + 8];
            if (kh_hex_decode(hex, 32, a) == 0 && inet_ntop(AF_INET6, a, text, INET6_ADDRSTRLEN)) {
                snprintf(text + strlen(text), 8, "/%u", plen & 0xff);
                add_addr(out, ifn, text);
            }
        }
        free(l);
    }
    kh_buf_dispose(&b);
}

static int cmp_cstr(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Sets field to the sorted, comma-separated addresses of ifname. */
static void set_addrs(kh_inventory *inv, kh_inv_row *r, const char *field, const addr_vec *v, const char *ifname)
{
    KH_VEC(const char *) list = {0};
    for (size_t i = 0; i < v->n; i++)
        if (strcmp(v->v[i].ifname, ifname) == 0 && KH_VEC_RESERVE(list, 1, 100000) == 0)
            list.v[list.n++] = v->v[i].text;
    if (list.n) {
        kh_qsort(list.v, list.n, sizeof(*list.v), cmp_cstr);
        kh_buf b = KH_BUF_INIT(0);
        for (size_t i = 0; i < list.n; i++)
            kh_buf_printf(&b, "%s%s", i ? ", " : "", list.v[i]);
        kh_inv__set(inv, r, field, b.data, 0);
        kh_buf_dispose(&b);
    }
    KH_VEC_FREE(list);
}

static void collect_interfaces(kh_inventory *inv)
{
    char **names = NULL;
    size_t n = 0;
    int rc = kh_root_list(inv->rootdir, "/sys/class/net", &names, &n);
    if (rc) {
        kh_inv__warn(inv, "cannot list /sys/class/net: %s", kh_strerror(rc));
        return;
    }
    addr_vec v4 = {0}, v6 = {0};
    load_ipv4(inv, &v4);
    load_ipv6(inv, &v6);
    kh_inv_table *t = kh_inv__table(inv, "interfaces", KH_INV_NETWORK);
    kh_buf p = KH_BUF_INIT(0);
    for (size_t i = 0; i < n; i++) {
        const char *d = names[i];
        if (strcmp(d, "bonding_masters") == 0)
            continue;
        kh_inv_row *r = kh_inv__row(inv, t, d);
        char *v;
        kh_buf_clear(&p);
        kh_buf_printf(&p, "/sys/class/net/%s/address", d);
        v = kh_root_read_line(inv->rootdir, p.data);
        kh_inv__set(inv, r, "mac", v, 0);
        free(v);
        kh_buf_clear(&p);
        kh_buf_printf(&p, "/sys/class/net/%s/mtu", d);
        v = kh_root_read_line(inv->rootdir, p.data);
        uint64_t mtu;
        if (v && kh_parse_u64(v, strlen(v), &mtu) == 0)
            kh_inv__set_u64(inv, r, "mtu", mtu, 0);
        free(v);
        kh_buf_clear(&p);
        kh_buf_printf(&p, "/sys/class/net/%s/device", d);
        int physical = kh_root_kind(inv->rootdir, p.data) == KH_ROOT_DIR;
        kh_inv__set(inv, r, "kind", physical ? "physical" : "virtual", 0);
        kh_buf_clear(&p);
        kh_buf_printf(&p, "/sys/class/net/%s/device/driver", d);
        v = kh_root_readlink(inv->rootdir, p.data);
        if (v) {
            const char *s = strrchr(v, '/');
            kh_inv__set(inv, r, "driver", s ? s + 1 : v, 0);
            free(v);
        }
        set_addrs(inv, r, "ipv4", &v4, d);
        set_addrs(inv, r, "ipv6", &v6, d);
        kh_buf_clear(&p);
        kh_buf_printf(&p, "/sys/class/net/%s/operstate", d);
        v = kh_root_read_line(inv->rootdir, p.data);
        kh_inv__set(inv, r, "state", v, KH_INV_FIELD_VOLATILE);
        free(v);
    }
    kh_buf_dispose(&p);
    addrs_free(&v4);
    addrs_free(&v6);
    kh_root_names_free(names, n);
}

/* ---- Listening sockets ---------------------------------------------------------------- */

typedef struct sock_owner {
    uint64_t inode;
    uint64_t pid;
} sock_owner;

typedef KH_VEC(sock_owner) owner_vec;

static int cmp_owner(const void *a, const void *b)
{
    const sock_owner *x = a, *y = b;
    if (x->inode != y->inode)
        return x->inode < y->inode ? -1 : 1;
    return (x->pid > y->pid) - (x->pid < y->pid);
}

static int is_number(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

/* Every (socket inode, pid) pair visible in /proc/PID/fd, sorted. */
static void load_owners(kh_inventory *inv, owner_vec *out)
{
    char **pids = NULL, **fds = NULL;
    size_t np = 0, nf = 0;
    if (kh_root_list(inv->rootdir, "/proc", &pids, &np) != 0)
        return;
    kh_buf p = KH_BUF_INIT(0);
    for (size_t i = 0; i < np; i++) {
        if (!is_number(pids[i]))
            continue;
        kh_buf_clear(&p);
        kh_buf_printf(&p, "/proc/%s/fd", pids[i]);
        if (kh_root_list(inv->rootdir, p.data, &fds, &nf) != 0)
            continue;
        for (size_t k = 0; k < nf; k++) {
            kh_buf_clear(&p);
            kh_buf_printf(&p, "/proc/%s/fd/%s", pids[i], fds[k]);
            char *l = kh_root_readlink(inv->rootdir, p.data);
            if (l && strncmp(l, "socket:[", 8) == 0 && KH_VEC_RESERVE(*out, 1, 4000000) == 0) {
                out->v[out->n].inode = strtoull(l + 8, NULL, 10);
                out->v[out->n].pid = strtoull(pids[i], NULL, 10);
                out->n++;
            }
            free(l);
        }
        kh_root_names_free(fds, nf);
    }
    kh_buf_dispose(&p);
    kh_root_names_free(pids, np);
    if (out->n > 1)
        kh_qsort(out->v, out->n, sizeof(*out->v), cmp_owner);
}

/* Lowest pid owning the inode, or 0. */
static uint64_t owner_of(const sock_owner *v, size_t n, uint64_t inode)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid].inode < inode)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && v[lo].inode == inode ? v[lo].pid : 0;
}

/* "0100007F:0016" (IPv4) or 32 hex digits + ":port" (IPv6) as printed by the kernel. */
static int parse_sockaddr(const char *s, int v6, char *addr, size_t addrlen, unsigned *port)
{
    const char *colon = strchr(s, ':');
    size_t hn = colon ? (size_t)(colon - s) : 0;
    if (!colon || hn != (v6 ? 32u : 8u))
        return -1;
    unsigned char a[16];
    for (size_t w = 0; w < hn / 8; w++) {
        char tmp[9];
        memcpy(tmp, s + w * 8, 8);
        tmp[8] = 0;
        char *end;
        uint32_t x = (uint32_t)strtoul(tmp, &end, 16);
        if (*end)
            return -1;
        memcpy(a + w * 4, &x, 4); /* each word was printed as a host-order integer */
    }
    if (!inet_ntop(v6 ? AF_INET6 : AF_INET, a, addr, (socklen_t)addrlen))
        return -1;
    char *end;
    unsigned long p = strtoul(colon + 1, &end, 16);
    if (end == colon + 1 || p > 65535)
        return -1;
    *port = (unsigned)p;
    return 0;
}

typedef struct sock_ent {
    char *key;
    char proto[8];
    char addr[INET6_ADDRSTRLEN];
    unsigned port;
    uint64_t uid;
    int ephemeral;
    char *procs; /* sorted, unique process names, ", " separated */
    char *pids;
} sock_ent;

static void add_name(char **list, const char *name)
{
    /* keeps a sorted, unique ", "-separated list */
    KH_VEC(char *) parts = {0};
    char *copy = *list ? kh_strdup(*list) : NULL, *save = NULL;
    for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        if (KH_VEC_RESERVE(parts, 1, 10000) == 0)
            parts.v[parts.n++] = t;
    }
    int found = 0;
    for (size_t i = 0; i < parts.n; i++)
        found |= strcmp(parts.v[i], name) == 0;
    if (!found && KH_VEC_RESERVE(parts, 1, 10000) == 0)
        parts.v[parts.n++] = (char *)name;
    kh_qsort(parts.v, parts.n, sizeof(*parts.v), cmp_cstr);
    kh_buf b = KH_BUF_INIT(0);
    for (size_t i = 0; i < parts.n; i++)
        kh_buf_printf(&b, "%s%s", i ? ", " : "", parts.v[i]);
    free(*list);
    *list = kh_buf_detach(&b, NULL);
    free(copy);
    KH_VEC_FREE(parts);
}

static void collect_listening(kh_inventory *inv)
{
    static const struct {
        const char *file, *proto;
        int v6, tcp;
    } files[] = {{"/proc/net/tcp", "tcp", 0, 1},
                 {"/proc/net/tcp6", "tcp6", 1, 1},
                 {"/proc/net/udp", "udp", 0, 0},
                 {"/proc/net/udp6", "udp6", 1, 0}};
    owner_vec owners = {0};
    KH_VEC(sock_ent) socks = {0};
    kh_inv_passwd pw = {0};
    int loaded = 0, any = 0;
    unsigned eph_lo = 32768, eph_hi = 60999;
    char *range = kh_root_read_line(inv->rootdir, "/proc/sys/net/ipv4/ip_local_port_range");
    if (range) {
        unsigned a, b2;
        if (sscanf(range, "%u %u", &a, &b2) == 2 && a <= b2 && b2 <= 65535)
            eph_lo = a, eph_hi = b2;
        free(range);
    }
    kh_buf b = KH_BUF_INIT(0);
    for (size_t f = 0; f < KH_ARRAY_LEN(files); f++) {
        if (kh_root_read(inv->rootdir, files[f].file, 256u << 20, &b) != 0)
            continue;
        any = 1;
        size_t pos = 0, n;
        const char *line;
        kh_next_line(b.data, b.len, &pos, &n); /* header */
        while ((line = kh_next_line(b.data, b.len, &pos, &n)) != NULL) {
            char *l = kh_strndup(line, n), *save = NULL;
            char *tok[10] = {0};
            int k = 0;
            for (char *t = l ? strtok_r(l, " \t", &save) : NULL; t && k < 10; t = strtok_r(NULL, " \t", &save))
                tok[k++] = t;
            /* sl local rem st queues tr retrnsmt uid timeout inode */
            char addr[INET6_ADDRSTRLEN], raddr[INET6_ADDRSTRLEN];
            unsigned port, rport;
            if (k < 10 || parse_sockaddr(tok[1], files[f].v6, addr, sizeof(addr), &port) ||
                parse_sockaddr(tok[2], files[f].v6, raddr, sizeof(raddr), &rport)) {
                free(l);
                continue;
            }
            int keep = files[f].tcp ? strcmp(tok[3], "0A") == 0
                                    : strcmp(tok[3], "07") == 0 && rport == 0 &&
                                          (strcmp(raddr, "0.0.0.0") == 0 || strcmp(raddr, "::") == 0);
            if (!keep) {
                free(l);
                continue;
            }
            if (!loaded) {
                load_owners(inv, &owners);
                kh_inv__passwd_load(inv, &pw);
                loaded = 1;
            }
            uint64_t inode = strtoull(tok[9], NULL, 10), uid = strtoull(tok[7], NULL, 10);
            uint64_t pid = inode ? owner_of(owners.v, owners.n, inode) : 0;
            char *comm = NULL;
            if (pid) {
                char path[64];
                snprintf(path, sizeof(path), "/proc/%llu/comm", (unsigned long long)pid);
                comm = kh_root_read_line(inv->rootdir, path);
            }
            /* an unconnected UDP socket on a port the kernel picked (a DHCP or
             * NTP client's) gets a new port at every start: keyed by process */
            int ephemeral = !files[f].tcp && port >= eph_lo && port <= eph_hi;
            kh_buf key = KH_BUF_INIT(0);
            if (ephemeral)
                kh_buf_printf(&key, files[f].v6 ? "%s [%s]:ephemeral %s" : "%s %s:ephemeral %s", files[f].proto,
                              addr, comm ? comm : "?");
            else
                kh_buf_printf(&key, files[f].v6 ? "%s [%s]:%u" : "%s %s:%u", files[f].proto, addr, port);
            size_t s = 0;
            while (s < socks.n && strcmp(socks.v[s].key, key.data) != 0)
                s++;
            if (s == socks.n) {
                if (KH_VEC_RESERVE(socks, 1, 1000000)) {
                    kh_buf_dispose(&key);
                    free(comm);
                    free(l);
                    break;
                }
                sock_ent *e = &socks.v[socks.n++];
                memset(e, 0, sizeof(*e));
                e->key = kh_buf_detach(&key, NULL);
                snprintf(e->proto, sizeof(e->proto), "%s", files[f].proto);
                snprintf(e->addr, sizeof(e->addr), "%s", addr);
                e->port = port;
                e->uid = uid;
                e->ephemeral = ephemeral;
            }
            kh_buf_dispose(&key);
            if (pid) {
                char num[32];
                add_name(&socks.v[s].procs, comm ? comm : "?");
                snprintf(num, sizeof(num), "%llu", (unsigned long long)pid);
                add_name(&socks.v[s].pids, num);
            }
            free(comm);
            free(l);
        }
    }
    if (!any)
        kh_inv__warn(inv, "cannot read /proc/net/tcp: listening sockets unknown");
    kh_inv_table *t = kh_inv__table(inv, "listening", KH_INV_NETWORK);
    for (size_t s = 0; s < socks.n; s++) {
        sock_ent *e = &socks.v[s];
        kh_inv_row *r = kh_inv__row(inv, t, e->key);
        kh_inv__set(inv, r, "proto", e->proto, 0);
        kh_inv__set(inv, r, "address", e->addr, 0);
        kh_inv__set_u64(inv, r, "port", e->port, e->ephemeral ? KH_INV_FIELD_VOLATILE : 0);
        const char *u = kh_inv__passwd_name(&pw, e->uid);
        if (u)
            kh_inv__set(inv, r, "user", u, 0);
        else
            kh_inv__setf(inv, r, "user", 0, "%llu", (unsigned long long)e->uid);
        kh_inv__set(inv, r, "process", e->procs ? e->procs : "", 0);
        kh_inv__set(inv, r, "pid", e->pids ? e->pids : "", KH_INV_FIELD_VOLATILE);
        free(e->key);
        free(e->procs);
        free(e->pids);
    }
    KH_VEC_FREE(socks);
    KH_VEC_FREE(owners);
    kh_inv__passwd_free(&pw);
    kh_buf_dispose(&b);
}

void kh_inv__collect_network(kh_inventory *inv)
{
    collect_interfaces(inv);
    collect_listening(inv);
}
