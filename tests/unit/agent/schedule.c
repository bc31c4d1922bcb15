/* Tests for src/agent/schedule.c: intervals, times of day, splay, backoff. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <time.h>

#include "agent/schedule.h"
#include "harness.h"
#include "khien/error.h"

KT_TEST(intervals)
{
    int64_t v = 0;
    KT_EQ_INT(kh_sched_parse_interval("45", &v), 0);
    KT_EQ_INT(v, 45);
    KT_EQ_INT(kh_sched_parse_interval("30s", &v), 0);
    KT_EQ_INT(v, 30);
    KT_EQ_INT(kh_sched_parse_interval("15m", &v), 0);
    KT_EQ_INT(v, 900);
    KT_EQ_INT(kh_sched_parse_interval("6h", &v), 0);
    KT_EQ_INT(v, 21600);
    KT_EQ_INT(kh_sched_parse_interval("1d", &v), 0);
    KT_EQ_INT(v, 86400);
    KT_EQ_INT(kh_sched_parse_interval("2w", &v), 0);
    KT_EQ_INT(v, 14 * 86400);
    const char *bad[] = {"", "0", "h", "5x", "-5", "1.5h", "999999999999999", "400d", "5 m"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        KT_EQ_INT(kh_sched_parse_interval(bad[i], &v), KH_EFORMAT);
}

KT_TEST(times_of_day)
{
    int m = -1;
    KT_EQ_INT(kh_sched_parse_at("02:30", &m), 0);
    KT_EQ_INT(m, 150);
    KT_EQ_INT(kh_sched_parse_at("0:05", &m), 0);
    KT_EQ_INT(m, 5);
    KT_EQ_INT(kh_sched_parse_at("23:59", &m), 0);
    KT_EQ_INT(m, 1439);
    const char *bad[] = {"24:00", "12:60", "12", "12:5", "1230", "a1:00", "12:00:00", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        KT_EQ_INT(kh_sched_parse_at(bad[i], &m), KH_EFORMAT);
}

KT_TEST(splay_is_stable_and_bounded)
{
    int64_t a = kh_sched_splay("host-1", 86400), b = kh_sched_splay("host-1", 86400);
    KT_EQ_INT(a, b);
    KT_CHECK(a >= 0 && a <= 900);
    KT_CHECK(kh_sched_splay("host-1", 60) <= 6);
    KT_EQ_INT(kh_sched_splay("host-1", 5), 0);
    int differ = 0;
    for (int i = 0; i < 20; i++) {
        char id[32];
        snprintf(id, sizeof(id), "host-%d", i);
        differ |= kh_sched_splay(id, 86400) != a;
    }
    KT_CHECK(differ);
}

KT_TEST(interval_schedule)
{
    kh_sched s = {3600, -1, 10};
    KT_EQ_INT(kh_sched_next(&s, 0, 5000), 5000);          /* never ran: now */
    KT_EQ_INT(kh_sched_next(&s, 1000, 5000), 1000 + 3610); /* last + every + splay */
}

KT_TEST(daily_schedule)
{
    setenv("TZ", "UTC", 1);
    tzset();
    const int64_t day0 = 1767225600; /* 2026-01-01 00:00:00 UTC */
    kh_sched s = {86400, 150, 60};   /* 02:30, splay one minute */
    /* Never ran, 10:00: tomorrow 02:31. */
    KT_EQ_INT(kh_sched_next(&s, 0, day0 + 10 * 3600), day0 + 86400 + 150 * 60 + 60);
    /* Never ran, 01:00: today 02:31. */
    KT_EQ_INT(kh_sched_next(&s, 0, day0 + 3600), day0 + 150 * 60 + 60);
    /* Ran today at 02:31: tomorrow 02:31. */
    int64_t ran = day0 + 150 * 60 + 60;
    KT_EQ_INT(kh_sched_next(&s, ran, ran + 5), ran + 86400);
    /* Ran three days ago (agent was off): due already (catch up). */
    KT_CHECK(kh_sched_next(&s, ran - 3 * 86400, ran + 3600) <= ran + 3600);
    /* Every two days at 02:30. */
    kh_sched s2 = {2 * 86400, 150, 0};
    KT_EQ_INT(kh_sched_next(&s2, day0 + 150 * 60, day0 + 150 * 60 + 1), day0 + 2 * 86400 + 150 * 60);
}

KT_TEST(backoff_grows_and_resets)
{
    kh_backoff b = KH_BACKOFF_INIT(5, 600);
    double w1 = kh_backoff_fail(&b, 500); /* factor 1.0 */
    double w2 = kh_backoff_fail(&b, 500);
    double w3 = kh_backoff_fail(&b, 500);
    KT_CHECK(w1 > 4.99 && w1 < 5.01);
    KT_CHECK(w2 > 9.99 && w2 < 10.01);
    KT_CHECK(w3 > 19.99 && w3 < 20.01);
    for (int i = 0; i < 100; i++)
        w3 = kh_backoff_fail(&b, (unsigned)i * 7919u);
    KT_CHECK(w3 <= 600 * 1.2 + 0.01 && w3 >= 600 * 0.8 - 0.01);
    kh_backoff_reset(&b);
    KT_CHECK(kh_backoff_fail(&b, 0) <= 5 * 0.8 + 0.01);
}

KT_MAIN({
    KT_CASE(intervals),
    KT_CASE(times_of_day),
    KT_CASE(splay_is_stable_and_bounded),
    KT_CASE(interval_schedule),
    KT_CASE(daily_schedule),
    KT_CASE(backoff_grows_and_resets),
})
