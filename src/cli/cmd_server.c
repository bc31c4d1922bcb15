/* Khiên — cli: `khien server`, the centre.
 *
 *   khien server --data DIR [--db postgresql://...] [--listen ADDR:PORT] [--threads N] [--url URL]
 *   khien server copy-db --data DIR [--db postgresql://...] --to LOCATION
 *
 * The data folder always holds the CA, the server certificate and the
 * bundle key; the database is DIR/khien.db (SQLite) unless --db names a
 * PostgreSQL database (a province's centre). The URL's password is never
 * printed (shown as ***); PGPASSWORD or ~/.pgpass keep it off the command
 * line altogether.
 * Runs in the foreground until SIGINT/SIGTERM. On the first start with an
 * empty DIR it prints, once, the administrator's one-time password, the
 * CA's SHA-256 fingerprint (what `khien agent enroll --ca-sha256` takes)
 * and the URL. Later starts print the fingerprint and URL only.
 *
 * `copy-db` moves a centre's database to another backend (store/copy.c):
 * from DIR/khien.db, or the --db database, into LOCATION (a postgresql://
 * URL or an SQLite file), which must be new or empty. The server must be
 * stopped while it runs. Then `khien server --data DIR --db URL` starts the
 * same centre (same CA, keys, users, hosts, findings) on PostgreSQL.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cmd.h"
#include "khien/error.h"
#include "server/server.h"
#include "store/store.h"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void usage(FILE *f)
{
    fprintf(f, "Cách dùng / Usage: khien server --data DIR [--db URL] [--listen ADDR:PORT] [--threads N] [--url URL]\n"
               "                   khien server copy-db --data DIR [--db URL] --to LOCATION   (--help)\n\n"
               "  --data DIR          thư mục dữ liệu (tạo mới nếu chưa có, quyền 0700) / data folder (created 0700)\n"
               "  --db URL            cơ sở dữ liệu PostgreSQL thay cho SQLite DIR/khien.db /\n"
               "                      PostgreSQL database instead of SQLite DIR/khien.db:\n"
               "                      postgresql://USER[:PASSWORD]@HOST[:PORT]/DB[?sslmode=require]\n"
               "                      (mật khẩu tốt hơn trong PGPASSWORD hoặc ~/.pgpass / better keep the password\n"
               "                      in PGPASSWORD or ~/.pgpass; alias --database)\n"
               "  --listen ADDR:PORT  địa chỉ nghe HTTPS / HTTPS listen address (default 127.0.0.1:8443)\n"
               "  --threads N         số luồng xử lý / worker threads (default 8)\n"
               "  --url URL           địa chỉ công bố / public URL shown to users and agents\n");
}

static void copied_table(const char *table, int64_t rows, void *payload)
{
    (void)payload;
    printf("  %-16s %" PRId64 "\n", table, rows);
    fflush(stdout);
}

static int server_copy_db(int argc, char **argv)
{
    const char *data = NULL, *db = NULL, *to = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            printf("Cách dùng / Usage: khien server copy-db --data DIR [--db URL] --to LOCATION\n\n"
                   "  Chép toàn bộ cơ sở dữ liệu của trung tâm (DIR/khien.db, hoặc --db) sang LOCATION\n"
                   "  (URL postgresql://... hoặc tệp SQLite) mới hoặc trống. Dừng máy chủ trước khi chép.\n"
                   "  Copies the centre's whole database (DIR/khien.db, or --db) into LOCATION (a\n"
                   "  postgresql://... URL or an SQLite file), new or empty. Stop the server first.\n"
                   "  Then: khien server --data DIR --db URL\n");
            return 0;
        } else if (strcmp(a, "--data") == 0 && v) {
            data = v;
            i++;
        } else if ((strcmp(a, "--db") == 0 || strcmp(a, "--database") == 0) && v) {
            db = v;
            i++;
        } else if (strcmp(a, "--to") == 0 && v) {
            to = v;
            i++;
        } else {
            kh_cli_errorf("tùy chọn không hợp lệ / invalid option '%s' (khien server copy-db --help)", a);
            return KH_EXIT_ERROR;
        }
    }
    if ((!data && !db) || !to) {
        kh_cli_errorf("cần --data DIR (hoặc --db URL) và --to LOCATION / --data DIR (or --db URL) and --to LOCATION "
                      "are required");
        return KH_EXIT_ERROR;
    }
    char src[4096];
    if (db)
        snprintf(src, sizeof(src), "%s", db);
    else if ((size_t)snprintf(src, sizeof(src), "%s/khien.db", data) >= sizeof(src)) {
        kh_cli_errorf("--data: đường dẫn quá dài / path too long");
        return KH_EXIT_ERROR;
    }
    const kh_store_backend *sbe = kh_store_backend_for(src), *dbe = kh_store_backend_for(to);
    if (sbe == &kh_store_backend_sqlite && access(src, R_OK | W_OK) != 0) {
        kh_cli_errorf("%s: không có cơ sở dữ liệu của trung tâm / no centre database here", src);
        return KH_EXIT_ERROR;
    }
    if (strcmp(src, to) == 0) {
        kh_cli_errorf("--to là chính cơ sở dữ liệu nguồn / --to is the source database itself");
        return KH_EXIT_ERROR;
    }
    char shown_src[512], shown_to[512], err[1024] = "";
    kh_store_redact(src, shown_src, sizeof(shown_src));
    kh_store_redact(to, shown_to, sizeof(shown_to));
    kh_store *from = NULL, *dst = NULL;
    int rc = kh_store_open(&from, sbe, src, err, sizeof(err));
    if (rc < 0) {
        kh_cli_errorf("%s: %s", shown_src, err[0] ? err : kh_strerror(rc));
        return KH_EXIT_ERROR;
    }
    if ((rc = kh_store_open(&dst, dbe, to, err, sizeof(err))) < 0) {
        kh_cli_errorf("%s: %s", shown_to, err[0] ? err : kh_strerror(rc));
        kh_store_close(from);
        return KH_EXIT_ERROR;
    }
    printf("Chép / copying %s (%s) -> %s (%s)\n", shown_src, sbe->name, shown_to, dbe->name);
    rc = kh_store_copy(from, dst, copied_table, NULL, err, sizeof(err));
    kh_store_close(dst);
    kh_store_close(from);
    if (rc < 0) {
        kh_cli_errorf("chép thất bại, đích không bị thay đổi / copy failed, the destination is unchanged: %s",
                      err[0] ? err : kh_strerror(rc));
        return KH_EXIT_ERROR;
    }
    if (dbe == &kh_store_backend_pg)
        printf("Xong / done. Chạy / run: khien server --data DIR --db %s\n", shown_to);
    else
        printf("Xong / done. Tệp này là khien.db của một thư mục dữ liệu / this file is a data folder's khien.db\n");
    return 0;
}

int cmd_server(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "copy-db") == 0)
        return server_copy_db(argc - 1, argv + 1);
    kh_server_options o = KH_SERVER_OPTIONS_INIT;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--data") == 0 && v) {
            o.data_dir = v;
            i++;
        } else if ((strcmp(a, "--db") == 0 || strcmp(a, "--database") == 0) && v) {
            if (kh_store_backend_for(v) != &kh_store_backend_pg) {
                kh_cli_errorf("--db phải là URL postgresql://... (SQLite là mặc định, trong --data) / --db must be a "
                              "postgresql://... URL (SQLite is the default, inside --data)");
                return KH_EXIT_ERROR;
            }
            o.database = v;
            i++;
        } else if (strcmp(a, "--listen") == 0 && v) {
            o.listen = v;
            i++;
        } else if (strcmp(a, "--url") == 0 && v) {
            o.public_url = v;
            i++;
        } else if (strcmp(a, "--threads") == 0 && v) {
            char *end = NULL;
            long n = strtol(v, &end, 10);
            if (!end || *end || n < 2 || n > 1024) {
                kh_cli_errorf("--threads phải trong 2..1024 / --threads must be 2..1024");
                return KH_EXIT_ERROR;
            }
            o.threads = (unsigned)n;
            i++;
        } else {
            kh_cli_errorf("tùy chọn không hợp lệ / invalid option '%s'", a);
            usage(stderr);
            return KH_EXIT_ERROR;
        }
    }
    if (!o.data_dir) {
        kh_cli_errorf("thiếu --data DIR / --data DIR is required");
        usage(stderr);
        return KH_EXIT_ERROR;
    }
    char err[1024] = "";
    kh_server_first_start first;
    kh_server *s = NULL;
    int rc = kh_server_create(&s, &o, &first, err, sizeof(err));
    if (rc < 0) {
        kh_cli_errorf("%s", err[0] ? err : kh_strerror(rc));
        return KH_EXIT_ERROR;
    }
    if ((rc = kh_server_start(s, err, sizeof(err))) < 0) {
        kh_cli_errorf("%s", err[0] ? err : kh_strerror(rc));
        kh_server_destroy(s);
        return KH_EXIT_ERROR;
    }
    printf("Khiên: trung tâm đang chạy / centre running at %s\n", kh_server_url(s));
    printf("CA SHA-256: %s\n", kh_server_ca_sha256(s));
    if (o.database) {
        char shown[512];
        kh_store_redact(o.database, shown, sizeof(shown));
        printf("Cơ sở dữ liệu / database: %s\n", shown);
    }
    if (first.created) {
        printf("Tài khoản quản trị / administrator: %s\n", first.admin_user);
        printf("Mật khẩu dùng một lần (chỉ hiện lần này) / one-time password (shown only now): %s\n",
               first.admin_password);
        memset(first.admin_password, 0, sizeof(first.admin_password));
    }
    fflush(stdout);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    while (!stop_flag)
        pause();
    printf("Khiên: dừng / stopping\n");
    kh_server_destroy(s);
    return 0;
}
