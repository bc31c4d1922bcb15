/* Khiên — server/ingest: group commit of what agents send.
 *
 * kh_ingest_run() runs a job (a function that writes to the store) inside a
 * transaction shared with the jobs other worker threads submitted at the
 * same time, and returns once that transaction is committed: one fsync for
 * many requests instead of one each, with the durability of a commit kept
 * (the caller acknowledges only after kh_ingest_run() returned 0).
 */
#ifndef KH_SERVER_INGEST_H
#define KH_SERVER_INGEST_H

#include <stddef.h>

#include "store/store.h"

typedef struct kh_ingest kh_ingest;

/** The job: writes with kh_store_exec() etc. (never begin/commit); 0 or <0
 * (its writes are then undone, the other jobs of the group are kept). */
typedef int (*kh_ingest_fn)(void *arg);

int kh_ingest_create(kh_ingest **out, kh_store *st);
void kh_ingest_destroy(kh_ingest *g);
/** Runs fn(arg) in a group transaction; weight (e.g. its number of events)
 * bounds the size of a group. @return fn's result once committed, or the
 * store's error (KH_EIO...) when the group could not be committed. */
int kh_ingest_run(kh_ingest *g, kh_ingest_fn fn, void *arg, size_t weight);

#endif
