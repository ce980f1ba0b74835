/* bench/limits/writetree.c: the write path of this disk, as a restore or a backup uses it.
 *
 *   writetree seq FILE MiB         MiB of 1 MiB writes to one new file, then fsync (a volume)
 *   writetree tree SRC DST MODE    the tree of SRC (its directories, and each regular file with
 *                                  its size, pseudo-random content) made again under DST:
 *                                  MODE plain    create, write, close
 *                                       fsync    create, write, fsync, close
 *                                       restore  as yunbak's restore since issue 16: create
 *                                                in place (O_EXCL|O_NOFOLLOW), write, fchown
 *                                                (as root), fchmod, futimens, close
 *
 * Prints: mode, files, bytes, wall seconds, user s, sys s, then the seconds a syncfs took after
 * it (the writeback the timed part left to the kernel). DST must not exist.
 * Build (from the repository root): cc -O2 -I. -o writetree bench/limits/writetree.c */
#define _GNU_SOURCE
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench/limits/clock.h"

#define BUF (1u << 20)

static uint64_t *buf;
static const char *src_root, *mode;
static char dst_root[PATH_MAX];
static int stage_fd = -1;
static unsigned long long files, bytes;

static void die(const char *what, const char *where) {
        fprintf(stderr, "writetree: %s %s: %m\n", what, where);
        exit(1);
}
static void fill_random(void) {
        uint64_t x = 88172645463325252ULL;
        buf = malloc(BUF);
        if (!buf)
                die("malloc", "");
        for (size_t i = 0; i < BUF / 8; i++) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                buf[i] = x;
        }
}
static void write_n(int fd, unsigned long long n, const char *where) {
        while (n > 0) {
                size_t k = n < BUF ? (size_t) n : BUF;
                buf[0]++; /* no two MiB alike */
                if (write(fd, buf, k) != (ssize_t) k)
                        die("write", where);
                n -= k;
        }
}

static int visit(const char *path, const struct stat *st, int type, struct FTW *f) {
        char dst[PATH_MAX];
        snprintf(dst, sizeof dst, "%s%s", dst_root, path + strlen(src_root));
        if (type == FTW_D) {
                if (f->level == 0 && stage_fd >= 0) /* made before the staging directory */
                        return 0;
                if (mkdir(dst, 0755) < 0)
                        die("mkdir", dst);
                return 0;
        }
        if (type != FTW_F || !S_ISREG(st->st_mode))
                return 0;
        files++;
        bytes += (unsigned long long) st->st_size;
        if (strcmp(mode, "restore") == 0) {
                struct timespec ts[2] = { st->st_atim, st->st_mtim };
                int fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
                if (fd < 0)
                        die("create", dst);
                write_n(fd, (unsigned long long) st->st_size, dst);
                if (geteuid() == 0 && fchown(fd, st->st_uid, st->st_gid) < 0)
                        die("fchown", dst);
                if (fchmod(fd, st->st_mode & 07777) < 0 || futimens(fd, ts) < 0)
                        die("fchmod/futimens", dst);
                close(fd);
                return 0;
        }
        int fd = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                die("create", dst);
        write_n(fd, (unsigned long long) st->st_size, dst);
        if (strcmp(mode, "fsync") == 0 && fsync(fd) < 0)
                die("fsync", dst);
        close(fd);
        return 0;
}

static void report(const char *name, double t0, int sync_fd) {
        struct rusage ru;
        double t1 = mono(), t2;
        getrusage(RUSAGE_SELF, &ru);
        if (syncfs(sync_fd) < 0)
                die("syncfs", dst_root);
        t2 = mono();
        printf("%s\t%llu\t%llu\t%.3f\t%.3f\t%.3f\t%.3f\n", name, files, bytes, t1 - t0,
               ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
               ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6, t2 - t1);
}

int main(int argc, char **argv) {
        fill_random();
        if (argc == 4 && strcmp(argv[1], "seq") == 0) {
                unsigned long long mib = strtoull(argv[3], NULL, 10);
                int fd = open(argv[2], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
                if (fd < 0)
                        die("create", argv[2]);
                double t0 = mono();
                write_n(fd, mib << 20, argv[2]);
                if (fsync(fd) < 0)
                        die("fsync", argv[2]);
                files = 1;
                bytes = mib << 20;
                report("seq_fsync", t0, fd);
                close(fd);
                return 0;
        }
        if (argc != 5 || strcmp(argv[1], "tree") != 0 ||
            (strcmp(argv[4], "plain") && strcmp(argv[4], "fsync") && strcmp(argv[4], "restore"))) {
                fprintf(stderr,
                        "usage: writetree seq FILE MiB | tree SRC DST plain|fsync|restore\n");
                return 2;
        }
        src_root = argv[2];
        mode = argv[4];
        snprintf(dst_root, sizeof dst_root, "%s", argv[3]);
        double t0 = mono();
        if (strcmp(mode, "restore") == 0) {
                char stage[PATH_MAX + 16];
                if (mkdir(dst_root, 0755) < 0)
                        die("mkdir", dst_root);
                snprintf(stage, sizeof stage, "%s.stage", dst_root);
                if (mkdir(stage, 0700) < 0 || (stage_fd = open(stage, O_DIRECTORY)) < 0)
                        die("staging directory", stage);
        }
        if (nftw(src_root, visit, 64, FTW_PHYS) != 0)
                die("walk", src_root);
        int sfd = open(argv[3], O_DIRECTORY);
        if (sfd < 0)
                die("open", argv[3]);
        report(mode, t0, sfd);
        return 0;
}
