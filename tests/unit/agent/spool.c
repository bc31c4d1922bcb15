/* Tests for src/agent/spool.c: the agent's durable event queue. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/spool.h"
#include "harness.h"
#include "khien/error.h"

static char tmpl[256];

static const char *fresh_dir(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmpl, sizeof(tmpl), "%s/kh-spool-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpl))
        abort();
    return tmpl;
}

static void rm_rf(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
}

static size_t count_files(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (strlen(de->d_name) > strlen(suffix) &&
            strcmp(de->d_name + strlen(de->d_name) - strlen(suffix), suffix) == 0)
            n++;
    if (d)
        closedir(d);
    return n;
}

static int put_str(kh_spool *s, const char *str, int prio)
{
    return kh_spool_put(s, str, strlen(str), prio, NULL);
}

KT_TEST(crc32_known_value)
{
    KT_EQ_INT(kh_spool__crc32("123456789", 9), 0xCBF43926u);
    KT_EQ_INT(kh_spool__crc32("", 0), 0);
}

KT_TEST(order_ack_and_reopen)
{
    const char *dir = fresh_dir();
    char sub[300];
    snprintf(sub, sizeof(sub), "%s/q", dir);
    kh_spool *s = NULL;
    char err[512];
    KT_EQ_INT(kh_spool_open(&s, sub, NULL, err, sizeof(err)), 0);
    struct stat st;
    KT_EQ_INT(stat(sub, &st), 0);
    KT_EQ_INT(st.st_mode & 0777, 0700);
    uint64_t seqs[5];
    char msg[32];
    for (int i = 0; i < 5; i++) {
        snprintf(msg, sizeof(msg), "{\"n\":%d}", i);
        KT_EQ_INT(kh_spool_put(s, msg, strlen(msg), i % 2, &seqs[i]), 0);
        if (i)
            KT_CHECK(seqs[i] > seqs[i - 1]);
    }
    KT_EQ_INT(kh_spool_count(s), 5);
    kh_spool_entry *e = NULL;
    size_t n = 0;
    KT_EQ_INT(kh_spool_batch(s, 3, 1 << 20, &e, &n), 0);
    KT_EQ_INT(n, 3);
    KT_EQ_STR(e[0].data, "{\"n\":0}");
    KT_EQ_STR(e[2].data, "{\"n\":2}");
    KT_EQ_INT(e[1].prio, 1);
    /* Acknowledge out of order: the middle one first. */
    uint64_t ack = e[1].seq;
    KT_EQ_INT(kh_spool_ack(s, &ack, 1), 0);
    kh_spool_entries_free(e, n);
    KT_EQ_INT(kh_spool_count(s), 4);
    kh_spool_close(s);

    /* Reopened: same order, the numbering continues after the largest. */
    s = NULL;
    KT_EQ_INT(kh_spool_open(&s, sub, NULL, err, sizeof(err)), 0);
    KT_EQ_INT(kh_spool_count(s), 4);
    KT_EQ_INT(kh_spool_batch(s, 100, 1 << 20, &e, &n), 0);
    KT_EQ_INT(n, 4);
    KT_EQ_STR(e[0].data, "{\"n\":0}");
    KT_EQ_STR(e[1].data, "{\"n\":2}");
    KT_EQ_STR(e[3].data, "{\"n\":4}");
    uint64_t next;
    KT_EQ_INT(kh_spool_put(s, "x", 1, 0, &next), 0);
    KT_CHECK(next > seqs[4]);
    uint64_t all[5];
    for (size_t i = 0; i < n; i++)
        all[i] = e[i].seq;
    all[4] = next;
    kh_spool_entries_free(e, n);
    KT_EQ_INT(kh_spool_ack(s, all, 5), 0);
    KT_EQ_INT(kh_spool_count(s), 0);
    KT_EQ_INT(kh_spool_bytes(s), 0);
    KT_EQ_INT(count_files(sub, ".ev"), 0);
    /* Unknown sequence numbers are ignored. */
    KT_EQ_INT(kh_spool_ack(s, all, 1), 0);
    kh_spool_close(s);
    rm_rf(dir);
}

