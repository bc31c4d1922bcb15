/* Tests of src/engine/modules/console.c: each overload of log and hex,
 * called through the declaration with a log hook that records messages.
 * Expected messages are those yara 4.2.3 prints for the same calls (run
 * with `yara` on a rule such as `condition: console.log("ab\x00cd", 5)`):
 * the message argument stops at its first NUL and is not escaped, a logged
 * string has every byte outside 0x20-0x7e written as \xNN, floats use %f,
 * hex uses 0x%llx. Every call returns the integer 1, hook or no hook. */
#include <stdint.h>

#include "engine/modules/module.h"
#include "harness.h"

extern const kh_ymodule kh_ymod_console;

static char logged[8][256];
static int nlogged;

static void on_log(void *scan, const char *msg, size_t n)
{
    KT_CHECK(scan == (void *)&nlogged);
    KT_EQ_INT(strlen(msg), n); /* NUL-terminated, and n is its length */
    if (nlogged < 8)
        snprintf(logged[nlogged++], sizeof(logged[0]), "%.*s", (int)n, msg);
}

#define VI(x) {KH_YT_INT, 1, {.i = (x)}}
#define VF(x) {KH_YT_FLOAT, 1, {.f = (x)}}
#define VS(str, len) {KH_YT_STR, 1, {.s = {(const uint8_t *)(str), (len)}}}

/* Calls console.<fn>(args) with signature `sig`; returns the last message or "(none)". */
static const char *call(const char *fn, const char *sig, const kh_yval *args, int hook)
{
    kh_yarena *a = kh_yarena_create();
    kh_ycall c = {NULL, NULL, 0, a, &nlogged, NULL, hook ? on_log : NULL};
    kh_yval out;
    const kh_yfunc *f = NULL;
    static char last[256];
    for (const kh_ymember *m = kh_ymod_console.decl.members; m->name; m++)
        if (strcmp(m->name, fn) == 0)
            for (const kh_yfunc *k = m->funcs; k->fn; k++)
                if (strcmp(k->args, sig) == 0)
                    f = k;
    KT_CHECK(f != NULL);
    nlogged = 0;
    memset(&out, 0, sizeof(out));
    snprintf(last, sizeof(last), "(none)");
    if (f) {
        KT_EQ_INT(f->fn(&c, args, &out), 0);
        KT_CHECK(out.defined && out.type == KH_YT_INT && out.v.i == 1);
        KT_EQ_INT(f->ret, KH_YT_INT);
        KT_EQ_INT(nlogged, hook ? 1 : 0);
        if (nlogged)
            snprintf(last, sizeof(last), "%s", logged[0]);
    }
    kh_yarena_destroy(a);
    return last;
}

KT_TEST(test_engine_modules_console__log)
{
    kh_yval s[] = {VS("a\tb\xe9\0z", 6)};
    KT_EQ_STR(call("log", "s", s, 1), "a\\x09b\\xe9\\x00z");
    kh_yval ss[] = {VS("p\x01q\0r", 5), VS("a\tb\xe9\0z", 6)};
    KT_EQ_STR(call("log", "ss", ss, 1), "p\x01q" "a\\x09b\\xe9\\x00z");
    kh_yval si[] = {VS("ab\0cd", 5), VI(5)};
    KT_EQ_STR(call("log", "si", si, 1), "ab5");
    kh_yval i[] = {VI(-5)};
    KT_EQ_STR(call("log", "i", i, 1), "-5");
    kh_yval imin[] = {VI(INT64_MIN)};
    KT_EQ_STR(call("log", "i", imin, 1), "-9223372036854775808");
    kh_yval f[] = {VF(1.5)};
    KT_EQ_STR(call("log", "f", f, 1), "1.500000");
    kh_yval sf[] = {VS("f:", 2), VF(-2.25)};
    KT_EQ_STR(call("log", "sf", sf, 1), "f:-2.250000");
    kh_yval empty[] = {VS("", 0)};
    KT_EQ_STR(call("log", "s", empty, 1), "");
    kh_yval nul[] = {VS(NULL, 0), VI(3)};
    KT_EQ_STR(call("log", "si", nul, 1), "3");
}

KT_TEST(test_engine_modules_console__hex)
{
    kh_yval i[] = {VI(255)};
    KT_EQ_STR(call("hex", "i", i, 1), "0xff");
    kh_yval si[] = {VS("ab\0cd", 5), VI(-1)};
    KT_EQ_STR(call("hex", "si", si, 1), "ab0xffffffffffffffff");
    kh_yval zero[] = {VS("z=", 2), VI(0)};
    KT_EQ_STR(call("hex", "si", zero, 1), "z=0x0");
}

KT_TEST(test_engine_modules_console__no_hook)
{
    kh_yval s[] = {VS("x", 1)};
    KT_EQ_STR(call("log", "s", s, 0), "(none)");
    kh_yval i[] = {VI(1)};
    KT_EQ_STR(call("hex", "i", i, 0), "(none)");
}

KT_TEST(test_engine_modules_console__long_string)
{
    static uint8_t big[10000];
    memset(big, 0x01, sizeof(big));
    kh_yval s[] = {VS(big, sizeof(big))};
    /* 40000 bytes of \x01 escapes; the hook gets all of them (we keep 255). */
    const char *m = call("log", "s", s, 1);
    KT_EQ_INT(strncmp(m, "\\x01\\x01", 8), 0);
}

KT_MAIN({
    KT_CASE(test_engine_modules_console__log),
    KT_CASE(test_engine_modules_console__hex),
    KT_CASE(test_engine_modules_console__no_hook),
    KT_CASE(test_engine_modules_console__long_string),
})
