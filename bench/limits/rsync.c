/* bench/limits/rsync.c: librsync on a database file and its day-1 version, with yunbak's
 * parameters (BLAKE2 strong sums, 4 KiB blocks, rs_sig_args' strong length): the signature of
 * OLD, the delta of NEW against it, and the patch of OLD with that delta (checked to give NEW).
 * Prints one line per step: name, bytes in, bytes out, wall seconds, CPU seconds.
 *   usage: rsync OLD NEW TMPDIR
 * Build (from the repository root): cc -O2 -I. -o rsync bench/limits/rsync.c -lrsync */
#define _GNU_SOURCE
#include <librsync.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bench/limits/clock.h"

static FILE *must(const char *path, const char *how) {
        FILE *f = fopen(path, how);
        if (!f) {
                fprintf(stderr, "rsync: cannot open %s: %m\n", path);
                exit(1);
        }
        return f;
}
static long long size_of(const char *path) {
        struct stat st;
        return stat(path, &st) < 0 ? -1 : (long long) st.st_size;
}
static void line(const char *name, long long in, const char *out, double w0, double c0) {
        printf("%s\t%lld\t%lld\t%.3f\t%.3f\n", name, in, size_of(out), mono() - w0, pcpu() - c0);
}

int main(int argc, char **argv) {
        char sig[4096], delta[4096], patched[4096];
        rs_magic_number magic = RS_RK_BLAKE2_SIG_MAGIC;
        size_t block = 4096, strong = (size_t) -1;
        rs_signature_t *sums;
        FILE *a, *b, *c;
        double w, t;
        if (argc != 4) {
                fprintf(stderr, "usage: rsync OLD NEW TMPDIR\n");
                return 2;
        }
        snprintf(sig, sizeof sig, "%s/rsync.sig", argv[3]);
        snprintf(delta, sizeof delta, "%s/rsync.delta", argv[3]);
        snprintf(patched, sizeof patched, "%s/rsync.patched", argv[3]);
        long long old = size_of(argv[1]), new = size_of(argv[2]);
        /* as core/codec/delta.c's yb_sig_params */
        while (old / (long long) block > 256 * 1024 && block < 1024 * 1024)
                block *= 2;
        rs_sig_args(old, &magic, &block, &strong);

        a = must(argv[1], "rb"), b = must(sig, "wb");
        w = mono(), t = pcpu();
        if (rs_sig_file(a, b, block, strong, magic, NULL) != RS_DONE)
                return 1;
        fclose(a), fclose(b);
        line("rsync_signature", old, sig, w, t);

        a = must(sig, "rb"), b = must(argv[2], "rb"), c = must(delta, "wb");
        w = mono(), t = pcpu();
        if (rs_loadsig_file(a, &sums, NULL) != RS_DONE || rs_build_hash_table(sums) != RS_DONE ||
            rs_delta_file(sums, b, c, NULL) != RS_DONE)
                return 1;
        fclose(a), fclose(b), fclose(c);
        rs_free_sumset(sums);
        line("rsync_delta", new, delta, w, t);

        a = must(argv[1], "rb"), b = must(delta, "rb"), c = must(patched, "wb");
        w = mono(), t = pcpu();
        if (rs_patch_file(a, b, c, NULL) != RS_DONE)
                return 1;
        fclose(a), fclose(b), fclose(c);
        line("rsync_patch", size_of(delta), patched, w, t);
        char cmd[16384];
        snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s'", patched, argv[2]);
        if (system(cmd) != 0) {
                fprintf(stderr, "rsync: the patch did not give %s\n", argv[2]);
                return 1;
        }
        remove(sig), remove(delta), remove(patched);
        return 0;
}