KT_TEST(batch_byte_budget)
{
    const char *dir = fresh_dir();
    kh_spool *s = NULL;
    KT_EQ_INT(kh_spool_open(&s, dir, NULL, NULL, 0), 0);
    char big[1000];
    memset(big, 'a', sizeof(big));
    for (int i = 0; i < 4; i++)
        KT_EQ_INT(kh_spool_put(s, big, sizeof(big), 0, NULL), 0);
    kh_spool_entry *e;
    size_t n;
    KT_EQ_INT(kh_spool_batch(s, 100, 2500, &e, &n), 0);
    KT_EQ_INT(n, 2);
    kh_spool_entries_free(e, n);
    /* A budget smaller than one event still gives one (or the queue would stall). */
    KT_EQ_INT(kh_spool_batch(s, 100, 10, &e, &n), 0);
    KT_EQ_INT(n, 1);
    KT_EQ_INT(e[0].len, sizeof(big));
    kh_spool_entries_free(e, n);
    kh_spool_close(s);
    rm_rf(dir);
}

KT_TEST(partial_and_foreign_files_ignored)
{
    const char *dir = fresh_dir();
    kh_spool *s = NULL;
    KT_EQ_INT(kh_spool_open(&s, dir, NULL, NULL, 0), 0);
    KT_EQ_INT(put_str(s, "first", 0), 0);
    kh_spool_close(s);
    /* What a crash in the middle of kh_spool_put() leaves behind, and a stranger. */
    char p[512];
    snprintf(p, sizeof(p), "%s/.tmp-00000000000000000002", dir);
    FILE *f = fopen(p, "w");
    fputs("KHSPOOL1 100 00000000\nhalf", f);
    fclose(f);
    snprintf(p, sizeof(p), "%s/notes.txt", dir);
    f = fopen(p, "w");
    fputs("hello", f);
    fclose(f);
    s = NULL;
    KT_EQ_INT(kh_spool_open(&s, dir, NULL, NULL, 0), 0);
    KT_EQ_INT(kh_spool_count(s), 1);
    KT_EQ_INT(count_files(dir, "0000002"), 0); /* the temporary file is gone */
    snprintf(p, sizeof(p), "%s/notes.txt", dir);
    KT_EQ_INT(access(p, F_OK), 0); /* foreign files are left alone */
    kh_spool_entry *e;
    size_t n;
    KT_EQ_INT(kh_spool_batch(s, 10, 1 << 20, &e, &n), 0);
    KT_EQ_INT(n, 1);
    KT_EQ_STR(e[0].data, "first");
    kh_spool_entries_free(e, n);
    kh_spool_close(s);
    rm_rf(dir);
}

/* Damages the payload of the event file with sequence `seq`. */
static void damage(const char *dir, uint64_t seq, int prio, int truncate_it)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%020llu-%d.ev", dir, (unsigned long long)seq, prio);
    if (truncate_it) {
        struct stat st;
        stat(p, &st);
        if (truncate(p, st.st_size - 2) != 0)
            abort();
        return;
    }
    int fd = open(p, O_RDWR);
    char c;
    off_t end = lseek(fd, -1, SEEK_END);
    if (pread(fd, &c, 1, end) != 1)
        abort();
    c ^= 0x20;
    if (pwrite(fd, &c, 1, end) != 1)
        abort();
    close(fd);
}

KT_TEST(damaged_files_moved_aside)
{
    const char *dir = fresh_dir();
    kh_spool *s = NULL;
    KT_EQ_INT(kh_spool_open(&s, dir, NULL, NULL, 0), 0);
    uint64_t q[4];
    KT_EQ_INT(kh_spool_put(s, "zero", 4, 0, &q[0]), 0);
    KT_EQ_INT(kh_spool_put(s, "one!", 4, 0, &q[1]), 0);
    KT_EQ_INT(kh_spool_put(s, "two!", 4, 1, &q[2]), 0);
    KT_EQ_INT(kh_spool_put(s, "three", 5, 0, &q[3]), 0);
    damage(dir, q[1], 0, 0); /* flipped bit */
    damage(dir, q[2], 1, 1); /* cut short */
    kh_spool_entry *e;
    size_t n;
    KT_EQ_INT(kh_spool_batch(s, 10, 1 << 20, &e, &n), 0);
    KT_EQ_INT(n, 2);
    KT_EQ_STR(e[0].data, "zero");
    KT_EQ_STR(e[1].data, "three");
    kh_spool_entries_free(e, n);
    KT_EQ_INT(kh_spool_damaged(s), 2);
    KT_EQ_INT(kh_spool_count(s), 2);
    char bad[512];
    snprintf(bad, sizeof(bad), "%s/bad", dir);
    KT_EQ_INT(count_files(bad, ".ev"), 2);
    kh_spool_close(s);
    rm_rf(dir);
}

