/* Tests of src/platform/posix.c: mapping files by path (errors, limits,
 * empty files, never blocking on a FIFO), opening files for scanning
 * (O_NOFOLLOW, never blocking), atomic writes, mkdir -p and reading
 * folders in batches. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "platform/platform.h"
#include "util/util.h"

static char dir[256];

static const char *at(const char *rel)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof(buf[k]), "%s/%s", dir, rel);
    return buf[k];
}

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(p);
}

static void setup(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/kt_posix_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    KT_CHECK(mkdtemp(dir) != NULL);
}

static void teardown(void) { nftw(dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS); }

static void put(const char *rel, const char *text)
{
    FILE *f = fopen(at(rel), "wb");
    KT_CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* Runs fn in a child with a 3-second alarm; returns its exit status, or
 * -signal if it was killed (blocked). */
static int in_child(int (*fn)(void))
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        alarm(3);
        _exit(fn());
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFSIGNALED(st) ? -WTERMSIG(st) : WEXITSTATUS(st);
}

KT_TEST(test_platform_posix__map_path)
{
    setup();
    put("a.txt", "hello");
    put("empty", "");
    kh_map m;
    KT_EQ_INT(kh_map_path(&m, at("a.txt"), 1000), 0);
    KT_EQ_INT(m.len, 5);
    KT_CHECK(m.data && memcmp(m.data, "hello", 5) == 0);
    kh_map_release(&m);
    KT_CHECK(m.data == NULL);
    KT_EQ_INT(kh_map_path(&m, at("empty"), 1000), 0);
    KT_EQ_INT(m.len, 0);
    KT_CHECK(m.data != NULL);
    kh_map_release(&m);
    KT_EQ_INT(kh_map_path(&m, at("a.txt"), 4), KH_ELIMIT);
    KT_EQ_INT(kh_map_path(&m, at("a.txt"), 5), 0);
    kh_map_release(&m);
    KT_EQ_INT(kh_map_path(&m, at("missing"), 1000), KH_ENOENT);
    KT_EQ_INT(kh_map_path(&m, at("a.txt/below"), 1000), KH_ENOENT);
    KT_EQ_INT(kh_map_path(&m, dir, 1000), KH_EINVAL);
    teardown();
}

static int map_fifo(void)
{
    kh_map m;
    return kh_map_path(&m, at("fifo"), 1000) == KH_EINVAL ? 0 : 1;
}

static int open_fifo(void)
{
    int fd = kh_open_scan(AT_FDCWD, at("fifo"), 1);
    if (fd >= 0)
        close(fd);
    return 0;
}

KT_TEST(test_platform_posix__fifo_never_blocks)
{
    setup();
    KT_EQ_INT(mkfifo(at("fifo"), 0600), 0);
    int rc = in_child(map_fifo);
    if (rc < 0)
        KT_FAIL_("kh_map_path blocked on a FIFO (signal %d)", -rc);
    else
        KT_EQ_INT(rc, 0);
    rc = in_child(open_fifo);
    if (rc < 0)
        KT_FAIL_("kh_open_scan blocked on a FIFO (signal %d)", -rc);
    teardown();
}

KT_TEST(test_platform_posix__open_scan)
{
    setup();
    put("f", "data");
    KT_EQ_INT(symlink("f", at("link")), 0);
    int fd = kh_open_scan(AT_FDCWD, at("f"), 1);
    KT_CHECK(fd >= 0);
    if (fd >= 0) {
        char b[8] = {0};
        KT_EQ_INT(read(fd, b, sizeof(b)), 4);
        KT_EQ_STR(b, "data");
        KT_CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
        close(fd);
    }
    KT_EQ_INT(kh_open_scan(AT_FDCWD, at("link"), 1), -ELOOP);
    fd = kh_open_scan(AT_FDCWD, at("link"), 0);
    KT_CHECK(fd >= 0);
    if (fd >= 0)
        close(fd);
    KT_EQ_INT(kh_open_scan(AT_FDCWD, at("nope"), 0), -ENOENT);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    fd = kh_open_scan(dfd, "f", 1); /* relative to a directory */
    KT_CHECK(fd >= 0);
    if (fd >= 0)
        close(fd);
    close(dfd);
    teardown();
}

