/* Tests of src/audit/eval.c (with hostfs.c and exec.c): every rule type,
 * content patterns, numeric comparisons, conditions, requirements,
 * variables, `not`, commands and their limits, processes of a fake /proc,
 * and paths kept inside the fake root. */
#include "kt_audit.h"

#define HEAD "policy:\n  id: t\n  name: T\n"
#define CHECK1(id, cond, rule) \
    "  - id: " #id "\n    title: c" #id "\n    condition: " cond "\n    rules:\n      - '" rule "'\n"
#define CHECK2(id, cond, r1, r2) \
    "  - id: " #id "\n    title: c" #id "\n    condition: " cond "\n    rules:\n      - '" r1 "'\n      - '" r2 "'\n"

static void fixture(void)
{
    kt_mkroot();
    kt_write("/etc/debian_version", "12.5\n", 0644);
    kt_write("/etc/ssh/sshd_config", "# comment\nPermitRootLogin no\n#X11Forwarding yes\nMaxAuthTries 4\n", 0644);
    kt_write("/etc/login.defs", "# defaults\nPASS_MAX_DAYS\t90\nPASS_MIN_DAYS 0\nPASS_WARN_AGE 7\n", 0644);
    kt_write("/etc/app/a.conf", "key = value\n", 0644);
    kt_write("/etc/app/sub/b.conf", "deny = 3\n", 0644);
    kt_write("/etc/app/c.txt", "deny = 9\n", 0644);
    kt_write("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\nuser:x:1000:1000::/home/user:/bin/bash\n", 0644);
    kt_write("/proc/100/comm", "sshd\n", 0444);
    kt_write("/proc/100/cmdline", "", 0444);
    {
        char p[1024];
        kt_path(p, sizeof(p), "/proc/100/cmdline");
        FILE *f = fopen(p, "wb");
        fwrite("/usr/sbin/sshd\0-D\0", 1, 18, f);
        fclose(f);
    }
    kt_write("/proc/200/comm", "firewalld\n", 0444);
    kt_write("/proc/200/cmdline", "/usr/bin/python3", 0444);
    kt_write("/proc/self/comm", "not-a-pid\n", 0444);
    kt_symlink("/etc/login.defs", "/etc/link");         /* absolute: inside the root */
    kt_symlink("/etc/hostname", "/etc/esc");            /* exists on the host, not in the root */
    kt_symlink("../../../../../../../etc/hostname", "/etc/up"); /* .. cannot climb out */
    kt_symlink("loop2", "/etc/loop1");
    kt_symlink("loop1", "/etc/loop2");
}

KT_TEST(file_rules)
{
    fixture();
    kh_policy *p = kt_load(HEAD "checks:\n"
        CHECK1(1, "all", "f:/etc/debian_version")
        CHECK1(2, "all", "f:/etc/nope")
        CHECK1(3, "all", "f:/etc/ssh/sshd_config -> r:^\\s*PermitRootLogin\\s+no")
        CHECK1(4, "all", "f:/etc/ssh/sshd_config -> !r:^#")
        CHECK1(5, "all", "f:/etc/ssh/sshd_config -> !r:^# && r:X11Forwarding")
        CHECK1(6, "all", "f:/etc/ssh/sshd_config -> r:^# && r:X11Forwarding")
        CHECK1(7, "all", "f:/etc/ssh/sshd_config -> MaxAuthTries 4")
        CHECK1(8, "all", "f:/etc/ssh/sshd_config -> MaxAuthTries")
        CHECK1(9, "all", "f:/etc/nope -> r:x")
        CHECK1(10, "all", "f:/etc/nope,/etc/debian_version")
        CHECK1(11, "all", "f:/etc/app/*.conf -> r:^key")
        CHECK1(12, "all", "f:/etc/app/*.none")
        CHECK1(13, "all", "f:/etc/app")
        CHECK1(14, "all", "f:/etc/app -> r:x")
        CHECK1(15, "all", "not f:/etc/nope")
        CHECK1(16, "all", "not f:/etc/nope -> r:x")
        , 0);
    KT_CHECK(p != NULL);
    if (!p)
        return;
    kt_results *k = kt_exec(p, 0, 0);
    KT_EQ_INT(k->rc, 0);
    KT_RESULT(k, 1, KH_CHECK_PASSED);
    KT_RESULT(k, 2, KH_CHECK_FAILED);
    KT_RESULT(k, 3, KH_CHECK_PASSED);
    KT_CHECK(strstr(kt_evidence(k, 3), "/etc/ssh/sshd_config:2 line found PermitRootLogin no") != NULL);
    KT_RESULT(k, 4, KH_CHECK_PASSED);
    KT_RESULT(k, 5, KH_CHECK_FAILED); /* && holds on one line only */
    KT_RESULT(k, 6, KH_CHECK_PASSED);
    KT_RESULT(k, 7, KH_CHECK_PASSED); /* literal: the whole line */
    KT_RESULT(k, 8, KH_CHECK_FAILED);
    KT_RESULT(k, 9, KH_CHECK_NOT_APPLICABLE); /* Wazuh: content of a missing file cannot be judged */
    KT_CHECK(strstr(kt_reason(k, 9), "does not exist") != NULL);
    KT_RESULT(k, 10, KH_CHECK_PASSED); /* a list: any of them */
    KT_RESULT(k, 11, KH_CHECK_PASSED);
    KT_RESULT(k, 12, KH_CHECK_FAILED); /* a glob that matches nothing */
    KT_RESULT(k, 13, KH_CHECK_FAILED); /* a directory is not a file */
    KT_RESULT(k, 14, KH_CHECK_NOT_APPLICABLE);
    KT_RESULT(k, 15, KH_CHECK_PASSED);
    KT_RESULT(k, 16, KH_CHECK_NOT_APPLICABLE); /* not keeps "invalid" */
    KT_EQ_INT(k->sum.applicable, 1);
    kh_policy_destroy(p);
    kt_rmroot();
}

