/* Tests of src/audit/policy.c: loading SCA policies, and the errors a
 * malformed one gets (file, line, column and what is wrong). */
#include "kt_audit.h"

#define HEAD "policy:\n  id: t\n  name: T\n"

/* Loads text that must fail; checks the code, the line and a piece of the message. */
static void expect_error(const char *text, int want_rc, unsigned want_line, const char *want_msg)
{
    kh_policy *p = NULL;
    kh_policy_error e;
    int rc = kh_policy_load_mem(&p, "bad.yml", text, strlen(text), 0, &e);
    if (rc != want_rc)
        KT_FAIL_("rc %s, want %s (message: %s)", kh_err_name(rc), kh_err_name(want_rc), e.message);
    if (want_line && e.line != want_line)
        KT_FAIL_("line %u, want %u (message: %s)", e.line, want_line, e.message);
    if (want_msg && !strstr(e.message, want_msg))
        KT_FAIL_("message \"%s\" lacks \"%s\"", e.message, want_msg);
    KT_EQ_STR(e.file, "bad.yml");
    KT_CHECK(p == NULL);
    kh_policy_destroy(p);
}

KT_TEST(loads_a_full_policy)
{
    const char *y = "policy:\n"
                    "  id: \"cis_test\"\n"
                    "  file: \"cis_test.yml\"\n"
                    "  name: \"CIS test\"\n"
                    "  description: \"d\"\n"
                    "  references:\n    - https://example.org\n"
                    "requirements:\n"
                    "  title: \"Linux\"\n"
                    "  description: \"r\"\n"
                    "  condition: any\n"
                    "  rules:\n    - 'f:/etc/passwd'\n"
                    "variables:\n"
                    "  $sshd_file: /etc/ssh/sshd_config\n"
                    "  $list:\n    - /a\n    - /b\n"
                    "checks:\n"
                    "  - id: 1000\n"
                    "    title: \"t1\"\n"
                    "    description: \"d1\"\n"
                    "    rationale: \"r1\"\n"
                    "    remediation: \"m1\"\n"
                    "    impact: \"ignored key\"\n"
                    "    compliance:\n      - cis: [\"5.2.1\"]\n      - pci_dss: [\"2.2\", \"8.1\"]\n"
                    "    references:\n      - https://example.org/1\n"
                    "    condition: all\n"
                    "    rules:\n"
                    "      - 'f:$sshd_file -> r:^\\s*PermitRootLogin\\s+no'\n"
                    "      - 'not f:$list'\n"
                    "      - 'c:sh -c \"echo $HOME\" -> r:^/'\n"
                    "      - 'd:/etc -> r:^passwd$ -> r:^root:'\n"
                    "      - 'p:sshd'\n"
                    "      - 'r:HKEY_LOCAL_MACHINE\\Software\\x -> y -> z'\n"
                    "      - 'f:/etc/login.defs -> n:^PASS_MAX_DAYS\\s+(\\d+) compare <= 90 && !r:^#'\n"
                    "  - id: 1001\n"
                    "    title: \"t2\"\n"
                    "    regex_type: pcre2\n"
                    "    condition: none\n"
                    "    rules:\n      - 'f:/etc/x -> r:(?=a)'\n";
    kh_policy *p = kt_load(y, 0);
    KT_CHECK(p != NULL);
    if (!p)
        return;
    KT_EQ_STR(kh_policy_id(p), "cis_test");
    KT_EQ_STR(kh_policy_name(p), "CIS test");
    KT_EQ_INT(kh_policy_check_count(p), 2);
    KT_CHECK(kh_policy_commands_note(p) != NULL); /* not trusted */
    KT_EQ_INT(p->has_requirements, 1);
    const kh_check *c = &p->checks[0];
    KT_EQ_INT(c->id, 1000);
    KT_EQ_INT(c->condition, KH_COND_ALL);
    KT_EQ_INT(c->ncompliance, 2);
    KT_EQ_STR(c->compliance[1].key, "pci_dss");
    KT_EQ_INT(c->compliance[1].nvalues, 2);
    KT_EQ_STR(c->compliance[1].values[1], "8.1");
    KT_EQ_INT(c->nrules, 7);
    KT_EQ_STR(c->rules[0].text, "f:/etc/ssh/sshd_config -> r:^\\s*PermitRootLogin\\s+no"); /* variable expanded */
    KT_EQ_STR(c->rules[0].location, "/etc/ssh/sshd_config");
    KT_CHECK(c->rules[0].content && c->rules[0].content->n == 1);
    KT_EQ_INT(c->rules[1].negated, 1);
    KT_EQ_STR(c->rules[1].location, "/a,/b"); /* list variable joined */
    KT_EQ_INT(c->rules[2].type, KH_RT_CMD);
    KT_EQ_STR(c->rules[2].location, "sh -c \"echo $HOME\""); /* $HOME is the shell's */
    KT_EQ_INT(c->rules[3].type, KH_RT_DIR);
    KT_EQ_STR(c->rules[3].name_text, "r:^passwd$");
    KT_EQ_INT(c->rules[4].type, KH_RT_PROC);
    KT_EQ_INT(c->rules[5].type, KH_RT_REG);
    KT_CHECK(c->rules[5].unsupported != NULL);
    const kh_pattern *pat = c->rules[6].content;
    KT_CHECK(pat && pat->n == 2);
    if (pat && pat->n == 2) {
        KT_EQ_INT(pat->m[0].type, KH_MT_NUMERIC);
        KT_EQ_INT(pat->m[0].op, KH_CMP_LE);
        KT_EQ_INT(pat->m[0].value, 90);
        KT_EQ_INT(pat->m[1].negated, 1);
        KT_EQ_INT(pat->m[1].type, KH_MT_REGEX);
    }
    /* PCRE2 look-ahead: loads, the rule is not applicable */
    KT_CHECK(p->checks[1].rules[0].unsupported != NULL);
    kh_policy_destroy(p);
    kh_policy_destroy(NULL);
}

