/* Khiên — scan: internals shared by scanner.c, archive.c, walk.c and cache.c. */
#ifndef KH_SCAN_INT_H
#define KH_SCAN_INT_H

#include <sys/stat.h>

#include "engine/clamav/cav.h"
#include "engine/confirm.h"
#include "engine/digest.h"
#include "engine/exec.h"
#include "engine/yara/yara.h"
#include "engine/mpm.h"
#include "engine/rules_int.h"
#include "khien/scan.h"
#include "platform/platform.h"

/* Positive internal code: stop scanning this file, nothing went wrong
 * (first detection found without --allmatch). Never returned publicly. */
#define KH_STOP 1

typedef struct kh_det {
    uint32_t sig;      /* UINT32_MAX for heuristic results */
    const char *heur;  /* name of a heuristic result */
    int64_t offset;
    uint8_t kind;
} kh_det;

struct kh_scanner {
    const struct kh_rules *r;
    kh_scan_options o;
    kh_mpm_scratch *scratch;
    kh_confirm cx;
    kh_digest dg;
    /* hits of the current buffer */
    kh_bigbuf rbuf;      /* files up to READ_MAX are read here (scanner.c) */
    uint8_t *hitbits;
    uint32_t *hits;
    uint64_t *hitend;
    size_t nhits;
    /* detections of the current object */
    KH_VEC(kh_det) dets;
    /* the current file */
    kh_detection_cb on_detect;
    kh_warning_cb on_warn;
    void *payload;
    kh_buf member;      /* "a.zip!b.tar!c" of the object being scanned */
    const char *name_hint; /* path of the file, for naming the content of a lone .gz */
    uint64_t file_bytes; /* scanned so far in this file, members included */
    unsigned file_members;
    unsigned reported;   /* detections emitted for this file */
    int stop_on_hit;     /* 1 unless ALLMATCH */
    kh_yscan *ys;        /* YARA evaluation, when the rules have YARA rules */
    kh_cavscan *cav;     /* ClamAV logical and PE-hash signatures, when the rules have some */
    int yara_stop;       /* a YARA rule ended the file (first-match mode) */
    kh_log_cb log;
    void *log_payload;
    uint64_t bytes_total;
    char err[512];
};

/* Scans one object (a file's bytes or an archive member) at `depth`. The
 * member path of the object is s->member. Returns 0, KH_STOP, KH_EUSER or an error. */
int kh_scan_object(kh_scanner *s, const uint8_t *buf, size_t len, unsigned depth);
/* kh_scanner_scan_fd for a caller that has just fstat'ed fd (the walker):
 * one system call less per file. */
int kh_scanner_scan_fd_st(kh_scanner *s, int fd, const struct stat *st, kh_detection_cb on_detect,
                          kh_warning_cb on_warn, void *payload);

/* Emits a heuristic result (limits) for the current object. */
int kh_scan_heuristic(kh_scanner *s, const char *name);
void kh_scan_warn(kh_scanner *s, const char *fmt, ...) KH_PRINTF(2, 3);

/* archive.c: is this buffer an archive/compressed stream we open? */
int kh_archive_sniff(const uint8_t *buf, size_t len);
/* Scans every member of an archive held in buf (depth of the archive). */
int kh_archive_scan_mem(kh_scanner *s, const uint8_t *buf, size_t len, unsigned depth);
/* Same for an archive read from an open file (large files). */
int kh_archive_scan_fd(kh_scanner *s, int fd, unsigned depth);

/* scanner.c: runs the .cdb signatures on an archive member's metadata
 * (the member path is s->member) and reports what matched. */
int kh_scan_meta(kh_scanner *s, const kh_cav_meta *m);

/* zipdir.c: a zip archive's central directory (.cdb sizes and positions). */
typedef struct kh_zipent {
    uint64_t csize;
    size_t name, namelen; /* in names */
    uint32_t flags;
} kh_zipent;
typedef struct kh_zipdir {
    kh_zipent *ent;
    size_t n, next;
    char *names;
} kh_zipdir;
/* Reads the directory from buf (len bytes) or, when buf is NULL, from fd
 * (flen bytes). An archive without a readable directory gives n == 0.
 * Returns 0 or KH_ENOMEM. */
int kh_zipdir_read(kh_zipdir *z, const uint8_t *buf, size_t len, int fd, uint64_t flen);
/* Finds the entry named `name` (the next one after the last found first): 1 and *pos, or 0. */
int kh_zipdir_find(kh_zipdir *z, const char *name, size_t *pos);
void kh_zipdir_free(kh_zipdir *z);

/* cache.c, used by walk.c: is this file known clean? remember / forget it. Thread-safe. */
int kh_cache_check(kh_cache *c, const struct stat *st);
void kh_cache_put(kh_cache *c, const struct stat *st);
void kh_cache_drop(kh_cache *c, const struct stat *st);

#endif
