/* Tests of src/audit/probes.c: the credential and account probes on
 * planted fixtures in a fake root; the secrets are never reported. */
#include "kt_audit.h"

#define HEAD "policy:\n  id: t\n  name: T\n"
#define NONE(id, rule) "  - id: " #id "\n    title: c" #id "\n    condition: none\n    rules:\n      - '" rule "'\n"
#define ALL(id, rule) "  - id: " #id "\n    title: c" #id "\n    condition: all\n    rules:\n      - '" rule "'\n"

static const char *const SECRET = "S3cretPass2024";

static void b64(const unsigned char *in, size_t n, char *out)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0) | (i + 2 < n ? in[i + 2] : 0);
        out[o++] = t[(v >> 18) & 63];
        out[o++] = t[(v >> 12) & 63];
        out[o++] = i + 1 < n ? t[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? t[v & 63] : '=';
    }
    out[o] = 0;
}

/* An OpenSSH private key file whose body starts as real ones do. */
static void openssh_key(const char *rel, const char *cipher, mode_t mode)
{
    unsigned char bin[120];
    memset(bin, 0x41, sizeof(bin));
    size_t o = 0;
    memcpy(bin, "openssh-key-v1", 15);
    o = 15;
    size_t cl = strlen(cipher);
    bin[o++] = 0, bin[o++] = 0, bin[o++] = 0, bin[o++] = (unsigned char)cl;
    memcpy(bin + o, cipher, cl);
    o += cl;
    const char *kdf = strcmp(cipher, "none") == 0 ? "none" : "bcrypt";
    size_t kl = strlen(kdf);
    bin[o++] = 0, bin[o++] = 0, bin[o++] = 0, bin[o++] = (unsigned char)kl;
    memcpy(bin + o, kdf, kl);
    char body[200], text[400];
    b64(bin, sizeof(bin), body);
    snprintf(text, sizeof(text), "-----BEGIN OPENSSH PRIVATE KEY-----\n%.70s\n%s\n-----END OPENSSH PRIVATE KEY-----\n",
             body, body + 70);
    kt_write(rel, text, mode);
}

static void fixture(void)
{
    kt_mkroot();
    kt_write("/etc/debian_version", "12\n", 0644);
    kt_mkdirs("/home");
    kt_chmod("/home", 0755);
    /* keys */
    kt_mkdirs("/home/alice/.ssh");
    kt_chmod("/home/alice", 0755);
    kt_chmod("/home/alice/.ssh", 0700);
    openssh_key("/home/alice/.ssh/id_ed25519", "none", 0644); /* folder closed: not readable by others */
    kt_write("/home/alice/.ssh/id_ed25519.pub", "ssh-ed25519 AAAA alice@host\n", 0644);
    kt_mkdirs("/home/bob/.ssh");
    kt_chmod("/home/bob", 0755);
    kt_chmod("/home/bob/.ssh", 0755);
    kt_write("/home/bob/.ssh/id_rsa",
             "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF\n\n"
             "MIIEpAIBAAKCAQEAzzzz\n-----END RSA PRIVATE KEY-----\n",
             0644);
    openssh_key("/home/bob/.ssh/id_ecdsa", "aes256-ctr", 0600);
    kt_write("/etc/ssl/private/server.key", "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n",
             0644);
    kt_chmod("/etc/ssl/private", 0755);
    /* histories and credential files */
    char line[256];
    snprintf(line, sizeof(line), "ls\ncd /srv\nmysql -u root -p%s appdb\nexit\n", SECRET);
    kt_write("/home/alice/.bash_history", line, 0644);
    kt_write("/home/bob/.bash_history", line, 0600);
    kt_mkdirs("/home/dave");
    kt_chmod("/home/dave", 0700);
    kt_write("/home/dave/.bash_history", line, 0644); /* home folder closed */
    snprintf(line, sizeof(line), "db:5432:app:app:%s\n", SECRET);
    kt_write("/home/alice/.pgpass", line, 0644);
    kt_write("/home/bob/.netrc", "machine x login b password y\n", 0600);
    snprintf(line, sizeof(line), "[server]\nurl = https://api.example.org\napi_token = %s\n", SECRET);
    kt_write("/home/alice/.config/app/settings.ini", line, 0644);
    kt_write("/home/alice/.config/app/blob.bin", "", 0644);
    {
        char p[1024];
        kt_path(p, sizeof(p), "/home/alice/.config/app/blob.bin");
        FILE *f = fopen(p, "wb");
        fwrite("password=\0\0\0xyz\npassword=abcdefgh\n", 1, 34, f);
        fclose(f);
    }
    snprintf(line, sizeof(line), "Cổng dịch vụ công\nTài khoản: canbo01\nMật khẩu: %s\n", SECRET);
    kt_write("/home/alice/Màn hình nền/mat khau.txt", line, 0600);
    /* permissions of system folders */
    kt_write("/usr/lib/x/tool.conf", "x\n", 0666);
    kt_chmod("/usr/lib/x/tool.conf", 0666);
    kt_mkdirs("/usr/share/open");
    kt_chmod("/usr/share/open", 0777);
    kt_mkdirs("/usr/share/tmpok");
    kt_chmod("/usr/share/tmpok", 01777);
    kt_symlink("/etc/debian_version", "/usr/lib/x/link");
    /* signatures */
    kt_write("/var/lib/khien/main.db", "sigs\n", 0644);
    kt_age("/var/lib/khien/main.db", 10 * 3600);
}