KT_TEST(policy_regex_type)
{
    kh_policy *p = kt_load("policy:\n  id: t\n  name: T\n  regex_type: pcre2\nchecks:\n"
                           "  - id: 1\n    title: x\n    condition: all\n    rules: ['f:/a -> r:^(?:a|b)+$']\n"
                           "  - id: 2\n    title: y\n    regex_type: osregex\n    condition: all\n"
                           "    rules: ['f:/a -> r:^\\w+$']\n",
                           0);
    KT_CHECK(p != NULL);
    if (p) {
        KT_CHECK(p->checks[0].rules[0].unsupported == NULL);
        KT_CHECK(kh_re_match(p->checks[0].rules[0].content->m[0].re, "abba", 4, NULL, NULL));
        KT_CHECK(kh_re_match(p->checks[1].rules[0].content->m[0].re, "a-b@c", 5, NULL, NULL));
    }
    kh_policy_destroy(p);
}

KT_TEST(trusted_flag)
{
    kh_policy *p = kt_load(HEAD "checks:\n  - id: 1\n    title: x\n    condition: all\n    rules: ['c:true']\n",
                           KH_POLICY_TRUSTED);
    KT_CHECK(p && kh_policy_commands_note(p) == NULL);
    kh_policy_destroy(p);
}

KT_TEST(file_loader_trust)
{
    kt_mkroot();
    const char *y = HEAD "checks:\n  - id: 1\n    title: x\n    condition: all\n    rules: ['c:true']\n";
    kt_write("/p.yml", y, 0666); /* writable by everybody: never trusted */
    char path[1024];
    kt_path(path, sizeof(path), "/p.yml");
    kh_policy *p = NULL;
    kh_policy_error e;
    KT_EQ_INT(kh_policy_load_file(&p, path, KH_POLICY_TRUSTED, &e), 0);
    KT_CHECK(p && kh_policy_commands_note(p) && strstr(kh_policy_commands_note(p), "not owned by root"));
    KT_EQ_STR(kh_policy_source(p), path);
    kh_policy_destroy(p);
    chmod(path, 0644);
    p = NULL;
    KT_EQ_INT(kh_policy_load_file(&p, path, KH_POLICY_TRUSTED, &e), 0);
    if (geteuid() == 0)
        KT_CHECK(p && kh_policy_commands_note(p) == NULL); /* root-owned, 0644 */
    else
        KT_CHECK(p && kh_policy_commands_note(p) != NULL);
    kh_policy_destroy(p);
    p = NULL;
    KT_EQ_INT(kh_policy_load_file(&p, path, 0, &e), 0); /* no trust asked */
    KT_CHECK(p && kh_policy_commands_note(p) != NULL);
    kh_policy_destroy(p);
    kt_path(path, sizeof(path), "/missing.yml");
    KT_EQ_INT(kh_policy_load_file(&p, path, 0, &e), KH_ENOENT);
    KT_CHECK(strstr(e.message, "cannot open") != NULL);
    kt_rmroot();
}

