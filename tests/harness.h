/* Khiên — the tiny in-tree unit test harness.
 *
 * A test file defines functions with KT_TEST(name) and lists them in a
 * KT_MAIN({...}) table. Each check records file:line and the failing
 * expression; the run ends with "N passed, N failed" and exit status 1 if
 * anything failed. `-s substring` runs only the matching tests.
 */
#ifndef KH_TEST_HARNESS_H
#define KH_TEST_HARNESS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct kt_case {
    const char *name;
    void (*fn)(void);
} kt_case;

extern int kt_failed_checks;
int kt_failed_checks;
static const char *kt_current;

#define KT_TEST(name) static void name(void)

#define KT_FAIL_(fmt, ...)                                                                        \
    do {                                                                                          \
        kt_failed_checks++;                                                                       \
        fprintf(stderr, "  FAIL %s (%s:%d): " fmt "\n", kt_current, __FILE__, __LINE__, __VA_ARGS__); \
    } while (0)

#define KT_CHECK(cond)                        \
    do {                                      \
        if (!(cond))                          \
            KT_FAIL_("%s", #cond);            \
    } while (0)

#define KT_EQ_INT(a, b)                                                                    \
    do {                                                                                   \
        long long kt_a = (long long)(a), kt_b = (long long)(b);                            \
        if (kt_a != kt_b)                                                                  \
            KT_FAIL_("%s == %s (%lld != %lld)", #a, #b, kt_a, kt_b);                       \
    } while (0)

#define KT_EQ_STR(a, b)                                                                    \
    do {                                                                                   \
        const char *kt_a = (a), *kt_b = (b);                                               \
        if (!kt_a || !kt_b || strcmp(kt_a, kt_b) != 0)                                     \
            KT_FAIL_("%s == %s (\"%s\" != \"%s\")", #a, #b, kt_a ? kt_a : "(null)",        \
                     kt_b ? kt_b : "(null)");                                              \
    } while (0)

static inline int kt_run(const kt_case *cases, size_t n, int argc, char **argv)
{
    const char *only = argc > 2 && strcmp(argv[1], "-s") == 0 ? argv[2] : NULL;
    int passed = 0, failed = 0;
    for (size_t i = 0; i < n; i++) {
        if (only && !strstr(cases[i].name, only))
            continue;
        int before = kt_failed_checks;
        kt_current = cases[i].name;
        cases[i].fn();
        if (kt_failed_checks == before) {
            passed++;
            printf("ok   %s\n", cases[i].name);
        } else {
            failed++;
            printf("FAIL %s\n", cases[i].name);
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : (passed ? 0 : 1);
}

#define KT_CASE(fn) {#fn, fn}
#define KT_MAIN(...)                                                        \
    int main(int argc, char **argv)                                         \
    {                                                                       \
        static const kt_case kt_cases[] = __VA_ARGS__;                      \
        return kt_run(kt_cases, sizeof(kt_cases) / sizeof(kt_cases[0]), argc, argv); \
    }

#endif
