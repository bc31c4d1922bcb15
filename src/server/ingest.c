/* Khiên — server/ingest: group commit for the agents' heartbeats and events.
 *
 * With synchronous=FULL every commit waits for an fsync (about 10 ms on the
 * reference VM), so one transaction per request caps the centre at about a
 * hundred requests a second whatever the CPU. Here the worker threads queue
 * their jobs; whichever thread finds no group running becomes the leader:
 * it takes the queued jobs (up to GROUP_JOBS jobs and GROUP_WEIGHT events),
 * runs them in one transaction, each inside a savepoint so that one failing
 * job is undone alone, commits once, marks them done and wakes their
 * threads; a waiting thread whose job is still queued then leads the next
 * group. While one group waits for its fsync the next one fills up, so the
 * number of commits follows the disk, not the request rate, and no thread
 * sits idle as a dedicated writer would. Nothing is acknowledged before the
 * commit that holds it returned.
 */
#include "server/ingest.h"

#include <pthread.h>
#include <stdlib.h>

#include "khien/error.h"

#define GROUP_JOBS 128
#define GROUP_WEIGHT 20000

typedef struct job {
    kh_ingest_fn fn;
    void *arg;
    size_t weight;
    int rc;
    int done;
    struct job *next;
} job;

struct kh_ingest {
    kh_store *st;
    pthread_mutex_t m;
    pthread_cond_t c;
    job *head, **tail;
    int leading;
};

int kh_ingest_create(kh_ingest **out, kh_store *st)
{
    if (!out || !st)
        return KH_EINVAL;
    kh_ingest *g = calloc(1, sizeof(*g));
    if (!g)
        return KH_ENOMEM;
    g->st = st;
    pthread_mutex_init(&g->m, NULL);
    pthread_cond_init(&g->c, NULL);
    g->tail = &g->head;
    *out = g;
    return 0;
}

void kh_ingest_destroy(kh_ingest *g)
{
    if (!g)
        return;
    pthread_mutex_destroy(&g->m);
    pthread_cond_destroy(&g->c);
    free(g);
}

/* Runs a group in one transaction. */
static void run_group(kh_ingest *g, job *list, size_t n)
{
    kh_store *st = g->st;
    int rc = kh_store_begin(st);
    if (rc < 0) {
        for (job *j = list; j; j = j->next)
            j->rc = rc;
        return;
    }
    for (job *j = list; j; j = j->next) {
        if (n == 1) { /* alone: the transaction is its savepoint */
            j->rc = j->fn(j->arg);
            break;
        }
        if ((rc = kh_store_exec(st, NULL, "SAVEPOINT kh_ingest", NULL, 0)) < 0) {
            j->rc = rc;
            continue;
        }
        j->rc = j->fn(j->arg);
        if ((j->rc < 0 && kh_store_exec(st, NULL, "ROLLBACK TO SAVEPOINT kh_ingest", NULL, 0) < 0) ||
            kh_store_exec(st, NULL, "RELEASE SAVEPOINT kh_ingest", NULL, 0) < 0) {
            /* the failed job's writes cannot be taken out alone (or the
             * savepoint is gone): the whole group fails and is retried */
            rc = j->rc < 0 ? j->rc : KH_EIO;
            kh_store_rollback(st);
            for (job *k = list; k; k = k->next)
                k->rc = rc;
            return;
        }
    }
    if (n == 1 && list->rc < 0) {
        kh_store_rollback(st);
        return;
    }
    if ((rc = kh_store_commit(st)) < 0)
        for (job *j = list; j; j = j->next)
            if (j->rc >= 0)
                j->rc = rc;
}

int kh_ingest_run(kh_ingest *g, kh_ingest_fn fn, void *arg, size_t weight)
{
    if (!g || !fn)
        return KH_EINVAL;
    job me = {fn, arg, weight ? weight : 1, 0, 0, NULL};
    pthread_mutex_lock(&g->m);
    *g->tail = &me;
    g->tail = &me.next;
    while (!me.done) {
        if (g->leading) {
            pthread_cond_wait(&g->c, &g->m);
            continue;
        }
        /* lead: take the oldest jobs, up to the bounds */
        g->leading = 1;
        job *first = g->head, *last = first;
        size_t n = 1, w = first->weight;
        while (last->next && n < GROUP_JOBS && w + last->next->weight <= GROUP_WEIGHT) {
            last = last->next;
            w += last->weight;
            n++;
        }
        g->head = last->next;
        if (!g->head)
            g->tail = &g->head;
        last->next = NULL;
        pthread_mutex_unlock(&g->m);
        run_group(g, first, n);
        pthread_mutex_lock(&g->m);
        for (job *j = first; j;) {
            job *next = j->next; /* j may be gone once done is seen */
            j->done = 1;
            j = next;
        }
        g->leading = 0;
        pthread_cond_broadcast(&g->c);
    }
    pthread_mutex_unlock(&g->m);
    return me.rc;
}
