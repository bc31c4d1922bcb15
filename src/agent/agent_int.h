/* Khiên — agent internals shared by agent.c, enroll.c, state.c, bundle.c and tasks.c. */
#ifndef KH_AGENT_INT_H
#define KH_AGENT_INT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/agent.h"
#include "khien/inventory.h"
#include "khien/platform.h"
#include "net/sign.h"

#define KH_AGENT_URL_MAX 2048
#define KH_AGENT_ID_MAX 128

/* What enrollment stored (agent.json). */
typedef struct kh_agent_conf {
    char server[KH_AGENT_URL_MAX];
    char host_id[KH_AGENT_ID_MAX];
    char unit[KH_AGENT_ID_MAX];
    char hostname[256]; /* the name enrolled with (--hostname or the machine's) */
    char ca_sha256[65];
    uint8_t sign_pk[KH_SIGN_PK_BYTES];
    int has_sign_pk;
} kh_agent_conf;

/* Logging through the caller's callback. */
typedef struct kh_agent_log {
    kh_agent_log_cb cb;
    void *payload;
} kh_agent_log;
void kh_agent_logf(const kh_agent_log *l, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- state.c: files of the state folder ---- */
/* Reads a whole file of at most max bytes (NUL-terminated, caller frees).
 * 0, KH_ENOENT, KH_EIO, KH_ELIMIT, KH_ENOMEM. */
int kh_agent_read_file(const char *path, size_t max, char **out, size_t *len_out);
/* Creates the state folder (mode 0700, parents as needed) and checks it is not
 * readable by others. */
int kh_agent_state_dir(const char *dir, char *err, size_t errsz);
int kh_agent_conf_load(kh_agent_conf *c, const char *dir, char *err, size_t errsz);
int kh_agent_conf_save(const kh_agent_conf *c, const char *dir);
/* JSON helpers. */
int kh_agent_json_write(const char *path, json_t *j, unsigned mode);
json_t *kh_agent_json_read(const char *path, size_t max);
const char *kh_agent_json_str(const json_t *o, const char *key); /* NULL if absent or not a string */
/* "2026-11-26T08:30:00Z" */
void kh_agent_iso_time(char out[32], int64_t t);
/* A fresh event id (32 hex digits). */
int kh_agent_event_id(char out[33]);

/* ---- sha256.c ---- */
void kh_agent_sha256(uint8_t out[32], const void *data, size_t len);
/* Lowercase hex SHA-256 of a file of at most max_bytes. 0, KH_ENOENT, KH_EIO, KH_ELIMIT. */
int kh_agent_sha256_file(char out[65], const char *path, uint64_t max_bytes);

/* ---- bundle.c: signed bundles ---- */
/* Verifies a bundle envelope with pk and installs its files under
 * DIR/bundles/NAME/ (only changed files rewritten), keeping the envelope as
 * the last good one. A bundle that fails verification changes nothing.
 * tag: the centre's listing entry (hash or version), stored for the next
 * comparison. changed_out: number of files written or removed. */
int kh_agent_bundle_apply(const char *dir, const char *name, const char *envelope, size_t len,
                          const uint8_t pk[KH_SIGN_PK_BYTES], const char *tag, unsigned *changed_out, char *err,
                          size_t errsz);
/* Version and tag (what the centre's listing said when it was installed) of
 * the installed bundle NAME; -1 if none is installed. */
int kh_agent_bundle_current(const char *dir, const char *name, char *version, size_t vn, char *tag, size_t tn);
/* The folder holding bundle NAME's files (exists only when installed). */
int kh_agent_bundle_files_dir(char *out, size_t n, const char *dir, const char *name);

/* ---- tasks.c: what the agent runs ---- */
typedef struct kh_agent_emit {
    /* Queues an event; takes ownership of data. prio: KH_SPOOL_PRIO_*. */
    int (*fn)(void *ud, const char *type, int prio, json_t *data);
    void *ud;
} kh_agent_emit;

typedef struct kh_task_ctx {
    const char *dir;     /* state folder */
    const char *root;    /* NULL: this host */
    const kh_agent_log *log;
    const kh_agent_emit *emit;
    const volatile int *stop;
    /* set by tasks for the heartbeat */
    int64_t last_full_scan;
    int64_t signatures_time; /* newest signature file's mtime */
    uint64_t signatures;     /* signatures loaded in the last scan */
} kh_task_ctx;

int kh_task_scan(kh_task_ctx *ctx, const json_t *task);
int kh_task_audit(kh_task_ctx *ctx, const json_t *task);
int kh_task_inventory(kh_task_ctx *ctx, const json_t *task);
int kh_task_vuln(kh_task_ctx *ctx, const json_t *task);

#endif