KT_TEST(bound_refuses_and_high_priority_evicts)
{
    const char *dir = fresh_dir();
    kh_spool_limits lim = {3, 0};
    kh_spool *s = NULL;
    KT_EQ_INT(kh_spool_open(&s, dir, &lim, NULL, 0), 0);
    KT_EQ_INT(put_str(s, "low-a", KH_SPOOL_PRIO_LOW), 0);
    KT_EQ_INT(put_str(s, "high-b", KH_SPOOL_PRIO_HIGH), 0);
    KT_EQ_INT(put_str(s, "low-c", KH_SPOOL_PRIO_LOW), 0);
    KT_EQ_INT(kh_spool_fill_percent(s), 100);
    /* Full: a low-priority event is refused, with a message in both languages. */
    KT_EQ_INT(put_str(s, "low-d", KH_SPOOL_PRIO_LOW), KH_ELIMIT);
    KT_CHECK(strstr(kh_spool_last_error(s), "hàng đợi sự kiện đã đầy") != NULL);
    KT_CHECK(strstr(kh_spool_last_error(s), "event queue full") != NULL);
    KT_EQ_INT(kh_spool_dropped(s), 1);
    /* A high-priority one evicts the oldest low-priority event. */
    KT_EQ_INT(put_str(s, "high-e", KH_SPOOL_PRIO_HIGH), 0);
    KT_EQ_INT(kh_spool_dropped(s), 2);
    KT_EQ_INT(put_str(s, "high-f", KH_SPOOL_PRIO_HIGH), 0);
    /* Only high-priority events left: even those are refused now. */
    KT_EQ_INT(put_str(s, "high-g", KH_SPOOL_PRIO_HIGH), KH_ELIMIT);
    kh_spool_entry *e;
    size_t n;
    KT_EQ_INT(kh_spool_batch(s, 10, 1 << 20, &e, &n), 0);
    KT_EQ_INT(n, 3);
    KT_EQ_STR(e[0].data, "high-b");
    KT_EQ_STR(e[1].data, "high-e");
    KT_EQ_STR(e[2].data, "high-f");
    kh_spool_entries_free(e, n);
    KT_EQ_INT(count_files(dir, ".ev"), 3);
    kh_spool_close(s);

    /* The byte bound works the same way. */
    rm_rf(dir);
    dir = fresh_dir();
    kh_spool_limits lim2 = {0, 250}; /* two 80-byte events with their headers */
    KT_EQ_INT(kh_spool_open(&s, dir, &lim2, NULL, 0), 0);
    char blob[80];
    memset(blob, 'z', sizeof(blob));
    KT_EQ_INT(kh_spool_put(s, blob, sizeof(blob), KH_SPOOL_PRIO_LOW, NULL), 0);
    KT_EQ_INT(kh_spool_put(s, blob, sizeof(blob), KH_SPOOL_PRIO_LOW, NULL), 0);
    KT_EQ_INT(kh_spool_put(s, blob, sizeof(blob), KH_SPOOL_PRIO_LOW, NULL), KH_ELIMIT);
    KT_CHECK(kh_spool_bytes(s) <= 250);
    KT_EQ_INT(kh_spool_put(s, blob, sizeof(blob), KH_SPOOL_PRIO_HIGH, NULL), 0);
    KT_EQ_INT(kh_spool_count(s), 2);
    KT_CHECK(kh_spool_bytes(s) <= 250);
    kh_spool_close(s);
    rm_rf(dir);
}

KT_TEST(too_large_event_refused)
{
    const char *dir = fresh_dir();
    kh_spool *s = NULL;
    KT_EQ_INT(kh_spool_open(&s, dir, NULL, NULL, 0), 0);
    size_t n = KH_SPOOL_EVENT_MAX + 1;
    char *big = calloc(1, n);
    KT_EQ_INT(kh_spool_put(s, big, n, 0, NULL), KH_ELIMIT);
    KT_EQ_INT(kh_spool_count(s), 0);
    free(big);
    KT_EQ_INT(kh_spool_put(s, NULL, 0, 0, NULL), 0); /* empty is fine */
    KT_EQ_INT(kh_spool_put(s, "x", 1, 7, NULL), KH_EINVAL);
    kh_spool_close(s);
    rm_rf(dir);
}