KT_TEST(numeric_compare)
{
    fixture();
    kh_policy *p = kt_load(HEAD "checks:\n"
        CHECK1(1, "all", "f:/etc/login.defs -> n:^PASS_MAX_DAYS\\s+(\\d+) compare < 90")
        CHECK1(2, "all", "f:/etc/login.defs -> n:^PASS_MAX_DAYS\\s+(\\d+) compare <= 90")
        CHECK1(3, "all", "f:/etc/login.defs -> n:^PASS_MAX_DAYS\\s+(\\d+) compare == 90")
        CHECK1(4, "all", "f:/etc/login.defs -> n:^PASS_MAX_DAYS\\s+(\\d+) compare != 90")
        CHECK1(5, "all", "f:/etc/login.defs -> n:^PASS_MAX_DAYS\\s+(\\d+) compare >= 90")
        CHECK1(6, "all", "f:/etc/login.defs -> n:^PASS_MAX_DAYS\\s+(\\d+) compare > 90")
        CHECK1(7, "all", "f:/etc/login.defs -> n:^PASS_MAX_DAYS\\s+(\\d+) compare < 91")
        CHECK1(8, "all", "f:/etc/login.defs -> n:^PASS_MAX_DAYS\\s+(\\d+) compare > 89")
        CHECK1(9, "all", "f:/etc/login.defs -> n:^PASS_MAX_DAYS\\s+(\\d+) compare != 7")
        CHECK1(10, "all", "f:/etc/login.defs -> n:^PASS_MAX_DAYS\\s+(\\d+) compare == -1")
        CHECK1(11, "all", "f:/etc/login.defs -> n:^NOT_THERE\\s+(\\d+) compare >= 0")
        CHECK1(12, "all", "f:/etc/login.defs -> n:^PASS_MIN_DAYS\\s+(\\d+) compare >= 1 && !r:^#")
        , 0);
    KT_CHECK(p != NULL);
    if (!p)
        return;
    kt_results *k = kt_exec(p, 0, 0);
    KT_RESULT(k, 1, KH_CHECK_FAILED);
    KT_RESULT(k, 2, KH_CHECK_PASSED);
    KT_RESULT(k, 3, KH_CHECK_PASSED);
    KT_RESULT(k, 4, KH_CHECK_FAILED);
    KT_RESULT(k, 5, KH_CHECK_PASSED);
    KT_RESULT(k, 6, KH_CHECK_FAILED);
    KT_RESULT(k, 7, KH_CHECK_PASSED);
    KT_RESULT(k, 8, KH_CHECK_PASSED);
    KT_RESULT(k, 9, KH_CHECK_PASSED);
    KT_RESULT(k, 10, KH_CHECK_FAILED);
    KT_RESULT(k, 11, KH_CHECK_FAILED);
    KT_RESULT(k, 12, KH_CHECK_FAILED);
    /* a failed comparison shows the value found */
    KT_CHECK(strstr(kt_evidence(k, 1), "/etc/login.defs:2 value not_found") != NULL);
    KT_CHECK(strstr(kt_evidence(k, 1), "value 90 does not satisfy < 90") != NULL);
    KT_CHECK(strstr(kt_evidence(k, 12), "value 0 does not satisfy >= 1") != NULL);
    kh_policy_destroy(p);
    kt_rmroot();
}

