/* Khiên — agent/schedule: due times of the agent's tasks and retry backoff.
 *
 * Kept free of clocks and I/O: callers pass the current time and the time
 * of the last run (persisted by the agent), so a restart does not rerun
 * every task and the tests can check day boundaries directly. Local time
 * is used for `at` because that is what an IT officer means by "02:00".
 */
#define _GNU_SOURCE
#include "agent/schedule.h"

#include <string.h>
#include <time.h>

#include "khien/error.h"
#include "util/util.h"

#define MAX_INTERVAL (366LL * 86400)
#define DAY 86400LL

int kh_sched_parse_interval(const char *s, int64_t *out)
{
    if (!s || !*s || !out)
        return KH_EFORMAT;
    size_t n = strlen(s);
    int64_t mult = 1;
    char last = s[n - 1];
    if (last < '0' || last > '9') {
        switch (last) {
        case 's': mult = 1; break;
        case 'm': mult = 60; break;
        case 'h': mult = 3600; break;
        case 'd': mult = DAY; break;
        case 'w': mult = 7 * DAY; break;
        default: return KH_EFORMAT;
        }
        n--;
    }
    uint64_t v;
    if (n == 0 || n > 12 || kh_parse_u64(s, n, &v) < 0 || v == 0)
        return KH_EFORMAT;
    if (v > (uint64_t)(MAX_INTERVAL / mult))
        return KH_EFORMAT;
    *out = (int64_t)v * mult;
    return 0;
}

int kh_sched_parse_at(const char *s, int *minute_out)
{
    if (!s || !minute_out)
        return KH_EFORMAT;
    size_t n = strlen(s);
    const char *colon = strchr(s, ':');
    if (!colon || n < 4 || n > 5)
        return KH_EFORMAT;
    uint64_t h, m;
    size_t hl = (size_t)(colon - s);
    if (hl < 1 || hl > 2 || strlen(colon + 1) != 2 || kh_parse_u64(s, hl, &h) < 0 ||
        kh_parse_u64(colon + 1, 2, &m) < 0 || h > 23 || m > 59)
        return KH_EFORMAT;
    *minute_out = (int)(h * 60 + m);
    return 0;
}

int64_t kh_sched_splay(const char *host_id, int64_t every)
{
    int64_t cap = every / 10;
    if (cap > 900)
        cap = 900;
    if (cap <= 0 || !host_id)
        return 0;
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)host_id; *p; p++)
        h = (h ^ *p) * 16777619u;
    return (int64_t)(h % (uint32_t)(cap + 1));
}

/* The first local time HH:MM strictly after t. */
static int64_t next_time_of_day(int64_t t, int minute)
{
    time_t tt = (time_t)t;
    struct tm tm;
    localtime_r(&tt, &tm);
    tm.tm_hour = minute / 60;
    tm.tm_min = minute % 60;
    tm.tm_sec = 0;
    tm.tm_isdst = -1;
    int64_t c = (int64_t)mktime(&tm);
    for (int i = 0; c <= t && i < 3; i++) { /* tomorrow (DST days are not 24 h: recompute) */
        tm.tm_mday++;
        tm.tm_hour = minute / 60;
        tm.tm_min = minute % 60;
        tm.tm_sec = 0;
        tm.tm_isdst = -1;
        c = (int64_t)mktime(&tm);
    }
    return c;
}

int64_t kh_sched_next(const kh_sched *s, int64_t last_run, int64_t now)
{
    if (s->at_minute < 0) {
        if (last_run <= 0)
            return now;
        return last_run + s->every + s->splay;
    }
    /* Fixed time of day. Never run: the next such time from now. */
    int64_t from = last_run > 0 ? last_run : now;
    if (last_run > 0 && s->every > DAY)
        from = last_run + s->every - DAY; /* every N days: skip N-1 days */
    /* The run itself happened at HH:MM+splay: look after that moment. */
    int64_t t = next_time_of_day(from - s->splay, s->at_minute) + s->splay;
    return t;
}

double kh_backoff_fail(kh_backoff *b, unsigned random_bits)
{
    if (b->failures < 64)
        b->failures++;
    double w = b->base;
    for (unsigned i = 1; i < b->failures && w < b->max; i++)
        w *= 2;
    if (w > b->max)
        w = b->max;
    double f = 0.8 + 0.4 * (double)(random_bits % 1001) / 1000.0;
    return w * f;
}

void kh_backoff_reset(kh_backoff *b)
{
    b->failures = 0;
}
