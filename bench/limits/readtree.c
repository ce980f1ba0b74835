/* bench/limits/readtree.c: the read limit of the corpus: every regular file under DIR read with
 * 1 MiB read()s (the size yunbak-agent reads with), in the walk's order, nothing done with it.
 * Prints: files, bytes, wall seconds, user s, sys s. Cold or warm is the caller's doing (drop the
 * page cache first, or read twice).
 *   usage: readtree DIR
 * Build (from the repository root): cc -O2 -I. -o readtree bench/limits/readtree.c */
#define _GNU_SOURCE
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench/limits/clock.h"

static char buf[1 << 20];
static unsigned long long bytes, files;

static int visit(const char *path, const struct stat *st, int type, struct FTW *f) {
        ssize_t n;
        int fd;
        (void) f;
        if (type != FTW_F || !S_ISREG(st->st_mode))
                return 0;
        fd = open(path, O_RDONLY | O_NOATIME | O_CLOEXEC);
        if (fd < 0) {
                fprintf(stderr, "readtree: cannot open %s: %m\n", path);
                return 1;
        }
        while ((n = read(fd, buf, sizeof buf)) > 0)
                bytes += (unsigned long long) n;
        close(fd);
        files++;
        return n < 0;
}

int main(int argc, char **argv) {
        struct rusage ru;
        double t0, t1;
        if (argc != 2) {
                fprintf(stderr, "usage: readtree DIR\n");
                return 2;
        }
        t0 = mono();
        if (nftw(argv[1], visit, 64, FTW_PHYS) != 0)
                return 1;
        t1 = mono();
        getrusage(RUSAGE_SELF, &ru);
        printf("%llu\t%llu\t%.3f\t%.3f\t%.3f\n", files, bytes, t1 - t0,
               ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
               ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
        return 0;
}