KT_TEST(directory_rules)
{
    fixture();
    kh_policy *p = kt_load(HEAD "checks:\n"
        CHECK1(1, "all", "d:/etc/app")
        CHECK1(2, "all", "d:/etc/nope")
        CHECK1(3, "all", "d:/etc/debian_version")
        CHECK1(4, "all", "d:/etc/app -> r:\\.conf$ -> r:^deny")     /* found in sub/ */
        CHECK1(5, "all", "d:/etc/app -> .conf -> n:^deny\\s*=\\s*(\\d+) compare > 5")
        CHECK1(6, "all", "d:/etc/app -> c.txt -> n:^deny\\s*=\\s*(\\d+) compare > 5")
        CHECK1(7, "all", "d:/etc/app -> r:^a\\.conf$")
        CHECK1(8, "all", "d:/etc/app -> r:^zzz")
        CHECK1(9, "all", "d:/etc/nope -> r:x -> r:y")
        CHECK1(10, "all", "d:/etc/nope,/etc/app -> r:\\.txt$")
        , 0);
    KT_CHECK(p != NULL);
    if (!p)
        return;
    kt_results *k = kt_exec(p, 0, 0);
    KT_RESULT(k, 1, KH_CHECK_PASSED);
    KT_RESULT(k, 2, KH_CHECK_FAILED);
    KT_RESULT(k, 3, KH_CHECK_FAILED);
    KT_RESULT(k, 4, KH_CHECK_PASSED);
    KT_CHECK(strstr(kt_evidence(k, 4), "/etc/app/sub/b.conf:1 line found deny = 3") != NULL);
    KT_RESULT(k, 5, KH_CHECK_FAILED);
    KT_CHECK(strstr(kt_evidence(k, 5), "value 3 does not satisfy > 5") != NULL);
    KT_RESULT(k, 6, KH_CHECK_PASSED);
    KT_RESULT(k, 7, KH_CHECK_PASSED);
    KT_RESULT(k, 8, KH_CHECK_FAILED);
    KT_CHECK(strstr(kt_evidence(k, 8), "no file name matches") != NULL);
    KT_RESULT(k, 9, KH_CHECK_NOT_APPLICABLE);
    KT_RESULT(k, 10, KH_CHECK_PASSED);
    kh_policy_destroy(p);
    kt_rmroot();
}

KT_TEST(conditions)
{
    fixture();
    kh_policy *p = kt_load(HEAD "checks:\n"
        CHECK2(1, "all", "f:/etc/debian_version", "f:/etc/login.defs")            /* found, found */
        CHECK2(2, "all", "f:/etc/debian_version", "f:/etc/nope")                  /* found, not */
        CHECK2(3, "all", "f:/etc/nope -> r:x", "f:/etc/debian_version")           /* invalid, found */
        CHECK2(4, "all", "f:/etc/nope -> r:x", "f:/etc/nope")                     /* invalid, not */
        CHECK2(5, "any", "f:/etc/nope", "f:/etc/debian_version")                  /* not, found */
        CHECK2(6, "any", "f:/etc/nope", "f:/etc/nope2")                           /* not, not */
        CHECK2(7, "any", "f:/etc/nope -> r:x", "f:/etc/debian_version")           /* invalid, found */
        CHECK2(8, "any", "f:/etc/nope -> r:x", "f:/etc/nope2")                    /* invalid, not */
        CHECK2(9, "none", "f:/etc/nope", "f:/etc/nope2")                          /* not, not */
        CHECK2(10, "none", "f:/etc/nope", "f:/etc/debian_version")                /* not, found */
        CHECK2(11, "none", "f:/etc/nope -> r:x", "f:/etc/nope2")                  /* invalid, not */
        CHECK2(12, "none", "f:/etc/nope -> r:x", "f:/etc/debian_version")         /* invalid, found */
        CHECK2(13, "all", "r:HKEY_LOCAL_MACHINE\\Software -> x", "f:/etc/debian_version")
        , 0);
    KT_CHECK(p != NULL);
    if (!p)
        return;
    kt_results *k = kt_exec(p, 0, 0);
    KT_RESULT(k, 1, KH_CHECK_PASSED);
    KT_RESULT(k, 2, KH_CHECK_FAILED);
    KT_RESULT(k, 3, KH_CHECK_NOT_APPLICABLE);
    KT_RESULT(k, 4, KH_CHECK_FAILED);
    KT_RESULT(k, 5, KH_CHECK_PASSED);
    KT_RESULT(k, 6, KH_CHECK_FAILED);
    KT_RESULT(k, 7, KH_CHECK_PASSED);
    KT_RESULT(k, 8, KH_CHECK_NOT_APPLICABLE);
    KT_RESULT(k, 9, KH_CHECK_PASSED);
    KT_RESULT(k, 10, KH_CHECK_FAILED);
    KT_RESULT(k, 11, KH_CHECK_NOT_APPLICABLE);
    KT_RESULT(k, 12, KH_CHECK_FAILED);
    KT_RESULT(k, 13, KH_CHECK_NOT_APPLICABLE);
    KT_CHECK(strstr(kt_reason(k, 13), "Windows") != NULL);
    /* score: passed / (passed + failed) */
    KT_EQ_INT(k->sum.passed, 4);
    KT_EQ_INT(k->sum.failed, 5);
    KT_EQ_INT(k->sum.not_applicable, 4);
    KT_EQ_INT(k->sum.score, 44); /* 4 / 9, rounded */
    kh_policy_destroy(p);
    kt_rmroot();
}