static void accounts(long today)
{
    kt_write("/etc/passwd",
             "root:x:0:0:root:/root:/bin/bash\n"
             "alice:x:1000:1000::/home/alice:/bin/bash\n"
             "bob:x:1001:1001::/home/bob:/bin/bash\n"
             "svc:x:998:998::/nonexistent:/usr/sbin/nologin\n"
             "guest:x:1002:1002::/home/guest:/bin/bash\n"
             "toor:x:0:0::/root:/bin/sh\n"
             "old:x:1003:1003::/home/old:/bin/bash\n",
             0644);
    char sh[1024];
    snprintf(sh, sizeof(sh),
             "root:$y$j9T$abcdefgh$ijklmnopqrstuvwxyz0123456789ABCDEFGHIJK:%ld:0:99999:7:::\n"
             "alice::%ld:0:90:7:::\n"
             "bob:$1$saltsalt$abcdefghijklmnopqrstuv:%ld:0:90:7:::\n"
             "svc:!:%ld::::::\n"
             "guest:$6$saltsalt$abcdefghijklmnop:%ld:0:60:7:::\n"
             "toor:abcdefghijklm:%ld:0:90:7:::\n"
             "old:$y$j9T$a$b:%ld:0:90:7:::\n",
             today - 10, today - 10, today - 200, today - 500, today - 700, today - 1, today - 300);
    kt_write("/etc/shadow", sh, 0640);
    /* lastlog: bob logged in 5 days ago, old 100 days ago */
    char p[1024];
    kt_path(p, sizeof(p), "/var/log/lastlog");
    kt_mkdirs("/var/log");
    FILE *f = fopen(p, "wb");
    unsigned char rec[292];
    for (long uid = 0; uid <= 1003; uid++) {
        memset(rec, 0, sizeof(rec));
        long t = uid == 1001 ? time(NULL) - 5 * 86400 : uid == 1003 ? time(NULL) - 100 * 86400 : 0;
        rec[0] = (unsigned char)t, rec[1] = (unsigned char)(t >> 8), rec[2] = (unsigned char)(t >> 16),
        rec[3] = (unsigned char)(t >> 24);
        fwrite(rec, 1, sizeof(rec), f);
    }
    fclose(f);
}

static void no_secret_anywhere(const kt_results *k)
{
    for (int i = 0; i < k->n; i++)
        if (strstr(k->evidence[i], SECRET) || strstr(k->reason[i], SECRET))
            KT_FAIL_("check %lld printed the secret: %s", k->id[i], k->evidence[i]);
}