KT_TEST(test_platform_posix__write_atomic_and_mkdir)
{
    setup();
    KT_EQ_INT(kh_write_atomic(at("out.bin"), "abc", 3), 0);
    KT_EQ_INT(kh_write_atomic(at("out.bin"), "xy", 2), 0); /* replaced whole */
    kh_map m;
    KT_EQ_INT(kh_map_path(&m, at("out.bin"), 100), 0);
    KT_EQ_INT(m.len, 2);
    KT_CHECK(memcmp(m.data, "xy", 2) == 0);
    kh_map_release(&m);
    struct stat st;
    KT_EQ_INT(stat(at("out.bin"), &st), 0);
    KT_EQ_INT(st.st_mode & 0777, 0600);
    KT_EQ_INT(kh_write_atomic(at("no/such/dir/x"), "a", 1), KH_ENOENT);
    KT_EQ_INT(kh_mkdir_p(at("a/b/c"), 0700), 0);
    KT_EQ_INT(kh_mkdir_p(at("a/b/c"), 0700), 0); /* already there */
    KT_EQ_INT(stat(at("a/b/c"), &st), 0);
    KT_CHECK(S_ISDIR(st.st_mode));
    put("file", "x");
    KT_CHECK(kh_mkdir_p(at("file/sub"), 0700) < 0);
    KT_EQ_INT(kh_mkdir_p("", 0700), KH_EINVAL);
    teardown();
}

/* kh_dir_read: every name but "." and "..", each with its type, over more
 * than one batch; a callback's nonzero return stops the read and is
 * returned. */
typedef struct seen_names {
    char names[400][32];
    unsigned types[400];
    int n, stop_at;
} seen_names;

static int on_name(void *ud, const char *name, unsigned type)
{
    seen_names *s = ud;
    if (s->n == s->stop_at)
        return 42;
    if (s->n < 400) {
        snprintf(s->names[s->n], sizeof(s->names[0]), "%s", name);
        s->types[s->n] = type;
    }
    s->n++;
    return 0;
}

static unsigned type_of(const seen_names *s, const char *name)
{
    for (int i = 0; i < s->n && i < 400; i++)
        if (strcmp(s->names[i], name) == 0)
            return s->types[i];
    return 99;
}

