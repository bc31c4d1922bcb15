/* Khiên — server internals shared by server.c, auth.c and the api_*.c files.
 *
 * A request (kh_req) carries the connection, the server, who is calling
 * (a person with a session, or an agent identified by its certificate), the
 * parsed JSON body and the path captures of the matched route. Handlers
 * answer with the reply helpers exactly once.
 */
#ifndef KH_SERVER_INT_H
#define KH_SERVER_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "net/http_server.h"
#include "net/sign.h"
#include "server/forward.h"
#include "server/ingest.h"
#include "server/server.h"
#include "store/store.h"

#define KH_BODY_MAX_USER (1u << 20)
#define KH_BODY_MAX_AGENT (8u << 20)
#define KH_BODY_MAX_ENROLL (64u << 10)
#define KH_EVENTS_MAX 1000
#define KH_EVENT_MAX_BYTES (4u << 20) /* an inventory snapshot of a big machine is several hundred KiB */
#define KH_NAME_MAX 200
#define KH_TEXT_MAX (16u << 10)
#define KH_SESSION_IDLE (8 * 3600)
#define KH_SESSION_ABS (24 * 3600)
#define KH_LOCK_FAILS 5
#define KH_LOCK_SECONDS (15 * 60)
#define KH_MAX_ROUTES 64

/* roles as bits, for route tables */
#define R_ADMIN 1u
#define R_OFFICER 2u
#define R_POLICE 4u
#define R_AUDITOR 8u
#define R_ANY (R_ADMIN | R_OFFICER | R_POLICE | R_AUDITOR)

typedef struct kh_extra_route {
    char method[8];
    char prefix[128];
    unsigned flags;
    kh_route_fn fn;
    void *payload;
} kh_extra_route;

struct kh_server {
    char dir[1024];
    char listen[256];
    char url[300];
    unsigned threads;
    kh_store *st;
    kh_ingest *ingest; /* group commit of agents' writes (ingest.c) */
    kh_forwarder *fwd; /* automatic forwarding to a higher centre (forward.c), or NULL */
    kh_http_server *http;
    char *ca_key, *ca_cert;
    char ca_sha256[65];
    uint8_t bundle_sk[KH_SIGN_SK_BYTES];
    uint8_t bundle_pk[KH_SIGN_PK_BYTES];
    char bundle_pk_hex[2 * KH_SIGN_PK_BYTES + 1];
    kh_extra_route routes[KH_MAX_ROUTES];
    size_t nroutes;
};

struct kh_req {
    kh_http_conn *c;
    kh_server *srv;
    int replied;
    int status;
    /* the caller */
    int has_user;
    kh_user user;
    unsigned role_bit;
    char csrf[65];
    char session_id[65];
    int64_t host_id; /* agent requests */
    int64_t host_unit;
    int host_pop; /* the agent's host is tagged population-db */
    /* body and route captures */
    json_t *body;
    int64_t ids[4];
    size_t nids;
    char names[2][128];
    size_t nnames;
};

