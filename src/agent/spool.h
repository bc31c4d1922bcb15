/* Khiên — agent/spool: the agent's on-disk queue of events not yet delivered.
 *
 * Every event is written here before the agent tries to send it, and is
 * removed only after the centre acknowledged it, so a crash, a reboot or a
 * centre that is down for days loses nothing that fits in the bound.
 *
 * One file per event, named by a sequence number (delivery order) and a
 * priority. A file appears under its final name only once its contents are
 * on disk (written to a temporary name, fsync'ed, renamed, directory
 * fsync'ed); temporary files left by a crash are removed when the spool is
 * opened. Each file carries its length and CRC-32, so a damaged file is
 * moved aside to bad/ (and counted) instead of being sent or blocking the
 * queue. The payload is opaque bytes (the agent stores JSON).
 *
 * The queue is bounded by a number of events and a number of bytes. When a
 * new event does not fit, a high-priority event (malware found) evicts the
 * oldest low-priority ones (inventory, audit results, ...); otherwise the
 * new event is refused with KH_ELIMIT. Both are counted (kh_spool_dropped())
 * so the agent can warn and tell the centre how much was lost.
 *
 * One process at a time: kh_spool_open() takes an exclusive lock on the
 * folder. Not thread-safe: one thread uses a spool.
 */
#ifndef KH_AGENT_SPOOL_H
#define KH_AGENT_SPOOL_H

#include <stddef.h>
#include <stdint.h>

typedef struct kh_spool kh_spool;

#define KH_SPOOL_PRIO_HIGH 0 /* malware and other findings that must not be lost */
#define KH_SPOOL_PRIO_LOW 1  /* snapshots and results that a later run repeats */

#define KH_SPOOL_EVENT_MAX (16u << 20) /* one event's payload */

typedef struct kh_spool_limits {
    size_t max_events; /* 0: 100000 */
    uint64_t max_bytes; /* 0: 256 MiB (payloads and headers) */
} kh_spool_limits;

/** One queued event, loaded by kh_spool_batch(). */
typedef struct kh_spool_entry {
    uint64_t seq;
    int prio;
    char *data; /* NUL-terminated payload, malloc'ed */
    size_t len;
} kh_spool_entry;

/** Opens (creating it, mode 0700) the queue folder @p dir and locks it.
 *  Temporary files of an interrupted write are deleted; damaged event files
 *  are moved to DIR/bad. @p limits may be NULL.
 *  @return 0, KH_EINVAL, KH_EIO, KH_EACCES, KH_EUSER (locked by another
 *  process), KH_ENOMEM. The message goes to @p err. */
int kh_spool_open(kh_spool **out, const char *dir, const kh_spool_limits *limits, char *err, size_t errsz);
/** Unlocks and frees (the events stay on disk). NULL is fine. */
void kh_spool_close(kh_spool *s);

/** Appends an event durably (it is on disk when this returns 0).
 *  @param[out] seq_out its sequence number (may be NULL).
 *  @return 0, KH_ELIMIT (queue full, or the event is larger than
 *  KH_SPOOL_EVENT_MAX: nothing written), KH_EIO, KH_ENOMEM, KH_EINVAL. */
int kh_spool_put(kh_spool *s, const void *data, size_t len, int prio, uint64_t *seq_out);

/** Loads the oldest events, in order: at most @p max_n of them and about
 *  @p max_bytes of payload (at least one event when the queue is not empty).
 *  Damaged files met on the way are moved aside and skipped.
 *  @param[out] out array of entries, caller frees with kh_spool_entries_free().
 *  @return 0, KH_ENOMEM, KH_EIO. */
int kh_spool_batch(kh_spool *s, size_t max_n, size_t max_bytes, kh_spool_entry **out, size_t *n_out);
void kh_spool_entries_free(kh_spool_entry *e, size_t n);

/** Removes delivered events (unknown sequence numbers are ignored) and
 *  makes the removal durable. @return 0, KH_EIO. */
int kh_spool_ack(kh_spool *s, const uint64_t *seqs, size_t n);

size_t kh_spool_count(const kh_spool *s);
uint64_t kh_spool_bytes(const kh_spool *s);
/** Fill level in percent of whichever bound is closer (0..100). */
unsigned kh_spool_fill_percent(const kh_spool *s);
const kh_spool_limits *kh_spool_get_limits(const kh_spool *s);
/** Events refused or evicted because the queue was full, since open. */
uint64_t kh_spool_dropped(const kh_spool *s);
/** Damaged files moved aside, since open. */
uint64_t kh_spool_damaged(const kh_spool *s);
/** The last failure's message (Vietnamese / English); "" if none. */
const char *kh_spool_last_error(const kh_spool *s);

/** CRC-32 (IEEE 802.3), exposed for tests. */
uint32_t kh_spool__crc32(const void *p, size_t n);

#endif