KT_TEST(test_platform_posix__dir_read)
{
    setup();
    KT_EQ_INT(mkdir(at("d"), 0700), 0);
    char rel[64];
    for (int i = 0; i < 300; i++) { /* names of 20+ bytes: more than one 4096-byte batch */
        snprintf(rel, sizeof(rel), "d/file-with-a-long-name-%03d", i);
        put(rel, "x");
    }
    KT_EQ_INT(mkdir(at("d/sub"), 0700), 0);
    KT_EQ_INT(symlink("sub", at("d/link")), 0);
    KT_EQ_INT(mkfifo(at("d/fifo"), 0600), 0);
    int dfd = open(at("d"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    KT_CHECK(dfd >= 0);
    static _Alignas(8) char buf[4096];
    static seen_names s;
    memset(&s, 0, sizeof(s));
    s.stop_at = -1;
    KT_EQ_INT(kh_dir_read(dfd, buf, sizeof(buf), on_name, &s), 0);
    KT_EQ_INT(s.n, 303);
    KT_EQ_INT(type_of(&s, "."), 99);
    KT_EQ_INT(type_of(&s, ".."), 99);
    unsigned t = type_of(&s, "file-with-a-long-name-123");
    KT_CHECK(t == KH_DT_REG || t == KH_DT_UNKNOWN); /* some file systems do not say */
    t = type_of(&s, "sub");
    KT_CHECK(t == KH_DT_DIR || t == KH_DT_UNKNOWN);
    t = type_of(&s, "link");
    KT_CHECK(t == KH_DT_LNK || t == KH_DT_UNKNOWN);
    t = type_of(&s, "fifo");
    KT_CHECK(t == KH_DT_OTHER || t == KH_DT_UNKNOWN);
    /* stopped by the callback */
    KT_EQ_INT(lseek(dfd, 0, SEEK_SET), 0);
    memset(&s, 0, sizeof(s));
    s.stop_at = 5;
    KT_EQ_INT(kh_dir_read(dfd, buf, sizeof(buf), on_name, &s), 42);
    KT_EQ_INT(s.n, 5);
    /* bad arguments, and a descriptor that is not a folder */
    KT_EQ_INT(kh_dir_read(-1, buf, sizeof(buf), on_name, &s), KH_EINVAL);
    KT_EQ_INT(kh_dir_read(dfd, buf, 100, on_name, &s), KH_EINVAL);
    KT_EQ_INT(kh_dir_read(dfd, buf + 1, sizeof(buf) - 8, on_name, &s), KH_EINVAL);
    close(dfd);
    int ffd = open(at("d/file-with-a-long-name-000"), O_RDONLY | O_CLOEXEC);
    KT_CHECK(ffd >= 0);
    KT_CHECK(kh_dir_read(ffd, buf, sizeof(buf), on_name, &s) < 0);
    close(ffd);
    kh_cpu_relax(); /* no effect to check: it must simply be callable */
    teardown();
}

/* kh_bigbuf: 2 MiB-aligned and a multiple of it; a request that fits keeps
 * the mapping; trim gives back the pages past keep (they read as zeros)
 * and leaves those before it; a request that cannot be met changes
 * nothing; free twice is harmless. */
KT_TEST(test_platform_posix__bigbuf)
{
    kh_bigbuf b = {0};
    KT_EQ_INT(kh_bigbuf_reserve(&b, 1), 0);
    KT_CHECK(b.data != NULL);
    KT_EQ_INT((uintptr_t)b.data % KH_BIGBUF_ALIGN, 0);
    KT_EQ_INT(b.cap, KH_BIGBUF_ALIGN);
    uint8_t *first = b.data;
    KT_EQ_INT(kh_bigbuf_reserve(&b, KH_BIGBUF_ALIGN), 0);
    KT_CHECK(b.data == first);
    KT_EQ_INT(kh_bigbuf_reserve(&b, 3 * (size_t)KH_BIGBUF_ALIGN + 5), 0);
    KT_EQ_INT(b.cap, 4 * (size_t)KH_BIGBUF_ALIGN);
    KT_EQ_INT((uintptr_t)b.data % KH_BIGBUF_ALIGN, 0);
    memset(b.data, 0xab, b.cap);
    kh_bigbuf_trim(&b, KH_BIGBUF_ALIGN + 1); /* keeps two units */
    KT_EQ_INT(b.data[0], 0xab);
    KT_EQ_INT(b.data[2 * (size_t)KH_BIGBUF_ALIGN - 1], 0xab);
    KT_EQ_INT(b.data[2 * (size_t)KH_BIGBUF_ALIGN], 0);
    KT_EQ_INT(b.data[b.cap - 1], 0);
    kh_bigbuf_trim(&b, 100 * (size_t)KH_BIGBUF_ALIGN); /* past the end: nothing */
    KT_EQ_INT(b.data[1], 0xab);
    uint8_t *kept = b.data;
    KT_EQ_INT(kh_bigbuf_reserve(&b, SIZE_MAX), KH_ENOMEM);
    KT_CHECK(b.data == kept && b.cap == 4 * (size_t)KH_BIGBUF_ALIGN && b.data[1] == 0xab);
    kh_bigbuf_free(&b);
    KT_CHECK(b.data == NULL && b.cap == 0);
    kh_bigbuf_free(&b);
}

/* kh_module_sym: a module beside the running program (the test's own,
 * libkt-module.so, built with it), its symbol callable; a missing module or
 * symbol, or a name with a folder in it, gives NULL and says why. */
KT_TEST(test_platform_posix__module_sym)
{
    char err[512] = "";
    int (*answer)(void) = (int (*)(void))kh_module_sym("libkt-module.so", "kt_module_answer", err, sizeof(err));
    KT_CHECK(answer != NULL);
    if (answer)
        KT_EQ_INT(answer(), 42);
    KT_CHECK(kh_module_sym("libkt-module.so", "no_such_symbol", err, sizeof(err)) == NULL);
    KT_CHECK(strstr(err, "no_such_symbol") != NULL);
    KT_CHECK(kh_module_sym("libkt-absent.so", "kt_module_answer", err, sizeof(err)) == NULL);
    KT_CHECK(strstr(err, "libkt-absent.so") != NULL);
    KT_CHECK(kh_module_sym("../libkt-module.so", "kt_module_answer", err, sizeof(err)) == NULL);
    KT_CHECK(kh_module_sym(NULL, "x", err, sizeof(err)) == NULL);
}

KT_TEST(test_platform_posix__errno_and_cpus)
{
    KT_EQ_INT(kh_errno_to_kh(ENOENT), KH_ENOENT);
    KT_EQ_INT(kh_errno_to_kh(ENOTDIR), KH_ENOENT);
    KT_EQ_INT(kh_errno_to_kh(EACCES), KH_EACCES);
    KT_EQ_INT(kh_errno_to_kh(EPERM), KH_EACCES);
    KT_EQ_INT(kh_errno_to_kh(ENOMEM), KH_ENOMEM);
    KT_EQ_INT(kh_errno_to_kh(EIO), KH_EIO);
    KT_EQ_INT(kh_errno_to_kh(ENOSPC), KH_EIO);
    KT_CHECK(kh_ncpu() >= 1 && kh_ncpu() <= 1024);
}

KT_MAIN({
    KT_CASE(test_platform_posix__map_path),
    KT_CASE(test_platform_posix__fifo_never_blocks),
    KT_CASE(test_platform_posix__open_scan),
    KT_CASE(test_platform_posix__write_atomic_and_mkdir),
    KT_CASE(test_platform_posix__errno_and_cpus),
    KT_CASE(test_platform_posix__dir_read),
    KT_CASE(test_platform_posix__bigbuf),
    KT_CASE(test_platform_posix__module_sym),
})