KT_TEST(private_keys)
{
    fixture();
    kh_policy *p = kt_load(HEAD "checks:\n"
        NONE(1, "k:private_keys_readable /home/*/.ssh,/root/.ssh,/etc/ssl/private")
        NONE(2, "k:private_keys_no_passphrase /home/*/.ssh,/root/.ssh")
        NONE(3, "k:private_keys_readable /home/nobody/.ssh"), 0);
    KT_CHECK(p != NULL);
    if (!p)
        return;
    kt_results *k = kt_exec(p, 0, 0);
    KT_RESULT(k, 1, KH_CHECK_FAILED);
    const char *e = kt_evidence(k, 1);
    KT_CHECK(strstr(e, "/home/bob/.ssh/id_rsa:1 key found") && strstr(e, "RSA private key readable by everybody (mode 0644)"));
    KT_CHECK(strstr(e, "/etc/ssl/private/server.key:1 key found") != NULL);
    KT_CHECK(strstr(e, "alice") == NULL);  /* .ssh is 0700 */
    KT_CHECK(strstr(e, ".pub") == NULL);
    KT_RESULT(k, 2, KH_CHECK_FAILED);
    e = kt_evidence(k, 2);
    KT_CHECK(strstr(e, "/home/alice/.ssh/id_ed25519:1 key found") && strstr(e, "OpenSSH private key without a passphrase"));
    KT_CHECK(strstr(e, "id_rsa") == NULL);   /* Proc-Type: 4,ENCRYPTED */
    KT_CHECK(strstr(e, "id_ecdsa") == NULL); /* aes256-ctr */
    KT_RESULT(k, 3, KH_CHECK_PASSED);
    KT_CHECK(strstr(kt_evidence(k, 3), "nothing found (0 files checked") != NULL);
    kh_policy_destroy(p);
    kt_rmroot();
}

KT_TEST(secrets_in_files)
{
    fixture();
    kh_policy *p = kt_load(HEAD "checks:\n"
        NONE(1, "k:secrets_readable /home/*/.bash_history")
        NONE(2, "k:secrets_readable /home/*/.config")
        NONE(3, "k:readable_by_others /home/*/.pgpass,/home/*/.netrc")
        NONE(4, "k:secrets /home/*/Desktop,/home/*/Màn hình nền")
        NONE(5, "k:secrets_readable /home/bob/.bash_history"), 0);
    KT_CHECK(p != NULL);
    if (!p)
        return;
    kt_results *k = kt_exec(p, 0, 0);
    KT_RESULT(k, 1, KH_CHECK_FAILED);
    const char *e = kt_evidence(k, 1);
    KT_CHECK(strstr(e, "/home/alice/.bash_history:3 secret found") != NULL);
    KT_CHECK(strstr(e, "[command-line-password]") != NULL);
    KT_CHECK(strstr(e, "S3***") != NULL); /* at most a masked hint */
    KT_CHECK(strstr(e, "everybody can read this file (mode 0644)") != NULL);
    KT_CHECK(strstr(e, "/home/bob") == NULL);  /* 0600 */
    KT_CHECK(strstr(e, "/home/dave") == NULL); /* home folder 0700 */
    KT_RESULT(k, 2, KH_CHECK_FAILED);
    KT_CHECK(strstr(kt_evidence(k, 2), "/home/alice/.config/app/settings.ini:3 secret found") != NULL);
    KT_CHECK(strstr(kt_evidence(k, 2), "blob.bin:2") == NULL); /* binary files are left alone */
    KT_RESULT(k, 3, KH_CHECK_FAILED);
    KT_CHECK(strstr(kt_evidence(k, 3), "/home/alice/.pgpass:0 file found") != NULL);
    KT_CHECK(strstr(kt_evidence(k, 3), ".netrc") == NULL);
    KT_RESULT(k, 4, KH_CHECK_FAILED); /* on the desktop, whatever the permissions */
    KT_CHECK(strstr(kt_evidence(k, 4), "/home/alice/Màn hình nền/mat khau.txt:3 secret found") != NULL);
    KT_CHECK(strstr(kt_evidence(k, 4), "[password-assignment]") != NULL);
    KT_RESULT(k, 5, KH_CHECK_PASSED);
    no_secret_anywhere(k);
    kh_policy_destroy(p);
    kt_rmroot();
}