/* server.c */
void kh_reply_json(kh_req *r, int status, json_t *v);
void kh_reply_error(kh_req *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void kh_reply_nocontent(kh_req *r);
/** Reads and parses the JSON body (object); on failure replies 400/413 and returns -1. */
int kh_req_body(kh_req *r, size_t max);
/** Replies 500 with the store's message. */
void kh_reply_store_error(kh_req *r, int rc);
void kh_iso_time(char out[32], time_t t);
void kh_iso_now(char out[32]);
time_t kh_iso_parse(const char *s);
/** Pagination parameters (limit 1-500, default 50; offset >= 0). -1 (replied 400) if bad. */
int kh_req_page(kh_req *r, int64_t *limit, int64_t *offset);
/** Integer query parameter; 0 absent, 1 present, -1 (replied 400) malformed. */
int kh_req_qint(kh_req *r, const char *name, int64_t *out);
/** String query parameter (bounded); 0 absent, 1 present, -1 (replied 400) too long. */
int kh_req_qstr(kh_req *r, const char *name, char *buf, size_t size);
/** {"items", "total", "limit", "offset"} */
json_t *kh_page_json(json_t *items, int64_t total, int64_t limit, int64_t offset);

/* listing.c */
/** Ids of unit `root` (an SQL expression: an integer parameter "?2" or a column "u.id") and of every unit
 * below it, for `x IN KH_SQL_SUBTREE("?2")`; portable (SQLite, PostgreSQL). */
#define KH_SQL_SUBTREE(root)                                                                                    \
    "(WITH RECURSIVE kh_sub(id) AS (SELECT " root " UNION ALL SELECT kh_u.id FROM units kh_u JOIN kh_sub"      \
    " ON kh_u.parent_id = kh_sub.id) SELECT id FROM kh_sub)"
/** A paged listing, the shape of every list endpoint: the total from SELECT COUNT(*) FROM count_from WHERE
 * where, the page from SELECT cols FROM from WHERE where ORDER BY order LIMIT/OFFSET (limit and offset are
 * bound after the n parameters p); each row through fix (NULL: none). Replies 200 {"items", "total",
 * "limit", "offset"}, or the store error (a failed count included). */
void kh_reply_page(kh_req *r, const char *cols, const char *from, const char *count_from, const char *where,
                   const char *order, const kh_sval *p, size_t n, int64_t limit, int64_t offset,
                   void (*fix)(json_t *row));
#define KH_PAGE_MAX_PARAMS 16
/** Audit log entry (never fails the request). */
void kh_audit(kh_req *r, const char *action, const char *object, const char *detail);

/* Field helpers on r->body: each replies 400 and returns -1 on a bad value. */
int kh_field_str(kh_req *r, const char *name, int required, size_t maxlen, const char **out);
int kh_field_int(kh_req *r, const char *name, int required, int64_t lo, int64_t hi, int64_t *out, int *present);
int kh_field_bool(kh_req *r, const char *name, int *out, int *present);

/* auth.c */
/** Resolves the session cookie; 0 ok, -1 not logged in. */
int kh_auth_session(kh_req *r);
/** CSRF header check for state-changing requests; 0 ok, -1 mismatch. */
int kh_auth_csrf(kh_req *r);
/** SQL condition restricting `col` (a unit id column) to the caller's units, into buf: "1=1", or for an
 * officer `col IN KH_SQL_SUBTREE(?N)` with the officer's unit bound as parameter N = *n + 1 (stored in p[*n],
 * *n incremented; p must have room for one more). */
const char *kh_scope(kh_req *r, const char *col, char *buf, size_t size, kh_sval *p, size_t *n);
/** 1 if the caller may see/change unit u (subtree for officers). */
int kh_unit_in_scope(kh_req *r, int64_t unit_id);
/* An incident as GET /api/v1/incidents/{id} shows it (full: with findings,
 * timeline and comments), a finding as GET /api/v1/findings/{id}; no scope
 * check; NULL if there is none (api_incidents.c). */
json_t *kh_incident_json(kh_server *s, int64_t id, int full);
json_t *kh_finding_json(kh_server *s, int64_t id);
int kh_auth_first_admin(kh_server *s, char *user, size_t usz, char *password, size_t psz);
void api_login(kh_req *r);
void api_logout(kh_req *r);
void api_me(kh_req *r);
void api_me_password(kh_req *r);
void api_totp_setup(kh_req *r);
void api_totp_confirm(kh_req *r);
void api_totp_disable(kh_req *r);
void api_stats_access(kh_req *r);

/* api_org.c */
void api_units_list(kh_req *r);
void api_units_create(kh_req *r);
void api_units_get(kh_req *r);
void api_units_update(kh_req *r);
void api_units_delete(kh_req *r);
void api_hosts_list(kh_req *r);
void api_hosts_get(kh_req *r);
void api_hosts_update(kh_req *r);
void api_hosts_delete(kh_req *r);
void api_tokens_list(kh_req *r);
void api_tokens_create(kh_req *r);
void api_tokens_revoke(kh_req *r);
void api_users_list(kh_req *r);
void api_users_create(kh_req *r);
void api_users_get(kh_req *r);
void api_users_update(kh_req *r);
void api_users_reset(kh_req *r);
void api_enroll_ca(kh_req *r);
void api_enroll(kh_req *r);

/* api_agent.c */
/** Identifies the agent by its certificate; 0 ok, -1 replied 401/403. */
int kh_agent_identify(kh_req *r);
void api_agent_heartbeat(kh_req *r);
void api_agent_events(kh_req *r);
void api_agent_bundle(kh_req *r);
void api_bundles_list(kh_req *r);
void api_bundles_create(kh_req *r);
/** Stores a bundle signed with the server key (name, payload JSON). */
int kh_bundle_store(kh_server *s, const char *name, json_t *files, int64_t *version_out, char *sha_out);

/* api_incidents.c */
void api_findings_list(kh_req *r);
void api_findings_get(kh_req *r);
void api_findings_update(kh_req *r);
void api_incidents_list(kh_req *r);
void api_incidents_create(kh_req *r);
void api_incidents_get(kh_req *r);
void api_incidents_update(kh_req *r);
void api_incidents_transition(kh_req *r);
void api_incidents_comment(kh_req *r);
void api_incidents_report(kh_req *r);
void api_incidents_forward(kh_req *r);
void api_changes_list(kh_req *r);
void api_changes_get(kh_req *r);
void api_changes_transition(kh_req *r);
void api_changes_comment(kh_req *r);
/** Opens (or joins) an automatic incident for a finding; inside the caller's transaction. */
int kh_incident_auto(kh_server *s, int64_t finding_id, int64_t host_id, int64_t unit_id, const char *category,
                     const char *severity, const char *title, int personal_data);

/* api_misc.c */
void api_bulletins_list(kh_req *r);
void api_bulletins_create(kh_req *r);
void api_bulletins_ack(kh_req *r);
void api_bulletins_acks(kh_req *r);
void api_audit_log(kh_req *r);
void api_compliance(kh_req *r);
void api_settings_get(kh_req *r);
void api_settings_update(kh_req *r);

#endif