KT_TEST(requirements_and_variables)
{
    fixture();
    const char *y = HEAD
        "requirements:\n  title: needs a Red Hat\n  condition: any\n  rules:\n    - 'f:/etc/redhat-release'\n"
        "checks:\n" CHECK1(1, "all", "f:/etc/debian_version");
    kh_policy *p = kt_load(y, 0);
    KT_CHECK(p != NULL);
    if (!p)
        return;
    kt_results *k = kt_exec(p, 0, 0);
    KT_EQ_INT(k->sum.applicable, 0);
    KT_EQ_STR(k->sum.reason, "needs a Red Hat");
    KT_EQ_INT(k->n, 0); /* no check ran */
    kh_policy_destroy(p);

    y = HEAD "requirements:\n  title: Debian\n  condition: all\n  rules:\n    - 'f:$ver'\n"
             "variables:\n  $ver: /etc/debian_version\n  $sshd: /etc/ssh/sshd_config\n  $cfg: /etc/app\n"
             "checks:\n" CHECK1(1, "all", "f:$sshd -> r:PermitRootLogin") CHECK1(2, "all", "d:$cfg -> r:\\.conf$")
             CHECK1(3, "all", "f:$sshd -> r:^cost$ && !r:$sshd");
    p = kt_load(y, 0);
    KT_CHECK(p != NULL);
    if (!p)
        return;
    k = kt_exec(p, 0, 0);
    KT_EQ_INT(k->sum.applicable, 1);
    KT_RESULT(k, 1, KH_CHECK_PASSED);
    KT_RESULT(k, 2, KH_CHECK_PASSED);
    KT_RESULT(k, 3, KH_CHECK_FAILED);
    kh_policy_destroy(p);
    kt_rmroot();
}

KT_TEST(missing_files_not_found)
{
    fixture();
    kh_policy *p = kt_load("policy:\n  id: t\n  name: T\n  missing_files: not_found\nchecks:\n"
        CHECK1(1, "all", "f:/etc/nope -> r:x")
        CHECK1(2, "none", "f:/etc/nope -> r:x")
        CHECK1(3, "all", "d:/etc/nope -> r:x -> r:y")
        CHECK1(4, "all", "not f:/etc/nope -> r:x"), 0);
    KT_CHECK(p != NULL);
    if (!p)
        return;
    kt_results *k = kt_exec(p, 0, 0);
    KT_RESULT(k, 1, KH_CHECK_FAILED);
    KT_RESULT(k, 2, KH_CHECK_PASSED);
    KT_RESULT(k, 3, KH_CHECK_FAILED);
    KT_RESULT(k, 4, KH_CHECK_PASSED);
    kh_policy_destroy(p);
    kt_rmroot();
}