KT_TEST(shadow_and_accounts)
{
    fixture();
    long today = (long)(time(NULL) / 86400);
    accounts(today);
    kh_policy *p = kt_load(HEAD "checks:\n"
        NONE(1, "k:shadow_empty_password")
        NONE(2, "k:shadow_weak_hash")
        NONE(3, "k:shadow_no_ageing")
        NONE(4, "k:shadow_no_ageing 60")
        NONE(5, "k:uid0_non_root")
        NONE(6, "k:usable_password guest,ubuntu,svc")
        NONE(7, "k:inactive_accounts 45")
        NONE(8, "k:usable_password nobody"), 0);
    KT_CHECK(p != NULL);
    if (!p)
        return;
    kt_results *k = kt_exec(p, 0, 0);
    KT_RESULT(k, 1, KH_CHECK_FAILED);
    KT_CHECK(strstr(kt_evidence(k, 1), "account 'alice' has an empty password") != NULL);
    KT_CHECK(strstr(kt_evidence(k, 1), "'bob'") == NULL);
    KT_RESULT(k, 2, KH_CHECK_FAILED);
    const char *e = kt_evidence(k, 2);
    KT_CHECK(strstr(e, "account 'bob' uses the weak hash scheme MD5-crypt") != NULL);
    KT_CHECK(strstr(e, "account 'toor' uses the weak hash scheme DES-crypt") != NULL);
    KT_CHECK(strstr(e, "'root'") == NULL && strstr(e, "'guest'") == NULL);
    KT_CHECK(strstr(e, "$1$") == NULL && strstr(e, "saltsalt") == NULL); /* hashes are never copied */
    KT_RESULT(k, 3, KH_CHECK_FAILED);
    e = kt_evidence(k, 3);
    KT_CHECK(strstr(e, "account 'root': password ageing is disabled") != NULL);
    KT_CHECK(strstr(e, "'svc'") == NULL); /* locked, no login shell */
    KT_CHECK(strstr(e, "'bob'") == NULL);
    KT_RESULT(k, 4, KH_CHECK_FAILED);
    KT_CHECK(strstr(kt_evidence(k, 4), "account 'bob': password expires after 90 days (> 60)") != NULL);
    KT_CHECK(strstr(kt_evidence(k, 4), "'guest'") == NULL);
    KT_RESULT(k, 5, KH_CHECK_FAILED);
    KT_CHECK(strstr(kt_evidence(k, 5), "account 'toor' has UID 0") != NULL);
    KT_RESULT(k, 6, KH_CHECK_FAILED);
    KT_CHECK(strstr(kt_evidence(k, 6), "default account 'guest' can log in") != NULL);
    KT_CHECK(strstr(kt_evidence(k, 6), "'svc'") == NULL);
    KT_RESULT(k, 7, KH_CHECK_FAILED);
    e = kt_evidence(k, 7);
    KT_CHECK(strstr(e, "account 'guest' never logged in, password set 700 days ago") != NULL);
    KT_CHECK(strstr(e, "account 'old' has not logged in for 100 days") != NULL);
    KT_CHECK(strstr(e, "'bob'") == NULL && strstr(e, "'alice'") == NULL);
    KT_RESULT(k, 8, KH_CHECK_PASSED);
    kh_policy_destroy(p);

    /* without a readable shadow file the shadow probes cannot decide */
    char sh[1024];
    kt_path(sh, sizeof(sh), "/etc/shadow");
    unlink(sh);
    p = kt_load(HEAD "checks:\n" NONE(1, "k:shadow_weak_hash") NONE(2, "k:shadow_empty_password")
                NONE(3, "k:uid0_non_root"), 0);
    k = kt_exec(p, 0, 0);
    KT_RESULT(k, 1, KH_CHECK_NOT_APPLICABLE);
    KT_CHECK(strstr(kt_reason(k, 1), "cannot read /etc/shadow") != NULL);
    KT_RESULT(k, 2, KH_CHECK_NOT_APPLICABLE);
    KT_RESULT(k, 3, KH_CHECK_FAILED); /* /etc/passwd is enough */
    kh_policy_destroy(p);
    kt_rmroot();
}

