/* Khiên — server/forward: automatic forwarding to a higher-level centre.
 *
 * When DIR/forward.json names a target, every incident and every malware
 * detection is queued durably (table forward_queue) and sent as a signed
 * khien-forward-1 document (docs/api.md) by a background thread, retried
 * with exponential backoff until the target answers 2xx.
 */
#ifndef KH_SERVER_FORWARD_H
#define KH_SERVER_FORWARD_H

#include <stddef.h>
#include <stdint.h>

typedef struct kh_forwarder kh_forwarder;
struct kh_server;

/** Starts the forwarding thread if DIR/forward.json enables it (*out stays
 * NULL otherwise). @return 0, KH_EFORMAT (bad forward.json; message in err), KH_EIO, KH_ENOMEM */
int kh_forwarder_start(kh_forwarder **out, struct kh_server *s, char *err, size_t errsz);
/** The signed khien-forward-1 document (a bundle envelope, *env malloc'ed)
 * for an "incident" or a "malware" finding, as the automatic queue and
 * POST /api/v1/incidents/{id}/forward both send it.
 * @return 0, KH_ENOENT (no such object), KH_ENOMEM, or the signing error */
int kh_forward_seal(struct kh_server *s, const char *kind, int64_t id, char **env, size_t *elen);
/** Stops the thread (an exchange in flight is cancelled) and frees. NULL is a no-op. */
void kh_forwarder_stop(kh_forwarder *f);

#endif
