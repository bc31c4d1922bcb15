/* Khiên — engine: evaluating YARA rules over one scanned object (internal). */
#ifndef KH_ENGINE_EXEC_H
#define KH_ENGINE_EXEC_H

#include "engine/ir.h"
#include "khien/scan.h"

typedef struct kh_yscan kh_yscan;

/* Flags of kh_yscan_run. */
#define KH_YRUN_STRINGS 0x1u  /* fill the matched strings of each matching rule */
#define KH_YRUN_ALL 0x2u      /* also report rules that did not match (yara -n) */
#define KH_YRUN_FAST 0x4u     /* at most one match per string in reports (yara -f) */

/* Called for each non-private rule, in rule order. Return nonzero to stop. */
typedef int (*kh_yrule_cb)(void *ud, uint32_t rule, int matched, const kh_rule_info *info);
/* console.log output. */
typedef void (*kh_ylog_cb)(void *ud, const char *msg, size_t n);

int kh_yscan_create(kh_yscan **out, const struct kh_rules *r);
void kh_yscan_destroy(kh_yscan *ys);

/* Overrides the value of an external variable for later runs (yara -d at
 * scan time). Returns KH_ENOTFOUND if the rules declare no such variable. */
int kh_yscan_define(kh_yscan *ys, const char *name, const char *value);

/* Starts an object: forgets the previous object's reports. */
void kh_yscan_begin(kh_yscan *ys, const uint8_t *data, size_t len);
/* The matcher reported atom `atom` (its index among the set's atoms) ending at `end`. */
void kh_yscan_report(kh_yscan *ys, uint32_t atom, uint64_t end);
/* The matcher found the whole pattern of string si (strings without atoms). */
void kh_yscan_report_string(kh_yscan *ys, uint32_t si);
/* Sets the data once it is available (streamed files are mapped after the matcher ran). */
void kh_yscan_set_data(kh_yscan *ys, const uint8_t *data, size_t len);

/* Evaluates every rule on the object given to kh_yscan_begin/set_data.
 * deadline: monotonic time after which evaluation stops with KH_ETIMEOUT
 * (0: none). Returns 0, KH_EUSER, KH_ETIMEOUT, KH_ENOMEM. */
int kh_yscan_run(kh_yscan *ys, unsigned flags, double deadline, kh_yrule_cb cb, kh_ylog_cb log, void *ud);

/* Static analysis used by the compiler: 1 if the condition cannot be true
 * when none of the rule's strings occurs. */
int kh_ycond_needs_string(const struct kh_rules *r, uint32_t cond);

/* What a rule's gate (the conjuncts of its top-level `and` chain that
 * kh_yscan_run checks first) says of the objects it can be true for.
 * *mz_only: 1 if it is false for every object that does not start with
 * "MZ" (a conjunct uint16(0) == 0x5a4d): its strings need not be searched
 * in other objects (kh_mpm_lit.mz_only). *max_filesize: the largest object
 * it can be true for (a `filesize < N` conjunct), UINT64_MAX when there is
 * no bound (kh_mpm_lit.max_len). */
void kh_yrule_bounds(const struct kh_yexpr *ex, uint32_t nex, const struct kh_yrule *rule, int *mz_only,
                     uint64_t *max_filesize);

#endif
