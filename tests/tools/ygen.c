/* Khiên — test tool: files that contain the strings of YARA rules.
 *
 * ygen RULES_FILE OUTDIR [SEED] [MAX_RULES] [-d name=value]...
 *
 * Compiles the rules with libkhien, then for each rule writes OUTDIR/<n>.bin
 * holding a sample of every string of the rule (generated from the string's
 * pattern tree: literal bytes, a member of each class, a random length for
 * each gap and repetition, one alternative), separated by random filler, a
 * sample of the PE/ELF magic sometimes at offset 0. The files exercise the
 * matcher, the confirm stage and the conditions; whether a rule matches is
 * for yara and khien to decide — the differential tests compare the two.
 * Deterministic for a given seed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/ir.h"
#include "engine/yara/yara.h"
#include "khien/khien.h"
#include "util/util.h"

static uint64_t rng;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

static void filler(kh_buf *o, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        /* mostly printable, some zeros and high bytes, like real files */
        unsigned k = rnd() % 10;
        char c = k < 6 ? (char)(' ' + rnd() % 95) : k < 8 ? 0 : (char)(rnd() & 0xff);
        kh_buf_putc(o, c);
    }
}

static int sample(const struct kh_rules *r, uint32_t idx, kh_buf *o, unsigned depth)
{
    const kh_node *n = &r->nodes[idx];
    if (depth > 100 || o->len > (1u << 20))
        return -1;
    switch (n->op) {
    case KH_OP_LIT:
        return kh_buf_append(o, r->bytes + n->a, n->b);
    case KH_OP_CLASS: {
        const uint8_t *bits = r->bytes + n->a;
        unsigned cnt = 0, pick;
        for (unsigned v = 0; v < 256; v++)
            cnt += (bits[v >> 3] >> (v & 7)) & 1;
        if (!cnt)
            return -1;
        pick = rnd() % cnt;
        for (unsigned v = 0; v < 256; v++)
            if (((bits[v >> 3] >> (v & 7)) & 1) && pick-- == 0)
                return kh_buf_putc(o, (char)v);
        return -1;
    }
    case KH_OP_GAP: {
        uint32_t hi = n->b == KH_INF ? n->a + 8 : n->b;
        if (hi - n->a > 64)
            hi = n->a + 64;
        filler(o, n->a + (hi > n->a ? rnd() % (hi - n->a + 1) : 0));
        return 0;
    }
    case KH_OP_SEQ:
        for (uint32_t i = 0; i < n->b; i++)
            if (sample(r, r->kids[n->a + i], o, depth + 1))
                return -1;
        return 0;
    case KH_OP_ALT:
        return n->b ? sample(r, r->kids[n->a + rnd() % n->b], o, depth + 1) : 0;
    case KH_OP_REPEAT: {
        uint32_t hi = n->c == KH_INF ? n->b + 3 : n->c;
        if (hi - n->b > 6)
            hi = n->b + 6;
        uint32_t k = n->b + (hi > n->b ? rnd() % (hi - n->b + 1) : 0);
        for (uint32_t i = 0; i < k; i++)
            if (sample(r, n->a, o, depth + 1))
                return -1;
        return 0;
    }
    case KH_OP_ASSERT:
        return 0;
    default:
        return -1;
    }
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: ygen RULES OUTDIR [SEED] [MAX_RULES] [-d name=value]...\n");
        return 2;
    }
    rng = argc > 3 ? strtoull(argv[3], NULL, 10) * 2654435761u + 88172645463325252ull : 88172645463325252ull;
    unsigned max = argc > 4 ? (unsigned)strtoul(argv[4], NULL, 10) : 1000000;
    kh_compiler_options co = KH_COMPILER_OPTIONS_INIT;
    co.flags = KH_COMPILE_NO_BUILTIN;
    kh_compiler *c;
    kh_rules *rules;
    if (kh_compiler_create(&c, &co))
        return 2;
    for (int i = 5; i + 1 < argc; i++)
        if (strcmp(argv[i], "-d") == 0) {
            char *eq = strchr(argv[i + 1], '=');
            if (eq) {
                *eq = 0;
                kh_compiler_define(c, argv[i + 1], eq + 1);
                *eq = '=';
            }
        }
    if (kh_compiler_add_yara_file(c, argv[1], NULL) || kh_compiler_build(c, &rules)) {
        for (size_t i = 0; i < kh_compiler_diag_count(c); i++)
            fprintf(stderr, "%s:%u: %s\n", kh_compiler_diag(c, i)->file, kh_compiler_diag(c, i)->line,
                    kh_compiler_diag(c, i)->message);
        return 2;
    }
    kh_compiler_destroy(c);
    mkdir(argv[2], 0755);
    const struct kh_rules *r = rules;
    unsigned written = 0;
    for (uint32_t ri = 0; ri < r->nyrules && written < max; ri++) {
        const kh_yrule *y = &r->yrules[ri];
        if (!y->nstr)
            continue;
        kh_buf o = KH_BUF_INIT(0);
        unsigned head = rnd() % 4;
        if (head == 0)
            kh_buf_append(&o, "MZ", 2);
        else if (head == 1)
            kh_buf_append(&o, "\x7f" "ELF", 4);
        filler(&o, rnd() % 64);
        for (uint32_t si = 0; si < y->nstr; si++) {
            const kh_ystr *s = &r->ystrs[y->str + si];
            size_t mark = o.len;
            if (sample(r, r->pats[s->pat].root, &o, 0))
                o.len = mark;
            filler(&o, rnd() % 32);
        }
        char path[4096];
        snprintf(path, sizeof(path), "%s/%05u.bin", argv[2], ri);
        FILE *f = fopen(path, "wb");
        if (!f)
            return 2;
        fwrite(o.data ? o.data : "", 1, o.len, f);
        fclose(f);
        kh_buf_dispose(&o);
        written++;
    }
    kh_rules_destroy(rules);
    printf("%u files\n", written);
    return 0;
}