KT_TEST(builtin_policies_load)
{
    KT_CHECK(kh_policy_builtin_count() >= 3);
    for (size_t i = 0; i < kh_policy_builtin_count(); i++) {
        kh_policy *p = NULL;
        kh_policy_error e;
        int rc = kh_policy_load_builtin(&p, i, &e);
        if (rc)
            KT_FAIL_("built-in %s: %s:%u:%u: %s", kh_policy_builtin_name(i), e.file, e.line, e.column, e.message);
        KT_CHECK(p && kh_policy_commands_note(p) == NULL);
        KT_CHECK(p && kh_policy_check_count(p) > 5);
        KT_CHECK(p && strncmp(kh_policy_source(p), "<builtin>/", 10) == 0);
        kh_policy_destroy(p);
    }
    kh_policy *p = NULL;
    KT_EQ_INT(kh_policy_load_builtin(&p, 999, NULL), KH_ENOTFOUND);
    KT_CHECK(kh_policy_builtin_name(999) == NULL);
}

KT_TEST(vn_policy_is_tagged)
{
    /* every check of the Vietnamese policy names its basis and confidence */
    for (size_t i = 0; i < kh_policy_builtin_count(); i++) {
        if (strcmp(kh_policy_builtin_name(i), "khien_vn_level2_3") != 0)
            continue;
        kh_policy *p = NULL;
        KT_EQ_INT(kh_policy_load_builtin(&p, i, NULL), 0);
        for (size_t k = 0; p && k < p->nchecks; k++) {
            const kh_check *c = &p->checks[k];
            int level = 0, basis = 0, conf = 0;
            for (size_t j = 0; j < c->ncompliance; j++) {
                if (strcmp(c->compliance[j].key, "vn_level") == 0)
                    level = 1;
                else if (strcmp(c->compliance[j].key, "confidence") == 0)
                    conf = 1;
                else if (strncmp(c->compliance[j].key, "vn_", 3) == 0)
                    basis = 1;
            }
            if (!level || !basis || !conf)
                KT_FAIL_("check %lld lacks vn_level, a basis or confidence", c->id);
            if (!strstr(c->title, " / ") || !strstr(c->remediation, "EN:"))
                KT_FAIL_("check %lld is not bilingual", c->id);
        }
        kh_policy_destroy(p);
        return;
    }
    KT_FAIL_("%s", "khien_vn_level2_3 not built in");
}

KT_TEST(malformed_yaml)
{
    expect_error("policy:\n  id: t\n  name: [unclosed\nchecks: []\n", KH_ESYNTAX, 0, "invalid YAML");
    expect_error("policy:\n  id: t\n\tname: tab\n", KH_ESYNTAX, 3, "invalid YAML");
    expect_error("- just\n- a list\n", KH_ESYNTAX, 1, "must be a YAML mapping");
    expect_error("", KH_ESYNTAX, 0, "YAML mapping");
    expect_error("a: 1\n---\nb: 2\n", KH_ESYNTAX, 2, "one YAML document");
}

KT_TEST(malformed_sections)
{
    expect_error("checks:\n  - id: 1\n", KH_ESYNTAX, 1, "missing the 'policy' section");
    expect_error("policy:\n  name: T\nchecks: []\n", KH_ESYNTAX, 2, "required key 'id'");
    expect_error(HEAD, KH_ESYNTAX, 1, "missing the 'checks' section");
    expect_error(HEAD "checks: {}\n", KH_ESYNTAX, 4, "'checks' must be a list");
    expect_error(HEAD "checks: []\n", KH_ESYNTAX, 4, "'checks' is empty");
    expect_error(HEAD "variables:\n  sshd: /x\nchecks: []\n", KH_ESYNTAX, 5, "must look like $name");
    expect_error(HEAD "variables: [a]\nchecks: []\n", KH_ESYNTAX, 4, "'variables' must be a mapping");
    expect_error(HEAD "requirements:\n  title: R\n  rules: ['f:/x']\nchecks: []\n", KH_ESYNTAX, 5,
                 "required key 'condition'");
    expect_error("policy:\n  id: t\n  name: T\n  missing_files: sometimes\nchecks: []\n", KH_ESYNTAX, 4,
                 "missing_files");
}

