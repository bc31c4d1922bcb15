/* Khiên — engine: the priority-ordered NFA matcher (YARA match lengths). */
#ifndef KH_ENGINE_PIKE_H
#define KH_ENGINE_PIKE_H

#include "engine/ir.h"

typedef struct kh_pike_prog kh_pike_prog;

/* Compiles the tree at `root` of rules `r` into a program.
 * Returns 0, KH_ELIMIT (too large), KH_ENOMEM. */
int kh_pike_compile(const struct kh_rules *r, uint32_t root, kh_pike_prog **out);
void kh_pike_free(kh_pike_prog *p);

/* Per-thread scratch for running programs. */
typedef struct kh_pike_vm kh_pike_vm;
int kh_pike_vm_create(kh_pike_vm **out);
void kh_pike_vm_destroy(kh_pike_vm *vm);

/* Matches the program anchored at `start` in buf[0, len), reading at most
 * `limit` bytes. Returns the match length (>= 0) with yara's priorities
 * (first alternative, greedy/lazy repetition), or -1 for no match, or
 * KH_ENOMEM (< -1). */
int64_t kh_pike_match(kh_pike_vm *vm, const kh_pike_prog *p, const uint8_t *buf, size_t len, size_t start,
                      size_t limit);

/* Does assertion `kind` (KH_AS_*) hold at pos? `end` is the scan window's end. */
int kh_pike_assert(unsigned kind, const uint8_t *buf, size_t len, size_t end, size_t pos);

/* The set of bytes a match can start with (32-byte bitmap); returns 0 if
 * the program can match the empty string (every position is a candidate). */
int kh_pike_first(const kh_pike_prog *p, uint8_t bits[32]);

#endif
