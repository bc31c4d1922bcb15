/* Khiên — cli: `khien agent`, the endpoint side of the centre.
 *
 * `khien agent enroll` joins this machine to a centre (pinning its CA by
 * fingerprint), `khien agent run` reports to it (foreground; systemd runs it
 * from dist/khien-agent.service), `khien agent status` shows the enrollment
 * and the queue. The work is in src/agent/; this file parses options,
 * prints the agent's messages with a time stamp and turns results into exit
 * codes: enroll 0 done, 2 refused or failed; run --once 0 everything
 * delivered, 1 events kept in the queue for later, 2 error.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent.h"
#include "cli/cmd.h"
#include "khien/khien.h"
#include "util/util.h"

static volatile int stop_flag;

static void on_signal(int sig)
{
    KH_UNUSED(sig);
    stop_flag = 1;
}

typedef struct log_opts {
    int verbose, quiet, stamp;
} log_opts;

static void log_cb(int level, const char *msg, void *payload)
{
    const log_opts *lo = payload;
    if (level == KH_LOG_DEBUG && !lo->verbose)
        return;
    if (level == KH_LOG_INFO && lo->quiet)
        return;
    const char *tag = level == KH_LOG_ERROR ? "lỗi / error: " : level == KH_LOG_WARN ? "cảnh báo / warning: " : "";
    if (lo->stamp) {
        char ts[32];
        time_t t = time(NULL);
        struct tm tm;
        localtime_r(&t, &tm);
        strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S", &tm);
        fprintf(stderr, "%s khien-agent: %s%s\n", ts, tag, msg);
    } else {
        fprintf(stderr, "khien agent: %s%s\n", tag, msg);
    }
}

static void usage(FILE *f)
{
    fputs("Cách dùng / Usage:\n"
          "  khien agent enroll --server URL --token TOKEN --ca-sha256 FINGERPRINT [--dir DIR] [--hostname NAME] [--force]\n"
          "  khien agent run [--dir DIR] [--once] [--policy FILE] [--verbose|--quiet]\n"
          "  khien agent status [--dir DIR]\n\n"
          "Tác tử báo cáo về trung tâm (khien server) / The agent that reports to the centre (khien server).\n\n"
          "  --server URL          địa chỉ trung tâm / the centre's address (https://host:8443)\n"
          "  --token TOKEN         mã đăng ký do cán bộ đơn vị tạo / enrollment token from the unit's officer\n"
          "  --ca-sha256 FPR       dấu vân tay SHA-256 của CA trung tâm (khien server in ra) /\n"
          "                        SHA-256 fingerprint of the centre's CA (printed by khien server)\n"
          "  --dir DIR             thư mục trạng thái / state folder (default " KH_AGENT_DEFAULT_DIR ")\n"
          "  --once                chạy mọi nhiệm vụ một lần, gửi, rồi thoát / run every task once, deliver, exit\n"
          "  --policy FILE         chính sách cục bộ (JSON, chỉ root ghi được) / local policy (JSON, root-only writable)\n"
          "  --root DIR            kiểm tra hệ thống nằm trong DIR (thử nghiệm) / inspect the system under DIR (tests)\n"
          "  --max-events N        giới hạn hàng đợi / queue bound (default 100000)\n"
          "  -v, --verbose / -q, --quiet\n\n"
          "Mã thoát / Exit status: enroll 0 done, 2 refused or error; run --once 0 all delivered,\n"
          "  1 events kept for later (centre unreachable or refusing), 2 error.\n",
          f);
}

enum { O_SERVER = 256, O_TOKEN, O_CA, O_DIR, O_HOSTNAME, O_FORCE, O_ONCE, O_POLICY, O_ROOT, O_MAXEV };

static const struct option longopts[] = {
    {"server", required_argument, 0, O_SERVER},
    {"token", required_argument, 0, O_TOKEN},
    {"ca-sha256", required_argument, 0, O_CA},
    {"dir", required_argument, 0, O_DIR},
    {"hostname", required_argument, 0, O_HOSTNAME},
    {"force", no_argument, 0, O_FORCE},
    {"once", no_argument, 0, O_ONCE},
    {"policy", required_argument, 0, O_POLICY},
    {"root", required_argument, 0, O_ROOT},
    {"max-events", required_argument, 0, O_MAXEV},
    {"verbose", no_argument, 0, 'v'},
    {"quiet", no_argument, 0, 'q'},
    {"help", no_argument, 0, 'h'},
    {0, 0, 0, 0},
};

int cmd_agent(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return KH_EXIT_ERROR;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0) {
        usage(stdout);
        return KH_EXIT_CLEAN;
    }
    if (strcmp(sub, "enroll") != 0 && strcmp(sub, "run") != 0 && strcmp(sub, "status") != 0) {
        kh_cli_errorf("lệnh con không biết / unknown subcommand '%s' (enroll, run, status)", sub);
        return KH_EXIT_ERROR;
    }
    kh_agent_enroll_options eo = {0};
    kh_agent_run_options ro = {0};
    log_opts lo = {0, 0, 0};
    const char *dir = NULL;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc - 1, argv + 1, "vqh", longopts, NULL)) != -1) {
        uint64_t v;
        switch (opt) {
        case O_SERVER: eo.server = optarg; break;
        case O_TOKEN: eo.token = optarg; break;
        case O_CA: eo.ca_sha256 = optarg; break;
        case O_DIR: dir = optarg; break;
        case O_HOSTNAME: eo.hostname = optarg; break;
        case O_FORCE: eo.force = 1; break;
        case O_ONCE: ro.once = 1; break;
        case O_POLICY: ro.policy_file = optarg; break;
        case O_ROOT: ro.root = optarg; break;
        case O_MAXEV:
            if (kh_parse_u64(optarg, strlen(optarg), &v) < 0 || v == 0 || v > 10000000) {
                kh_cli_errorf("--max-events: 1..10000000");
                return KH_EXIT_ERROR;
            }
            ro.max_events = (size_t)v;
            break;
        case 'v': lo.verbose = 1; break;
        case 'q': lo.quiet = 1; break;
        case 'h': usage(stdout); return KH_EXIT_CLEAN;
        default: fprintf(stderr, "Try 'khien agent --help'.\n"); return KH_EXIT_ERROR;
        }
    }
    if (optind < argc - 1) {
        kh_cli_errorf("đối số thừa / unexpected argument '%s'", argv[optind + 1]);
        return KH_EXIT_ERROR;
    }
    if (strcmp(sub, "enroll") == 0) {
        if (!eo.server || !eo.token || !eo.ca_sha256) {
            kh_cli_errorf("enroll cần / needs --server, --token và / and --ca-sha256");
            return KH_EXIT_ERROR;
        }
        eo.dir = dir;
        eo.log = log_cb;
        eo.payload = &lo;
        return kh_agent_enroll(&eo) == 0 ? KH_EXIT_CLEAN : KH_EXIT_ERROR;
    }
    if (strcmp(sub, "status") == 0)
        return kh_agent_status(dir, log_cb, &lo) == 0 ? KH_EXIT_CLEAN : KH_EXIT_ERROR;

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    lo.stamp = !ro.once;
    ro.dir = dir;
    ro.stop = &stop_flag;
    ro.log = log_cb;
    ro.payload = &lo;
    int rc = kh_agent_run(&ro);
    return rc < 0 ? KH_EXIT_ERROR : rc == 0 ? KH_EXIT_CLEAN : KH_EXIT_FOUND;
}