KT_TEST(malformed_checks)
{
    expect_error(HEAD "checks:\n  - title: x\n    condition: all\n    rules: ['f:/x']\n", KH_ESYNTAX, 5,
                 "required key 'id'");
    expect_error(HEAD "checks:\n  - id: abc\n    title: x\n    condition: all\n    rules: ['f:/x']\n", KH_ESYNTAX, 5,
                 "'id' must be an integer (got 'abc')");
    expect_error(HEAD "checks:\n  - id: 1\n    condition: all\n    rules: ['f:/x']\n", KH_ESYNTAX, 5,
                 "required key 'title'");
    expect_error(HEAD "checks:\n  - id: 1\n    title: x\n    condition: some\n    rules: ['f:/x']\n", KH_ESYNTAX, 7,
                 "must be all, any or none (got 'some')");
    expect_error(HEAD "checks:\n  - id: 1\n    title: x\n    condition: all\n", KH_ESYNTAX, 5, "'rules'");
    expect_error(HEAD "checks:\n  - id: 1\n    title: x\n    condition: all\n    rules: []\n", KH_ESYNTAX, 8,
                 "'rules' is empty");
    expect_error(HEAD "checks:\n  - id: 1\n    title: x\n    condition: all\n    rules:\n      - {a: b}\n", KH_ESYNTAX,
                 9, "each rule must be a string");
    expect_error(HEAD "checks:\n  - id: 1\n    title: [x]\n    condition: all\n    rules: ['f:/x']\n", KH_ESYNTAX, 6,
                 "'title' must be a scalar");
    expect_error(HEAD "checks:\n  - id: 7\n    title: a\n    condition: all\n    rules: ['f:/x']\n"
                      "  - id: 7\n    title: b\n    condition: all\n    rules: ['f:/y']\n",
                 KH_ESYNTAX, 9, "duplicate id 7 (already used on line 5)");
    expect_error(HEAD "checks:\n  - id: 1\n    title: x\n    compliance: cis\n    condition: all\n    rules: ['f:/x']\n",
                 KH_ESYNTAX, 7, "'compliance' must be a list");
    expect_error(HEAD "checks:\n  - id: 1\n    title: x\n    regex_type: perl\n    condition: all\n    rules: ['f:/x']\n",
                 KH_ESYNTAX, 7, "'regex_type' must be osregex or pcre2");
    expect_error(HEAD "checks:\n  - 42\n", KH_ESYNTAX, 5, "each check must be a mapping");
}

#define RULE(r) HEAD "checks:\n  - id: 1\n    title: x\n    condition: all\n    rules:\n      - '" r "'\n"

KT_TEST(malformed_rules)
{
    expect_error(RULE("x:/etc/passwd"), KH_ESYNTAX, 9, "unknown rule type");
    expect_error(RULE("/etc/passwd"), KH_ESYNTAX, 9, "unknown rule type");
    expect_error(RULE("f:"), KH_ESYNTAX, 9, "missing path");
    expect_error(RULE("f:etc/passwd"), KH_ESYNTAX, 9, "paths must be absolute");
    expect_error(RULE("f:/a -> r:x -> r:y"), KH_ESYNTAX, 9, "too many '->' parts");
    expect_error(RULE("p:sshd -> r:x"), KH_ESYNTAX, 9, "too many '->' parts");
    expect_error(RULE("f:/a -> r:(x"), KH_ESYNTAX, 9, "bad regex '(x'");
    expect_error(RULE("f:/a -> r:"), KH_ESYNTAX, 9, "'r:' without a regex");
    expect_error(RULE("f:/a -> !"), KH_ESYNTAX, 9, "empty content condition");
    expect_error(RULE("f:/a -> n:^x(\\d+)"), KH_ESYNTAX, 9, "needs 'n:REGEX compare OPERATOR NUMBER'");
    expect_error(RULE("f:/a -> n:^x(\\d+) compare ~ 3"), KH_ESYNTAX, 9, "invalid compare operator");
    expect_error(RULE("f:/a -> n:^x(\\d+) compare <= ninety"), KH_ESYNTAX, 9, "'ninety' is not an integer");
    expect_error(RULE("f:/a -> n:^x\\d+ compare <= 3"), KH_ESYNTAX, 9, "needs a capture group");
    expect_error(RULE("f:$nope/x"), KH_ESYNTAX, 9, "undefined variable $nope");
    expect_error(RULE("k:no_such_probe"), KH_ESYNTAX, 9, "unknown probe k:no_such_probe");
    expect_error(RULE("k:recent_files 72"), KH_ESYNTAX, 9, "usage: k:recent_files HOURS PATHS");
    expect_error(RULE("k:recent_files soon /x"), KH_ESYNTAX, 9, "must be a non-negative integer");
    expect_error(RULE("k:uid0_non_root extra"), KH_ESYNTAX, 9, "wrong number of arguments");
    expect_error(RULE("d:/etc -> r:x(( -> r:y"), KH_ESYNTAX, 9, "bad regex");
    /* the column points at the rule */
    kh_policy *p = NULL;
    kh_policy_error e;
    const char *t = RULE("q:/x");
    kh_policy_load_mem(&p, "bad.yml", t, strlen(t), 0, &e);
    KT_EQ_INT(e.column, 9);
}