KT_TEST(paths_stay_in_root)
{
    fixture();
    kh_policy *p = kt_load(HEAD "checks:\n"
        CHECK1(1, "all", "f:/etc/link -> r:^PASS_MAX_DAYS")
        CHECK1(2, "all", "f:/etc/esc")
        CHECK1(3, "all", "f:/etc/up")
        CHECK1(4, "all", "f:/../../../../etc/hostname")
        CHECK1(5, "all", "f:/etc/loop1")
        CHECK1(6, "all", "f:/etc/esc -> r:.")
        , 0);
    KT_CHECK(p != NULL);
    if (!p)
        return;
    kt_results *k = kt_exec(p, 0, 0);
    KT_RESULT(k, 1, KH_CHECK_PASSED);
    KT_RESULT(k, 2, KH_CHECK_FAILED);
    KT_RESULT(k, 3, KH_CHECK_FAILED);
    KT_RESULT(k, 4, KH_CHECK_FAILED);
    KT_RESULT(k, 5, KH_CHECK_NOT_APPLICABLE); /* a link loop cannot be judged */
    KT_RESULT(k, 6, KH_CHECK_NOT_APPLICABLE);
    kh_policy_destroy(p);
    kt_rmroot();
}

KT_TEST(processes)
{
    fixture();
    kh_policy *p = kt_load(HEAD "checks:\n"
        CHECK1(1, "all", "p:sshd")
        CHECK1(2, "all", "p:firewalld")
        CHECK1(3, "all", "p:nginx")
        CHECK1(4, "all", "p:r:sshd\\s+-D")
        CHECK1(5, "none", "p:nginx"), 0);
    KT_CHECK(p != NULL);
    if (!p)
        return;
    kt_results *k = kt_exec(p, 0, 0);
    KT_RESULT(k, 1, KH_CHECK_PASSED);
    KT_CHECK(strstr(kt_evidence(k, 1), "PID 100: /usr/sbin/sshd -D") != NULL);
    KT_RESULT(k, 2, KH_CHECK_PASSED);
    KT_RESULT(k, 3, KH_CHECK_FAILED);
    KT_RESULT(k, 4, KH_CHECK_PASSED);
    KT_RESULT(k, 5, KH_CHECK_PASSED);
    /* no /proc in the audited tree: processes cannot be judged */
    char proc[1024];
    kt_path(proc, sizeof(proc), "/proc");
    char moved[1100];
    snprintf(moved, sizeof(moved), "%s.gone", proc);
    rename(proc, moved);
    k = kt_exec(p, 0, 0);
    KT_RESULT(k, 1, KH_CHECK_NOT_APPLICABLE);
    KT_CHECK(strstr(kt_reason(k, 1), "/proc") != NULL);
    rename(moved, proc);
    kh_policy_destroy(p);
    kt_rmroot();
}

KT_TEST(commands)
{
    fixture();
    const char *y = HEAD "checks:\n"
        CHECK1(1, "all", "c:echo hello world -> r:^hello world$")
        CHECK1(2, "all", "c:sh -c \"echo out; echo err >&2\" -> r:^err$")
        CHECK1(3, "all", "c:true")
        CHECK1(4, "all", "c:false")
        CHECK1(5, "all", "c:no-such-command-khien-test -> r:x")
        CHECK1(6, "all", "c:printf \"%s\\n\" \"a b\" -> a b")
        CHECK1(7, "all", "c:sh -c \"echo $HOME\" -> r:^/root$")
        CHECK1(8, "all", "c:sh -c \"head -c 3000000 /dev/zero | tr \\\\\\\\0 x\" -> r:^y");
    kh_policy *p = kt_load(y, KH_POLICY_TRUSTED);
    KT_CHECK(p != NULL);
    if (!p)
        return;
    kt_results *k = kt_exec(p, KH_AUDIT_COMMANDS_WITH_ROOT, 0);
    KT_RESULT(k, 1, KH_CHECK_PASSED);
    KT_RESULT(k, 2, KH_CHECK_PASSED); /* stderr is part of the output */
    KT_RESULT(k, 3, KH_CHECK_PASSED);
    KT_RESULT(k, 4, KH_CHECK_FAILED);
    KT_RESULT(k, 5, KH_CHECK_NOT_APPLICABLE);
    KT_CHECK(strstr(kt_reason(k, 5), "command not found") != NULL);
    KT_RESULT(k, 6, KH_CHECK_PASSED); /* quotes group words */
    KT_RESULT(k, 7, KH_CHECK_PASSED); /* a fixed environment */
    KT_RESULT(k, 8, KH_CHECK_FAILED); /* output cut at the limit */
    KT_CHECK(strstr(kt_evidence(k, 8), "truncated") != NULL);

    /* under a root directory, commands are not run unless allowed */
    k = kt_exec(p, 0, 0);
    KT_RESULT(k, 1, KH_CHECK_NOT_APPLICABLE);
    KT_CHECK(strstr(kt_reason(k, 1), "--root") != NULL);
    kh_policy_destroy(p);

    /* untrusted policy: never */
    p = kt_load(y, 0);
    k = kt_exec(p, KH_AUDIT_COMMANDS_WITH_ROOT, 0);
    KT_RESULT(k, 1, KH_CHECK_NOT_APPLICABLE);
    KT_CHECK(strstr(kt_reason(k, 1), "untrusted") != NULL);
    kh_policy_destroy(p);
    kt_rmroot();
}

