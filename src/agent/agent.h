/* Khiên — agent: enrollment with the centre and the reporting loop.
 *
 * What `khien agent` does, as functions the command-line front end calls:
 * kh_agent_enroll() pins the centre's CA, sends a key's certificate request
 * with an enrollment token and stores what comes back; kh_agent_run()
 * heartbeats, runs the tasks of the policy when due, queues their results
 * durably (agent/spool.h) and delivers them. Messages for people go through
 * the log callback (Vietnamese first, English after a " / "); this module
 * never prints and never exits.
 */
#ifndef KH_AGENT_AGENT_H
#define KH_AGENT_AGENT_H

#include <stddef.h>
#include <stdint.h>

#define KH_AGENT_DEFAULT_DIR "/var/lib/khien/agent"
#define KH_AGENT_LOCAL_POLICY "/etc/khien/agent-policy.json"

enum { KH_LOG_ERROR = 0, KH_LOG_WARN = 1, KH_LOG_INFO = 2, KH_LOG_DEBUG = 3 };
typedef void (*kh_agent_log_cb)(int level, const char *msg, void *payload);

typedef struct kh_agent_enroll_options {
    const char *server;    /**< https://host:port */
    const char *token;
    const char *ca_sha256; /**< fingerprint of the centre's CA certificate */
    const char *dir;       /**< state folder; NULL: KH_AGENT_DEFAULT_DIR */
    const char *hostname;  /**< NULL: this machine's name */
    int force;             /**< replace an existing enrollment */
    kh_agent_log_cb log;
    void *payload;
} kh_agent_enroll_options;

/** Enrolls this machine. On failure a message goes through the log callback.
 *  @return 0, KH_EACCES (fingerprint mismatch, token refused), KH_EIO
 *  (centre unreachable), KH_EFORMAT (bad answer), KH_EINVAL (bad options,
 *  already enrolled without force), KH_ENOMEM. */
int kh_agent_enroll(const kh_agent_enroll_options *o);

typedef struct kh_agent_run_options {
    const char *dir;          /**< NULL: KH_AGENT_DEFAULT_DIR */
    int once;                 /**< run every task once, deliver, return */
    const char *policy_file;  /**< local policy; NULL: KH_AGENT_LOCAL_POLICY if present */
    const char *root;         /**< inspect a system under this folder (tests); NULL: this host */
    const volatile int *stop; /**< set non-zero (signal handler) to stop the loop */
    size_t max_events;        /**< queue bound; 0: default */
    uint64_t max_bytes;       /**< queue bound; 0: default */
    kh_agent_log_cb log;
    void *payload;
} kh_agent_run_options;

/** Runs the agent. With once: returns after one round.
 *  @return 0 (all delivered), 1 (events left in the queue: centre not
 *  reachable or refusing), or a negative KH_E* code (not enrolled, queue
 *  folder locked by another agent, ...). */
int kh_agent_run(const kh_agent_run_options *o);

/** Prints-free summary of the state for `khien agent status` through log. @return 0 or KH_E*. */
int kh_agent_status(const char *dir, kh_agent_log_cb log, void *payload);

#endif