KT_TEST(one_process_at_a_time)
{
    const char *dir = fresh_dir();
    kh_spool *a = NULL, *b = NULL;
    char err[512] = "";
    KT_EQ_INT(kh_spool_open(&a, dir, NULL, NULL, 0), 0);
    pid_t pid = fork();
    if (pid == 0) /* flock locks are per open file: another process is refused */
        _exit(kh_spool_open(&b, dir, NULL, err, sizeof(err)) == KH_EUSER && strstr(err, "another agent") ? 0 : 1);
    int st;
    waitpid(pid, &st, 0);
    KT_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    kh_spool_close(a);
    KT_EQ_INT(kh_spool_open(&b, dir, NULL, NULL, 0), 0);
    kh_spool_close(b);
    rm_rf(dir);
}

/* A writer killed with SIGKILL at random moments: whatever is on disk is
 * complete and in order, and nothing acknowledged comes back. */
KT_TEST(killed_writer_leaves_a_valid_queue)
{
    const char *dir = fresh_dir();
    srand((unsigned)time(NULL));
    uint64_t last_seen = 0;
    for (int round = 0; round < 5; round++) {
        pid_t pid = fork();
        if (pid == 0) {
            kh_spool *s = NULL;
            if (kh_spool_open(&s, dir, NULL, NULL, 0) != 0)
                _exit(3);
            char msg[4096];
            for (unsigned i = 0;; i++) {
                int len = snprintf(msg, sizeof(msg), "{\"round\":%d,\"i\":%u,\"pad\":\"", round, i);
                memset(msg + len, 'p', 1000 + i % 2000);
                len += 1000 + i % 2000;
                len += snprintf(msg + len, sizeof(msg) - (size_t)len, "\"}");
                kh_spool_put(s, msg, (size_t)len, (int)(i % 2), NULL);
                if (i % 3 == 0) { /* acknowledge the oldest now and then */
                    kh_spool_entry *e;
                    size_t n;
                    if (kh_spool_batch(s, 1, 1 << 20, &e, &n) == 0 && n) {
                        uint64_t q = e[0].seq;
                        kh_spool_ack(s, &q, 1);
                        kh_spool_entries_free(e, n);
                    }
                }
            }
        }
        struct timespec ts = {0, (long)(20 + rand() % 60) * 1000000L};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int st;
        waitpid(pid, &st, 0);
        KT_CHECK(WIFSIGNALED(st));
        kh_spool *s = NULL;
        KT_EQ_INT(kh_spool_open(&s, dir, NULL, NULL, 0), 0);
        kh_spool_entry *e;
        size_t n;
        KT_EQ_INT(kh_spool_batch(s, 1000000, (size_t)1 << 30, &e, &n), 0);
        KT_EQ_INT(n, kh_spool_count(s));
        KT_EQ_INT(kh_spool_damaged(s), 0);
        for (size_t i = 0; i < n; i++) {
            KT_CHECK(e[i].len > 0 && e[i].data[0] == '{' && e[i].data[e[i].len - 1] == '}');
            KT_CHECK(e[i].seq > (i ? e[i - 1].seq : 0));
        }
        if (n)
            KT_CHECK(e[n - 1].seq >= last_seen);
        if (n)
            last_seen = e[n - 1].seq;
        kh_spool_entries_free(e, n);
        kh_spool_close(s);
    }
    rm_rf(dir);
}

KT_MAIN({
    KT_CASE(crc32_known_value),
    KT_CASE(order_ack_and_reopen),
    KT_CASE(batch_byte_budget),
    KT_CASE(partial_and_foreign_files_ignored),
    KT_CASE(damaged_files_moved_aside),
    KT_CASE(bound_refuses_and_high_priority_evicts),
    KT_CASE(too_large_event_refused),
    KT_CASE(one_process_at_a_time),
    KT_CASE(killed_writer_leaves_a_valid_queue),
})