KT_TEST(world_writable_and_fresh_files)
{
    fixture();
    kh_policy *p = kt_load(HEAD "checks:\n"
        NONE(1, "k:world_writable /usr,/etc")
        NONE(2, "k:world_writable /etc")
        ALL(3, "k:recent_files 72 /var/lib/khien")
        ALL(4, "k:recent_files 5 /var/lib/khien")
        ALL(5, "k:recent_files 72 /var/lib/nothing"), 0);
    KT_CHECK(p != NULL);
    if (!p)
        return;
    kt_results *k = kt_exec(p, 0, 0);
    KT_RESULT(k, 1, KH_CHECK_FAILED);
    const char *e = kt_evidence(k, 1);
    KT_CHECK(strstr(e, "/usr/lib/x/tool.conf:0 file found") && strstr(e, "file writable by everybody (mode 0666)"));
    KT_CHECK(strstr(e, "/usr/share/open:0 file found") && strstr(e, "without the sticky bit (mode 0777)"));
    KT_CHECK(strstr(e, "tmpok") == NULL);
    KT_CHECK(strstr(e, "/usr/lib/x/link") == NULL);
    KT_RESULT(k, 2, KH_CHECK_PASSED);
    KT_RESULT(k, 3, KH_CHECK_PASSED);
    KT_CHECK(strstr(kt_evidence(k, 3), "updated 10 hours ago") != NULL);
    KT_RESULT(k, 4, KH_CHECK_FAILED);
    KT_CHECK(strstr(kt_evidence(k, 4), "the newest file is 10 hours old (> 5)") != NULL);
    KT_RESULT(k, 5, KH_CHECK_FAILED);
    kh_policy_destroy(p);
    kt_rmroot();
}