KT_TEST(command_timeout)
{
    fixture();
    kh_policy *p = kt_load(HEAD "checks:\n" CHECK1(1, "all", "c:sleep 20 -> r:x")
                                  CHECK1(2, "all", "c:sh -c \"sleep 20 & echo started\" -> r:started"),
                           KH_POLICY_TRUSTED);
    KT_CHECK(p != NULL);
    if (!p)
        return;
    kh_audit_options o = KH_AUDIT_OPTIONS_INIT;
    o.root = kt_root;
    o.flags = KH_AUDIT_COMMANDS_WITH_ROOT;
    o.command_timeout_ms = 300;
    kt_results k;
    memset(&k, 0, sizeof(k));
    double t0 = kh_now();
    KT_EQ_INT(kh_audit_run(p, &o, kt_on_check, &k, &k.sum), 0);
    KT_CHECK(kh_now() - t0 < 5.0);
    KT_RESULT(&k, 1, KH_CHECK_NOT_APPLICABLE);
    KT_CHECK(strstr(kt_reason(&k, 1), "stopped") != NULL);
    /* a background child keeping the pipe open is killed with its group */
    KT_RESULT(&k, 2, KH_CHECK_PASSED);
    kh_policy_destroy(p);
    kt_rmroot();
}

KT_TEST(exec_split)
{
    kh_arena a;
    kh_arena_init(&a, 0);
    char **argv;
    KT_EQ_INT(kh_exec_split(&a, "sh -c \"a | b\" 'x y' z\\ w", &argv), 5);
    KT_EQ_STR(argv[0], "sh");
    KT_EQ_STR(argv[1], "-c");
    KT_EQ_STR(argv[2], "a | b");
    KT_EQ_STR(argv[3], "x y");
    KT_EQ_STR(argv[4], "z w");
    KT_EQ_INT(kh_exec_split(&a, "a 'b", &argv), KH_ESYNTAX);
    KT_EQ_INT(kh_exec_split(&a, "   ", &argv), KH_ESYNTAX);
    kh_arena_dispose(&a);
}

KT_TEST(callback_stop_and_options)
{
    fixture();
    kh_policy *p = kt_load(HEAD "checks:\n" CHECK1(1, "all", "f:/etc/debian_version")
                                  CHECK1(2, "all", "f:/etc/debian_version"), 0);
    KT_CHECK(p != NULL);
    if (!p)
        return;
    kh_audit_options o = KH_AUDIT_OPTIONS_INIT;
    o.root = kt_root;
    KT_EQ_INT(kh_audit_run(p, &o, NULL, NULL, NULL), 0);
    o.version = 99;
    KT_EQ_INT(kh_audit_run(p, &o, NULL, NULL, NULL), KH_EINVAL);
    o.version = KH_AUDIT_OPTIONS_VERSION;
    o.root = "/nonexistent/khien/root";
    KT_EQ_INT(kh_audit_run(p, &o, NULL, NULL, NULL), KH_EINVAL);
    KT_EQ_INT(kh_audit_run(NULL, NULL, NULL, NULL, NULL), KH_EINVAL);
    KT_EQ_STR(kh_check_result_name(KH_CHECK_NOT_APPLICABLE), "not_applicable");
    kh_policy_destroy(p);
    kt_rmroot();
}

KT_MAIN({
    KT_CASE(file_rules),
    KT_CASE(numeric_compare),
    KT_CASE(directory_rules),
    KT_CASE(conditions),
    KT_CASE(requirements_and_variables),
    KT_CASE(missing_files_not_found),
    KT_CASE(paths_stay_in_root),
    KT_CASE(processes),
    KT_CASE(commands),
    KT_CASE(command_timeout),
    KT_CASE(exec_split),
    KT_CASE(callback_stop_and_options),
})
