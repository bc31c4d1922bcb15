/* Khiên — cli: `khien <subcommand>`, the one command of the project.
 *
 * Looks the subcommand up in a table and hands it argc/argv. `khien help`,
 * `khien --help` and `khien --version` are handled here. The centre's
 * subcommands (run NULL in the table) are in libkhien-centre.so beside the
 * program, loaded only for them (centre.c says why).
 */
#include <stdio.h>
#include <string.h>

#include "cli/cmd.h"
#include "khien/khien.h"
#include "platform/platform.h"

static const kh_cmd cmds[] = {
    {"scan", cmd_scan, "scan files and folders for malware (ClamAV signatures)"},
    {"audit", cmd_audit, "kiểm tra cấu hình bảo mật / security configuration audit (Wazuh SCA policies)"},
    {"yara", cmd_yara, "scan with YARA rules, as the yara command"},
    {"compile", cmd_compile, "compile YARA rules for khien yara -C"},
    {"inventory", cmd_inventory, "kiểm kê máy / host inventory: hardware, software, accounts, network, services"},
    {"vuln", cmd_vuln, "lỗ hổng đã biết / known vulnerabilities of installed packages (OSV advisories)"},
    {"server", NULL, "trung tâm quản lý / the centre: HTTPS API, enrollment, incidents, reports"},
    {"bundle", NULL, "gói ký số / signed bundles for air-gapped networks (make, verify)"},
    {"update", NULL, "cập nhật cơ sở dữ liệu ClamAV / update ClamAV databases from a mirror (freshclam)"},
    {"agent", NULL, "tác tử báo cáo về trung tâm / the agent: enroll with a centre and report to it"},
};

static void usage(FILE *f)
{
    fprintf(f, "Khiên %s: bảo vệ máy trạm / host security\n\n", kh_version());
    fprintf(f, "Cách dùng / Usage: khien <command> [options]\n\nCommands:\n");
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].summary);
    fprintf(f, "\n`khien <command> --help` shows a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return KH_EXIT_ERROR;
    }
    const char *name = argv[1];
    if (strcmp(name, "--version") == 0 || strcmp(name, "-V") == 0 || strcmp(name, "version") == 0) {
        printf("khien %s\n", kh_version());
        return 0;
    }
    if (strcmp(name, "help") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        if (strcmp(name, cmds[i].name) != 0)
            continue;
        if (cmds[i].run)
            return cmds[i].run(argc - 1, argv + 1);
        char err[512];
        kh_centre_main_fn centre = (kh_centre_main_fn)kh_module_sym(KH_CENTRE_MODULE, KH_CENTRE_ENTRY, err, sizeof(err));
        if (!centre) {
            fprintf(stderr,
                    "khien: không nạp được mô-đun trung tâm / cannot load the centre module for '%s': %s\n"
                    "       (%s must sit beside the khien program or in ../lib/khien; rebuild with cmake "
                    "--build)\n",
                    name, err, KH_CENTRE_MODULE);
            return KH_EXIT_ERROR;
        }
        return centre(name, argc - 1, argv + 1);
    }
    fprintf(stderr, "khien: unknown command '%s' (lệnh không tồn tại)\n\n", name);
    usage(stderr);
    return KH_EXIT_ERROR;
}
