/* Tests of src/audit/secrets.c: every kind of secret is found, placeholders
 * are not, and the hint never holds the secret. */
#include "kt_audit.h"

/* Scans one line; returns the first hit's kind ("" if none) and checks that
 * no hint contains `secret` (when given). */
static const char *kind_of(const char *line, const char *base, const char *secret)
{
    static char kind[64];
    kh_secret_hit h[4];
    size_t n = kh_secret_scan_line(line, strlen(line), base, h, 4);
    for (size_t i = 0; i < n; i++) {
        if (secret && strlen(secret) >= 3 && strstr(h[i].hint, secret))
            KT_FAIL_("hint '%s' holds the secret of '%s'", h[i].hint, line);
        if (!strstr(h[i].hint, "***"))
            KT_FAIL_("hint '%s' is not masked", h[i].hint);
        KT_CHECK(strstr(h[i].label, " / ") != NULL); /* bilingual */
    }
    snprintf(kind, sizeof(kind), "%s", n ? h[0].kind : "");
    return kind;
}

static const char *hint_of(const char *line)
{
    static char hint[32];
    kh_secret_hit h[4];
    size_t n = kh_secret_scan_line(line, strlen(line), NULL, h, 4);
    snprintf(hint, sizeof(hint), "%s", n ? h[0].hint : "");
    return hint;
}

KT_TEST(private_keys)
{
    KT_EQ_STR(kind_of("-----BEGIN OPENSSH PRIVATE KEY-----", NULL, NULL), "private-key");
    KT_EQ_STR(kind_of("-----BEGIN RSA PRIVATE KEY-----", NULL, NULL), "private-key");
    KT_EQ_STR(kind_of("-----BEGIN EC PRIVATE KEY-----", NULL, NULL), "private-key");
    KT_EQ_STR(kind_of("-----BEGIN PRIVATE KEY-----", NULL, NULL), "private-key");
    KT_EQ_STR(kind_of("-----BEGIN ENCRYPTED PRIVATE KEY-----", NULL, NULL), "private-key");
    KT_EQ_STR(kind_of("-----BEGIN CERTIFICATE-----", NULL, NULL), "");
    KT_EQ_STR(kind_of("-----BEGIN PUBLIC KEY-----", NULL, NULL), "");
    const char *t;
    KT_CHECK(kh_secret_key_header("-----BEGIN OPENSSH PRIVATE KEY-----", 35, &t) && strcmp(t, "OPENSSH ") == 0);
}

KT_TEST(token_formats)
{
    KT_EQ_STR(kind_of("aws_access_key_id = AKIAIOSFODNN7EXAMPLE", NULL, "IOSFODNN7EXAMPLE"), "aws-access-key");
    KT_EQ_STR(kind_of("AKIAIOSFODNN7EXAMPLEX", NULL, NULL), ""); /* 17 characters: not a key id */
    KT_EQ_STR(kind_of("export GH=ghp_0123456789abcdefghijABCDEFGHIJ012345", NULL, "0123456789abcdef"),
              "github-token");
    KT_EQ_STR(kind_of("github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", NULL, "11ABCDEFG0123"),
              "github-token");
    KT_EQ_STR(kind_of("token: glpat-abcdefghij0123456789", NULL, "abcdefghij0123456789"), "gitlab-token");
    KT_EQ_STR(kind_of("SLACK=xoxb-1234567890-abcdefghij", NULL, "1234567890-abcdefghij"), "slack-token");
    KT_EQ_STR(kind_of("https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX", NULL, "T0000/B0000"),
              "slack-webhook");
    KT_EQ_STR(kind_of("key=AIzaSyA1234567890abcdefghijklmnopqrstuv", NULL, "SyA1234567890abc"), "google-api-key");
    KT_EQ_STR(kind_of("GOCSPX-abcdefghijklmnopqrstuvwxyz12", NULL, "abcdefghijklmnop"), "google-oauth-secret");
    KT_EQ_STR(kind_of("Authorization: Bearer ya29.a0AfH6SMBx1234567890abcdefghijklmnop", NULL, "a0AfH6SMBx12345"),
              "google-oauth-token");
    KT_EQ_STR(kind_of("sk_live_0123456789abcdefghij", NULL, "0123456789abcdef"), "stripe-key");
    KT_EQ_STR(kind_of("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
                      NULL, "hbGciOiJIUzI1NiJ9"),
              "jwt");
    KT_EQ_STR(hint_of("ghp_0123456789abcdefghijABCDEFGHIJ012345"), "ghp_***");
}

KT_TEST(assignments)
{
    KT_EQ_STR(kind_of("password=Sup3rS3cret!", NULL, "Sup3rS3cret"), "password-assignment");
    KT_EQ_STR(kind_of("DB_PASSWORD=\"Sup3rS3cret!\"", NULL, "Sup3rS3cret"), "password-assignment");
    KT_EQ_STR(kind_of("  \"password\": \"hunter22\",", NULL, "hunter22"), "password-assignment");
    KT_EQ_STR(kind_of("passwd: abc123xyz", NULL, "abc123xyz"), "password-assignment");
    KT_EQ_STR(kind_of("secret=0a1b2c3d4e5f", NULL, "0a1b2c3d4e5f"), "secret-assignment");
    KT_EQ_STR(kind_of("API_KEY=abcdef123456", NULL, "abcdef123456"), "secret-assignment");
    KT_EQ_STR(kind_of("export GITHUB_TOKEN=abcdef123456", NULL, "abcdef123456"), "secret-assignment");
    KT_EQ_STR(kind_of("Mật khẩu: 12345678", NULL, "12345678"), "password-assignment");
    KT_EQ_STR(kind_of("MẬT KHẨU = matkhau2024", NULL, "matkhau2024"), "password-assignment");
    KT_EQ_STR(kind_of("mat khau: 12345678", NULL, "12345678"), "password-assignment");
    KT_EQ_STR(kind_of("<Pass encoding=\"base64\">c2VjcmV0cGFzcw==</Pass>", NULL, "c2VjcmV0cGFzcw=="),
              "password-assignment");
    KT_EQ_STR(hint_of("password=Sup3rS3cret!"), "Su***");
    KT_EQ_STR(hint_of("password=abc123"), "***"); /* short values: no characters at all */
}

