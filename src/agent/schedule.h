/* Khiên — agent/schedule: when tasks run, and how long to wait after a failure.
 *
 * A task runs every `every` seconds, or, with `at` set, at a fixed local
 * time of day (every day, or every N days when `every` is N days or more).
 * A per-host splay (a few minutes, derived from the host id) spreads a
 * fleet's runs so that a thousand agents do not all start at 02:00:00.
 * Backoff doubles the wait after each failure up to a ceiling, with jitter,
 * and resets after a success. Pure functions of their inputs (times are
 * passed in), so they are unit-tested without sleeping.
 */
#ifndef KH_AGENT_SCHEDULE_H
#define KH_AGENT_SCHEDULE_H

#include <stdint.h>

typedef struct kh_sched {
    int64_t every;  /* seconds between runs (> 0) */
    int at_minute;  /* minute of the local day (0..1439) to run at, or -1 */
    int64_t splay;  /* seconds added to every due time (0..every/10, at most 15 min) */
} kh_sched;

/** Parses "45", "30s", "15m", "6h", "1d", "2w" into seconds (1 s .. 366 days).
 *  @return 0 or KH_EFORMAT. */
int kh_sched_parse_interval(const char *s, int64_t *out);
/** Parses "HH:MM" (24-hour) into a minute of the day. @return 0 or KH_EFORMAT. */
int kh_sched_parse_at(const char *s, int *minute_out);
/** A splay for a host: stable, in [0, min(every/10, 900)]. */
int64_t kh_sched_splay(const char *host_id, int64_t every);

/** When the task is next due, given when it last ran (0: never).
 *  Never run and no `at`: due now. With `at`: the first such time of day
 *  (plus splay) after the last run, at least `every` minus a day's slack
 *  after it for multi-day schedules. */
int64_t kh_sched_next(const kh_sched *s, int64_t last_run, int64_t now);

typedef struct kh_backoff {
    double base, max; /* seconds: first wait and ceiling */
    unsigned failures;
} kh_backoff;

#define KH_BACKOFF_INIT(base, max) {(base), (max), 0}
/** Records a failure and returns the seconds to wait before trying again:
 *  base * 2^(failures-1), capped at max, times a random factor in [0.8, 1.2]. */
double kh_backoff_fail(kh_backoff *b, unsigned random_bits);
void kh_backoff_reset(kh_backoff *b);

#endif
