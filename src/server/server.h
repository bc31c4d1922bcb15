/* Khiên — server: `khien server`, the centre (HTTPS REST API, auth, storage).
 *
 * kh_server_create() prepares the data folder (first start: folder 0700,
 * SQLite database DATA_DIR/khien.db or the PostgreSQL database named by
 * opts->database, private CA, server certificate, Ed25519 bundle key and
 * the first administrator, whose one-time password is returned once in
 * kh_server_first_start); kh_server_start() listens; kh_server_destroy()
 * stops and frees. docs/api.md documents every endpoint.
 *
 * Extra routes (the web UI): before kh_server_start(), call
 *   kh_server_route_add(srv, "GET", "/ui/", KH_ROUTE_PUBLIC, handler, payload);
 * A request whose path starts with the prefix (longest prefix wins; "/" is
 * the catch-all) and whose method matches (NULL = any) goes to the handler,
 * which answers through kh_req_reply() (or kh_req_json()/kh_req_error()).
 * /api/ paths always belong to the REST API. With KH_ROUTE_SESSION the
 * handler runs only for a logged-in person (401 otherwise) and
 * kh_req_user() tells who; state-changing methods also need the CSRF
 * header. The web UI registers its routes in kh_ui_register() (called by
 * kh_server_create(), defined in src/server/ui_web.c).
 */
#ifndef KH_SERVER_SERVER_H
#define KH_SERVER_SERVER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct kh_server kh_server;
typedef struct kh_req kh_req;

typedef struct kh_server_options {
    unsigned version;     /**< KH_SERVER_OPTIONS_VERSION */
    const char *data_dir; /**< created 0700 on first start */
    const char *listen;   /**< "127.0.0.1:8443" when NULL */
    unsigned threads;     /**< HTTP worker threads; 0: 8 */
    const char *public_url; /**< URL printed and put in reports; NULL: https://LISTEN */
    const char *database;   /**< NULL: SQLite DATA_DIR/khien.db; or postgresql://user[:password]@host[:port]/db[?...] */
} kh_server_options;
#define KH_SERVER_OPTIONS_VERSION 1
#define KH_SERVER_OPTIONS_INIT {KH_SERVER_OPTIONS_VERSION, NULL, NULL, 0, NULL, NULL}

/** What a first start created (all fields empty on a restart). */
typedef struct kh_server_first_start {
    int created;              /**< 1 if this start created the data folder */
    char admin_user[64];
    char admin_password[64];  /**< one-time password; shown once, never stored */
} kh_server_first_start;

/** Opens or initialises the data folder. Messages (Vietnamese / English) in err.
 * @return 0, KH_EINVAL, KH_EIO, KH_EACCES (folder not private), KH_ENOMEM */
int kh_server_create(kh_server **out, const kh_server_options *opts, kh_server_first_start *first, char *err,
                     size_t errsz);
/** Starts listening. @return 0, KH_EIO (cannot bind; message in err) */
int kh_server_start(kh_server *s, char *err, size_t errsz);
/** Stops listening and frees. NULL is a no-op. */
void kh_server_destroy(kh_server *s);
/** SHA-256 of the CA certificate (64 hex digits) and the server's URL. */
const char *kh_server_ca_sha256(const kh_server *s);
const char *kh_server_url(const kh_server *s);

/* ---- extra routes ---------------------------------------------------- */
enum { KH_ROUTE_PUBLIC = 0, KH_ROUTE_SESSION = 1 };
typedef void (*kh_route_fn)(kh_req *r, void *payload);
/** @return 0, KH_EINVAL (bad prefix / /api/ prefix), KH_ELIMIT (more than 64 routes) */
int kh_server_route_add(kh_server *s, const char *method, const char *prefix, unsigned flags, kh_route_fn fn,
                        void *payload);
/** Implemented by the web UI (src/server/ui_web.c). */
int kh_ui_register(kh_server *s);

/* ---- request accessors for route handlers ------------------------------ */
typedef struct kh_user {
    int64_t id;
    char username[64];
    char role[16]; /* admin, officer, police, auditor */
    int64_t unit_id;
} kh_user;

const char *kh_req_method(const kh_req *r);
const char *kh_req_path(const kh_req *r);
const char *kh_req_header(const kh_req *r, const char *name);
/** Decoded query parameter; @return length, -1 absent, -2 too long */
int kh_req_query(const kh_req *r, const char *name, char *buf, size_t size);
/** The logged-in person, or NULL. */
const kh_user *kh_req_user(const kh_req *r);
/** Sends the answer. headers: NULL or "Name: value\r\n" lines. */
void kh_req_reply(kh_req *r, int status, const char *content_type, const char *headers, const void *body, size_t len);
/** Sends a JSON value (takes the reference). */
void kh_req_json(kh_req *r, int status, json_t *v);
/** Sends {"error":{"code","message"}}. */
void kh_req_error(kh_req *r, int status, const char *code, const char *message);

#endif