KT_TEST(limits)
{
    /* deeply nested input is refused before it is built */
    kh_buf b = KH_BUF_INIT(1 << 20);
    for (int i = 0; i < 100; i++)
        kh_buf_puts(&b, "[");
    for (int i = 0; i < 100; i++)
        kh_buf_puts(&b, "]");
    kh_policy *p = NULL;
    kh_policy_error e;
    KT_EQ_INT(kh_policy_load_mem(&p, "deep.yml", b.data, b.len, 0, &e), KH_ELIMIT);
    KT_CHECK(strstr(e.message, "nested too deeply") != NULL);
    kh_buf_dispose(&b);
    char *big = calloc(1, (5u << 20) + 1);
    memset(big, '#', 5u << 20);
    KT_EQ_INT(kh_policy_load_mem(&p, "big.yml", big, 5u << 20, 0, &e), KH_ELIMIT);
    free(big);
    KT_EQ_INT(kh_policy_load_mem(NULL, "x", "", 0, 0, &e), KH_EINVAL);
}

/* Damaged copies of the built-in policies: every load either succeeds or
 * fails with a message and a place; nothing crashes or leaks (ASan). */
KT_TEST(damaged_policies)
{
    uint32_t seed = 12345;
    const char alphabet[] = "-:'\"\\[]{}|&>!$*#\n \t\001\377abc";
    for (size_t i = 0; i < kh_policy_builtin_count(); i++) {
        const kh_builtin_policy *b = &kh_builtin_policies[i];
        char *copy = malloc(b->len + 1);
        for (int round = 0; round < 300; round++) {
            memcpy(copy, b->data, b->len);
            int edits = 1 + round % 8;
            for (int e = 0; e < edits; e++) {
                seed = seed * 1103515245u + 12345u;
                size_t at = (seed >> 8) % b->len;
                seed = seed * 1103515245u + 12345u;
                copy[at] = alphabet[(seed >> 8) % (sizeof(alphabet) - 1)];
            }
            kh_policy *p = NULL;
            kh_policy_error err;
            int rc = kh_policy_load_mem(&p, "damaged.yml", copy, b->len, KH_POLICY_TRUSTED, &err);
            if (rc == 0) {
                KT_CHECK(p != NULL);
                kh_policy_destroy(p);
            } else {
                KT_CHECK(p == NULL);
                if (rc == KH_ESYNTAX && (!err.message[0] || !err.line))
                    KT_FAIL_("round %d: error without message or line (%s)", round, err.message);
            }
        }
        free(copy);
    }
}

KT_MAIN({
    KT_CASE(loads_a_full_policy),
    KT_CASE(policy_regex_type),
    KT_CASE(trusted_flag),
    KT_CASE(file_loader_trust),
    KT_CASE(builtin_policies_load),
    KT_CASE(vn_policy_is_tagged),
    KT_CASE(malformed_yaml),
    KT_CASE(malformed_sections),
    KT_CASE(malformed_checks),
    KT_CASE(malformed_rules),
    KT_CASE(limits),
    KT_CASE(damaged_policies),
})