KT_TEST(not_secrets)
{
    KT_EQ_STR(kind_of("password=", NULL, NULL), "");
    KT_EQ_STR(kind_of("password=$DB_PASSWORD", NULL, NULL), "");
    KT_EQ_STR(kind_of("password: ${SECRET}", NULL, NULL), "");
    KT_EQ_STR(kind_of("password = <your password here>", NULL, NULL), "");
    KT_EQ_STR(kind_of("password=********", NULL, NULL), "");
    KT_EQ_STR(kind_of("password: null", NULL, NULL), "");
    KT_EQ_STR(kind_of("password = getpass()", NULL, NULL), "");
    KT_EQ_STR(kind_of("PASSWORD_FILE=/run/secrets/db", NULL, NULL), "");
    KT_EQ_STR(kind_of("if password == expected:", NULL, NULL), "");
    KT_EQ_STR(kind_of("bypass=yes please", NULL, NULL), "");
    KT_EQ_STR(kind_of("admin ALL=(ALL) NOPASSWD:ALL", NULL, NULL), "");
    KT_EQ_STR(kind_of("tokenizer = Tokenizer", NULL, NULL), "");
    KT_EQ_STR(kind_of("passwords are required", NULL, NULL), "");
    KT_EQ_STR(kind_of("auth: required", NULL, NULL), "");
    KT_EQ_STR(kind_of("PermitRootLogin no", NULL, NULL), "");
    KT_EQ_STR(kind_of("https://example.org/path?q=1", NULL, NULL), "");
    KT_EQ_STR(kind_of("mysql -u root -p", NULL, NULL), "");
}

KT_TEST(urls_and_command_lines)
{
    KT_EQ_STR(kind_of("https://user:S3cretPass@git.example.org/repo.git", NULL, "S3cretPass"), "url-credentials");
    KT_EQ_STR(kind_of("postgres://app:dbpass123@db:5432/app", NULL, "dbpass123"), "url-credentials");
    KT_EQ_STR(kind_of("https://user:${TOKEN}@example.org", NULL, NULL), "");
    KT_EQ_STR(kind_of("mysql -u root -pS3cretPass db", NULL, "S3cretPass"), "command-line-password");
    KT_EQ_STR(kind_of("sshpass -p 'hunter2hunter' ssh admin@10.0.0.1", NULL, "hunter2hunter"),
              "command-line-password");
    KT_EQ_STR(kind_of("curl -u admin:S3cretPass https://api.example.org", NULL, "S3cretPass"), "command-line-password");
}

KT_TEST(file_formats)
{
    KT_EQ_STR(kind_of("db.example.org:5432:app:appuser:S3cretPass", ".pgpass", "S3cretPass"), "pgpass-entry");
    KT_EQ_STR(kind_of("# host:port:db:user:password", ".pgpass", NULL), "");
    KT_EQ_STR(kind_of("machine ftp.example.org login bob password S3cretPass", ".netrc", "S3cretPass"),
              "netrc-password");
    KT_EQ_STR(kind_of("machine ftp.example.org login bob password S3cretPass", "notes.txt", NULL), "");
}

KT_TEST(quote_never_shows_secrets)
{
    kh_buf b = KH_BUF_INIT(4096);
    kh_ev_quote(&b, "/etc/app.conf", "password=Sup3rS3cret!", 21);
    KT_CHECK(strstr(b.data, "Sup3rS3cret") == NULL);
    KT_CHECK(strstr(b.data, "holds a secret") != NULL);
    kh_ev_quote(&b, "/etc/shadow", "root:$6$abc$def:19000:0:99999:7:::", 34);
    KT_CHECK(strstr(b.data, "$6$") == NULL);
    kh_ev_quote(&b, "/etc/ssh/sshd_config", "PermitRootLogin no", 18);
    KT_EQ_STR(b.data, "PermitRootLogin no");
    char longline[400];
    memset(longline, 'a', sizeof(longline) - 1);
    longline[sizeof(longline) - 1] = 0;
    kh_ev_quote(&b, "/x", longline, strlen(longline));
    KT_CHECK(b.len < 200); /* cut */
    kh_ev_quote(&b, "/x", "a\tb\033[31mc", 10);
    KT_CHECK(strchr(b.data, '\033') == NULL); /* no terminal escapes from files */
    kh_buf_dispose(&b);
}

KT_MAIN({
    KT_CASE(private_keys),
    KT_CASE(token_formats),
    KT_CASE(assignments),
    KT_CASE(not_secrets),
    KT_CASE(urls_and_command_lines),
    KT_CASE(file_formats),
    KT_CASE(quote_never_shows_secrets),
})
