/* Khiên — audit: running the command of a c: rule.
 *
 * A c: rule names a command whose output is matched line by line. It is run
 * without a shell: the text is split into words the way Wazuh splits it
 * (spaces separate words; "double" and 'single' quotes group them; a
 * backslash escapes the next character outside single quotes), so that
 * `c:sh -c "a | b"` still works when a policy asks for a shell explicitly,
 * and nothing else is interpreted. The program is looked up in a fixed
 * system PATH, not the caller's, and runs with a small fixed environment
 * (LC_ALL=C so its output is the English one policies expect), stdin from
 * /dev/null, stdout and stderr into one pipe, in its own process group.
 * It is killed (the whole group) when the timeout passes or when its output
 * passes the size limit; the caller learns which.
 *
 * Deliberately not here: deciding whether a command may run (trusted
 * policies only, see eval.c), and any privilege change.
 */
#define _GNU_SOURCE /* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit_int.h"

#define MAX_ARGS 256

int kh_exec_split(kh_arena *a, const char *cmd, char ***argv_out)
{
    char **argv = kh_arena_alloc(a, (MAX_ARGS + 1) * sizeof(char *));
    kh_buf w = KH_BUF_INIT(1u << 20);
    if (!argv)
        return KH_ENOMEM;
    int argc = 0, rc = 0;
    const char *p = cmd;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        kh_buf_clear(&w);
        kh_buf_reserve(&w, 1);
        while (*p && *p != ' ' && *p != '\t') {
            if (*p == '\'') {
                const char *e = strchr(p + 1, '\'');
                if (!e) {
                    rc = KH_ESYNTAX;
                    goto done;
                }
                kh_buf_append(&w, p + 1, (size_t)(e - p - 1));
                p = e + 1;
            } else if (*p == '"') {
                p++;
                while (*p && *p != '"') {
                    if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
                        p++;
                    kh_buf_putc(&w, *p++);
                }
                if (*p != '"') {
                    rc = KH_ESYNTAX;
                    goto done;
                }
                p++;
            } else if (*p == '\\' && p[1]) {
                kh_buf_putc(&w, p[1]);
                p += 2;
            } else {
                kh_buf_putc(&w, *p++);
            }
        }
        if (argc == MAX_ARGS) {
            rc = KH_ELIMIT;
            goto done;
        }
        if (!(argv[argc++] = kh_arena_strndup(a, w.data ? w.data : "", w.len))) {
            rc = KH_ENOMEM;
            goto done;
        }
    }
    if (argc == 0)
        rc = KH_ESYNTAX;
done:
    kh_buf_dispose(&w);
    if (rc)
        return rc;
    argv[argc] = NULL;
    *argv_out = argv;
    return argc;
}

static const char *const search_path[] = {"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin",
                                          "/bin"};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int kh_exec_run(char *const *argv, unsigned timeout_ms, size_t limit, kh_buf *out, kh_exec_result *res)
{
    memset(res, 0, sizeof(*res));
    res->exit_code = -1;
    kh_buf_clear(out);
    char prog[4096];
    if (strchr(argv[0], '/')) {
        snprintf(prog, sizeof(prog), "%s", argv[0]);
    } else {
        prog[0] = 0;
        for (size_t i = 0; i < KH_ARRAY_LEN(search_path); i++) {
            char cand[4096];
            snprintf(cand, sizeof(cand), "%s/%s", search_path[i], argv[0]);
            if (access(cand, X_OK) == 0) {
                snprintf(prog, sizeof(prog), "%s", cand);
                break;
            }
        }
        if (!prog[0]) {
            snprintf(res->error, sizeof(res->error), "không tìm thấy lệnh / command not found: %.100s", argv[0]);
            return 0;
        }
    }
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) != 0) {
        snprintf(res->error, sizeof(res->error), "pipe: %s", strerror(errno));
        return 0;
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 2);
    sigset_t none, defs;
    sigemptyset(&none);
    sigemptyset(&defs);
    sigaddset(&defs, SIGPIPE);
    sigaddset(&defs, SIGINT);
    sigaddset(&defs, SIGTERM);
    sigaddset(&defs, SIGCHLD);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &defs);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    static char *const envp[] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C",
                                 "LANG=C", "HOME=/root", NULL};
    pid_t pid;
    int src = posix_spawn(&pid, prog, &fa, &at, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(pfd[1]);
    if (src != 0) {
        close(pfd[0]);
        snprintf(res->error, sizeof(res->error), "không chạy được lệnh / cannot run the command: %s", strerror(src));
        return 0;
    }
    res->started = 1;
    long long deadline = now_ms() + timeout_ms;
    char buf[8192];
    int status = 0, exited = 0, eof = 0;
    while (!eof) {
        long long left = deadline - now_ms();
        if (left <= 0) {
            res->timed_out = 1;
            break;
        }
        /* once the command has exited, take what is already in the pipe and
         * stop: a background child of it may hold the pipe open forever */
        struct pollfd pf = {pfd[0], POLLIN, 0};
        int pr = poll(&pf, 1, exited ? 0 : (int)(left > 100 ? 100 : left));
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr < 0)
            break;
        if (pr == 0) {
            if (exited)
                break;
            if (waitpid(pid, &status, WNOHANG) == pid)
                exited = 1;
            continue;
        }
        ssize_t r = read(pfd[0], buf, sizeof(buf));
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (r <= 0) {
            eof = 1;
            break;
        }
        size_t room = limit > out->len ? limit - out->len : 0;
        size_t take = (size_t)r < room ? (size_t)r : room;
        if (take && kh_buf_append(out, buf, take) != 0)
            take = 0;
        if ((size_t)r > take) {
            res->truncated = 1;
            break;
        }
    }
    close(pfd[0]);
    /* the whole process group goes: the command if it is still running
     * (timeout, too much output) and anything it left behind */
    kill(-pid, SIGKILL);
    if (!exited) {
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
    }
    if (WIFEXITED(status))
        res->exit_code = WEXITSTATUS(status);
    if (res->timed_out)
        snprintf(res->error, sizeof(res->error), "lệnh chạy quá %u ms và đã bị dừng / the command ran longer than %u ms and was stopped",
                 timeout_ms, timeout_ms);
    return 0;
}