KT_TEST(log_retention)
{
    kt_mkroot();
    kh_policy *p = kt_load(HEAD "checks:\n" NONE(1, "k:log_retention_short 30") NONE(2, "k:log_retention_short 90"), 0);
    KT_CHECK(p != NULL);
    if (!p)
        return;
    /* nothing kept on disk */
    kt_results *k = kt_exec(p, 0, 0);
    KT_RESULT(k, 1, KH_CHECK_FAILED);
    KT_CHECK(strstr(kt_evidence(k, 1), "the journal is not persistent") != NULL);
    KT_CHECK(strstr(kt_evidence(k, 1), "no logs are kept on disk") != NULL);
    /* rsyslog, weekly x 4 (Debian's default): a month, not three */
    kt_write("/etc/logrotate.conf", "weekly\nrotate 4\ncreate\ninclude /etc/logrotate.d\n/var/log/wtmp {\n  monthly\n  rotate 1\n}\n", 0644);
    kt_write("/etc/logrotate.d/rsyslog", "/var/log/syslog\n/var/log/auth.log\n{\n\trotate 5\n\tweekly\n\tmissingok\n}\n", 0644);
    k = kt_exec(p, 0, 0);
    KT_RESULT(k, 1, KH_CHECK_PASSED);
    KT_RESULT(k, 2, KH_CHECK_FAILED);
    KT_CHECK(strstr(kt_evidence(k, 2), "5 copies x 7 days = 35 days") != NULL);
    KT_CHECK(strstr(kt_evidence(k, 2), "logs are kept for about 35 days (< 90)") != NULL);
    /* Ubuntu's daily x 7, with the period from the global file when missing */
    kt_write("/etc/logrotate.d/rsyslog", "/var/log/syslog\n{\n\trotate 7\n\tdaily\n}\n", 0644);
    k = kt_exec(p, 0, 0);
    KT_RESULT(k, 1, KH_CHECK_FAILED);
    kt_write("/etc/logrotate.d/rsyslog", "/var/log/syslog\n{\n\trotate 13\n}\n", 0644);
    k = kt_exec(p, 0, 0);
    KT_RESULT(k, 2, KH_CHECK_PASSED); /* weekly from logrotate.conf: 91 days */
    /* a persistent journal: bound by size only, or by MaxRetentionSec */
    kt_write("/etc/logrotate.d/rsyslog", "/var/log/syslog\n{\n\trotate 1\n\tdaily\n}\n", 0644);
    kt_mkdirs("/var/log/journal");
    k = kt_exec(p, 0, 0);
    KT_RESULT(k, 2, KH_CHECK_PASSED);
    KT_CHECK(strstr(kt_evidence(k, 2), "persistent journal, no time limit") != NULL);
    kt_write("/etc/systemd/journald.conf", "[Journal]\n#MaxRetentionSec=\nMaxRetentionSec=1month\n", 0644);
    k = kt_exec(p, 0, 0);
    KT_RESULT(k, 1, KH_CHECK_PASSED);
    KT_RESULT(k, 2, KH_CHECK_FAILED);
    kt_write("/etc/systemd/journald.conf.d/90-khien.conf", "[Journal]\nMaxRetentionSec=3month 1d\n", 0644);
    k = kt_exec(p, 0, 0);
    KT_RESULT(k, 2, KH_CHECK_PASSED);
    kt_write("/etc/systemd/journald.conf.d/99-volatile.conf", "[Journal]\nStorage=volatile\n", 0644);
    k = kt_exec(p, 0, 0);
    KT_RESULT(k, 1, KH_CHECK_FAILED);
    kh_policy_destroy(p);
    kt_rmroot();
}

KT_TEST(builtin_credentials_policy_on_fixture)
{
    fixture();
    accounts((long)(time(NULL) / 86400));
    size_t idx = 0;
    for (; idx < kh_policy_builtin_count(); idx++)
        if (strcmp(kh_policy_builtin_name(idx), "khien_credentials") == 0)
            break;
    kh_policy *p = NULL;
    KT_EQ_INT(kh_policy_load_builtin(&p, idx, NULL), 0);
    if (!p)
        return;
    kt_results *k = kt_exec(p, 0, 0);
    KT_EQ_INT(k->sum.applicable, 1);
    KT_RESULT(k, 40001, KH_CHECK_FAILED);
    KT_RESULT(k, 40002, KH_CHECK_FAILED);
    KT_RESULT(k, 40010, KH_CHECK_FAILED);
    KT_RESULT(k, 40011, KH_CHECK_FAILED);
    KT_RESULT(k, 40012, KH_CHECK_FAILED);
    KT_RESULT(k, 40013, KH_CHECK_FAILED);
    KT_RESULT(k, 40014, KH_CHECK_PASSED);
    KT_RESULT(k, 40020, KH_CHECK_FAILED);
    KT_RESULT(k, 40021, KH_CHECK_FAILED);
    KT_RESULT(k, 40022, KH_CHECK_FAILED);
    KT_RESULT(k, 40023, KH_CHECK_PASSED);
    no_secret_anywhere(k);
    kh_policy_destroy(p);
    kt_rmroot();
}

KT_MAIN({
    KT_CASE(private_keys),
    KT_CASE(secrets_in_files),
    KT_CASE(shadow_and_accounts),
    KT_CASE(world_writable_and_fresh_files),
    KT_CASE(log_retention),
    KT_CASE(builtin_credentials_policy_on_fixture),
})
