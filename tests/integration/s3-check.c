/* yb-s3-check: the store guarantees of core/store/store.h checked on a real radosgw, for
 * s3-store.sh. The endpoint and credentials come from S3_ENDPOINT and S3_CREDS; S3_STYLE=virtual
 * asks for virtual-host style; S3_TIMEOUT_MS sets the timeout; S3_PARALLEL the
 * requests in flight per file; S3_CA the CA file for TLS; S3_QUICK leaves the large files
 * out of ops.
 *
 *   yb-s3-check ops STORE             every operation of an object store (see ops())
 *   yb-s3-check race STORE KEY N      N processes create KEY at once: exactly one wins
 *   yb-s3-check put STORE KEY MIB     writes MIB MiB of the pattern to KEY; prints its SHA-256
 *   yb-s3-check hold STORE KEY MIB    writes MIB MiB without syncing, says "held", waits to be
 *                                     killed (an interrupted multipart upload)
 *   yb-s3-check bounded STORE KEY MIB writes and reads back MIB MiB; fails unless the peak RSS
 *                                     grew by less than half of MIB (bounded memory)
 *   yb-s3-check speed STORE KEY MIB   writes and reads MIB MiB; prints MB/s and the peak RSS
 *   yb-s3-check open STORE [lock]     opens the store (with object_lock compliance); prints why
 *                                     not and the errno name, exit 0 only if it opened
 *   yb-s3-check after STORE KEY       opens the store, says "opened", waits for a line on stdin
 *                                     (the test stops radosgw meanwhile), then creates KEY, stats
 *                                     KEY.stat and creates KEY.2, printing the errno name of each
 *                                     failure on a line (a lost store fails the last two unsent)
 *   yb-s3-check rmtree STORE PATH     removes PATH and everything under it (yb_store_remove_tree)
 *   yb-s3-check lock STORE KEY SEC    object_lock compliance with SEC s of retention: a retained
 *                                     object cannot be unlinked (-EPERM), stat gives its
 *                                     retain-until date, after it passes the unlink works
 * Prints one line per check; exits 0 when all hold, 1 otherwise. */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/base/buf.h"
#include "core/base/log.h"
#include "core/base/macro.h"
#include "core/base/timeutil.h"
#include "core/store/store.h"

static int failed;

static void check(const char *what, long long got, long long want) {
        printf("%-62s %s (got %lld%s%s, want %lld)\n", what, got == want ? "ok" : "FAILED", got,
               got < 0 ? ": " : "", got < 0 ? strerror((int) -got) : "", want);
        fflush(stdout);
        if (got != want)
                failed = 1;
}

static YbStoreOptions options(bool lock, int64_t retention) {
        YbStoreOptions o = { 0 };
        const char *t = getenv("S3_TIMEOUT_MS");

        o.s3.endpoint = getenv("S3_ENDPOINT");
        o.s3.credentials = getenv("S3_CREDS");
        o.s3.style = getenv("S3_STYLE") && streq(getenv("S3_STYLE"), "virtual")
                             ? YB_S3_STYLE_VIRTUAL
                             : YB_S3_STYLE_PATH;
        o.s3.ca_file = getenv("S3_CA");
        if (getenv("S3_PARALLEL"))
                o.s3.parallel = atoi(getenv("S3_PARALLEL"));
        if (t)
                o.timeout_ns = strtoll(t, NULL, 10) * YB_NSEC_PER_MSEC;
        if (lock) {
                o.s3.object_lock = YB_OBJECT_LOCK_COMPLIANCE;
                o.s3.retention_sec = retention;
        }
        return o;
}

static YbStore *open_store(const char *location, bool lock, int64_t retention) {
        YbStoreOptions o = options(lock, retention);
        YbStore *s = NULL;
        char err[1024];
        int r = yb_store_open_ex(location, &o, &s, err, sizeof(err));

        if (r < 0) {
                fprintf(stderr, "cannot open %s: %s (%s)\n", location, err, strerror(-r));
                exit(1);
        }
        return s;
}

static int put(YbStore *s, const char *path, const char *text) {
        return yb_store_write_file(s, path, text, strlen(text));
}

/* 0 when path holds exactly text. */
static int holds(YbStore *s, const char *path, const char *text) {
        YbBuf b = YB_BUF_INIT;
        int r = yb_store_read_file(s, path, 1 << 20, &b);

        if (r >= 0)
                r = b.size == strlen(text) && (!b.size || memcmp(b.data, text, b.size) == 0)
                            ? 0
                            : -EBADMSG;
        yb_buf_done(&b);
        return r;
}

static uint8_t pattern(uint64_t i) {
        return (uint8_t) ((i * 2654435761u) >> 13);
}

/* Writes n bytes of the pattern in pieces cycling through sizes (1 B to 3 MiB); syncs unless
 * hold. Hashes what it wrote into sha (may be NULL). */
static int write_pattern(YbStore *s, const char *path, uint64_t n, bool hold,
                         crypto_hash_sha256_state *sha) {
        static const size_t sizes[] = { 1, 7, 65536, 3 << 20, 4096, 1 << 20 };
        static uint8_t buf[3 << 20];
        YbStoreFile *f = NULL;
        uint64_t off = 0;
        size_t i = 0;
        int r;

        r = yb_store_create(s, path, &f);
        while (r >= 0 && off < n) {
                size_t k = (size_t) MIN((uint64_t) sizes[i++ % ELEMENTSOF(sizes)], n - off);

                for (size_t j = 0; j < k; j++)
                        buf[j] = pattern(off + j);
                if (sha)
                        crypto_hash_sha256_update(sha, buf, k);
                r = yb_store_write(f, buf, k);
                off += k;
        }
        if (hold && r >= 0) {
                printf("held\n");
                fflush(stdout);
                for (;;)
                        pause();
        }
        if (r >= 0)
                r = yb_store_sync(f);
        yb_store_file_close(f);
        return r;
}

/* Reads path back in pieces of piece bytes and compares with the pattern (n bytes). */
static int read_pattern(YbStore *s, const char *path, uint64_t n, size_t piece) {
        static uint8_t buf[3 << 20];
        YbStoreFile *f = NULL;
        uint64_t off = 0;
        int r;

        r = yb_store_open_read(s, path, &f);
        while (r >= 0) {
                ssize_t k = yb_store_read(f, buf, piece);

                if (k <= 0) {
                        r = (int) k;
                        break;
                }
                for (ssize_t j = 0; j < k && r >= 0; j++)
                        if (buf[j] != pattern(off + (uint64_t) j))
                                r = -EBADMSG;
                off += (uint64_t) k;
                if (r >= 0 && (size_t) k < piece && off != n)
                        r = -EBADMSG; /* only the last piece may be short */
        }
        if (r >= 0 && off != n)
                r = -EBADMSG;
        /* pread at a few offsets, across chunk ends. */
        for (uint64_t o = n > 100 ? n - 100 : 0; r >= 0; o = o > 4999999 ? o - 4999999 : 0) {
                size_t want = (size_t) MIN((uint64_t) 200, n - o);
                ssize_t k = yb_store_pread(f, buf, 200, o);

                if (k != (ssize_t) want)
                        r = k < 0 ? (int) k : -EBADMSG;
                for (size_t j = 0; r >= 0 && j < want; j++)
                        if (buf[j] != pattern(o + j))
                                r = -EBADMSG;
                if (o == 0)
                        break;
        }
        if (f)
                yb_store_file_close(f);
        return r;
}

typedef struct Names {
        char text[512];
} Names;

static int collect(void *ud, const char *name) {
        Names *n = ud;
        size_t l = strlen(n->text);

        snprintf(n->text + l, sizeof(n->text) - l, "%s%s", l ? " " : "", name);
        return 0;
}

/* The names of a directory, sorted, space-separated. */
static const char *names(YbStore *s, const char *path, int *ret) {
        static Names n;
        char *w[64];
        size_t k = 0;
        char copy[512];

        n.text[0] = 0;
        *ret = yb_store_list(s, path, collect, &n);
        snprintf(copy, sizeof(copy), "%s", n.text);
        for (char *t = strtok(copy, " "); t && k < 64; t = strtok(NULL, " "))
                w[k++] = t;
        for (size_t i = 1; i < k; i++)
                for (size_t j = i; j > 0 && strcmp(w[j - 1], w[j]) > 0; j--) {
                        char *x = w[j];

                        w[j] = w[j - 1];
                        w[j - 1] = x;
                }
        n.text[0] = 0;
        for (size_t i = 0; i < k; i++)
                collect(&n, w[i]);
        return n.text;
}

static void check_names(YbStore *s, const char *path, const char *want) {
        char what[128];
        int r;
        const char *got = names(s, path, &r);

        snprintf(what, sizeof(what), "list '%s' is '%s'", path, want);
        check(what, r < 0 ? r : streq(got, want) ? 0 : -EBADMSG, 0);
        if (r >= 0 && !streq(got, want))
                printf("    got '%s'\n", got);
}

static int ops(const char *location) {
        YbStore *s = open_store(location, false, 0);
        YbStoreFile *f = NULL;
        YbStoreStat st;
        uint64_t size;
        int r;

        check("an object store", yb_store_objects(s), 1);
        check("create a new file", put(s, "a", "one"), 0);
        check("create an existing file: EEXIST", put(s, "a", "two"), -EEXIST);
        check("the existing file is untouched", holds(s, "a", "one"), 0);
        check("create b", put(s, "b", "two"), 0);
        check("rename a onto b: EEXIST", yb_store_rename(s, "a", "b"), -EEXIST);
        check("b still holds its own bytes", holds(s, "b", "two"), 0);
        check("a is still there", holds(s, "a", "one"), 0);
        check("rename a to c", yb_store_rename(s, "a", "c"), 0);
        check("a is gone", yb_store_stat(s, "a", &st), -ENOENT);
        check("c holds a's bytes", holds(s, "c", "one"), 0);
        check("mkdir does nothing and succeeds", yb_store_mkdir(s, "d1"), 0);
        check("an empty directory does not exist", yb_store_stat(s, "d1", &st), -ENOENT);
        check("a file in d2/e", put(s, "d2/e/x", "in d2"), 0);
        check("a name with blanks, %, + and UTF-8", put(s, "d2/a b%+\xc3\xa9~=&", "odd name"), 0);
        check("... reads back", holds(s, "d2/a b%+\xc3\xa9~=&", "odd name"), 0);
        check("stat d2: a directory", yb_store_stat(s, "d2", &st) < 0 ? -1 : st.is_dir, 1);
        check("stat c: a file of 3 bytes",
              yb_store_stat(s, "c", &st) < 0 ? -1 : (long long) st.size, 3);
        check("... modified just now",
              llabs((long long) (st.mtime - yb_now_ns() / YB_NSEC_PER_SEC)) < 600, 1);
        check("... and retained by nothing", st.retain_until, 0);
        check_names(s, "", "b c d2");
        check_names(s, "d2", "a b%+\xc3\xa9~=& e");
        check("list a missing directory: ENOENT",
              yb_store_list(s, "nothing", collect, &(Names){ 0 }), -ENOENT);
        check("rename a directory: EOPNOTSUPP", yb_store_rename(s, "d2", "d3"), -EOPNOTSUPP);
        check("open_append: EOPNOTSUPP", yb_store_open_append(s, "c", &size, &f), -EOPNOTSUPP);
        check("rmdir and sync_dir succeed",
              yb_store_rmdir(s, "d2") == 0 && yb_store_sync_dir(s, "d2") == 0, 1);
        check("unlink a directory: EISDIR", yb_store_unlink(s, "d2"), -EISDIR);
        check("unlink c", yb_store_unlink(s, "c"), 0);
        check("unlink c again: ENOENT", yb_store_unlink(s, "c"), -ENOENT);
        check("open_read of a missing file: ENOENT", yb_store_open_read(s, "c", &f), -ENOENT);
        check("rename a missing file: ENOENT", yb_store_rename(s, "c", "c2"), -ENOENT);

        /* A file nobody synced is not there until closed; closing publishes it. */
        r = yb_store_create(s, "late", &f);
        if (r >= 0)
                r = yb_store_write(f, "abc", 3);
        check("a file being written is not there yet", r < 0 ? r : yb_store_stat(s, "late", &st),
              -ENOENT);
        if (f)
                yb_store_file_close(f);
        check("... and is when closed", holds(s, "late", "abc"), 0);
        check("an empty file", yb_store_write_file(s, "empty", "", 0), 0);
        check("... reads back empty", holds(s, "empty", ""), 0);

        /* Across parts: single PUT below 8 MiB, multipart above, pieces of odd sizes. */
        /* S3_QUICK: the small file only (a second run of the same checks in another style). */
        for (uint64_t n = 0; n <= (getenv("S3_QUICK") ? 0 : 20); n += 10) {
                uint64_t bytes = (n << 20) + 12345;
                char what[96];

                snprintf(what, sizeof(what), "write %llu bytes in pieces of 1 B to 3 MiB",
                         (unsigned long long) bytes);
                check(what, write_pattern(s, "big/file", bytes, false, NULL), 0);
                check("... stat gives its size",
                      yb_store_stat(s, "big/file", &st) < 0 ? -1 : (long long) st.size,
                      (long long) bytes);
                check("... reads back in pieces of 7 B", read_pattern(s, "big/file", bytes, 7), 0);
                check("... and of 3 MiB", read_pattern(s, "big/file", bytes, 3 << 20), 0);
                check("... a second create of it: EEXIST",
                      write_pattern(s, "big/file", bytes, false, NULL), -EEXIST);
                check("... which left it whole", read_pattern(s, "big/file", bytes, 65536), 0);
                check("... remove_tree big", yb_store_remove_tree(s, "big"), 0);
                check("... is gone", yb_store_stat(s, "big/file", &st), -ENOENT);
        }
        check("rename a 20 MiB file (a copy, then a delete)",
              write_pattern(s, "r1", (20 << 20) + 1, false, NULL) < 0
                      ? -1
                      : yb_store_rename(s, "r1", "r2"),
              0);
        check("... reads back", read_pattern(s, "r2", (20 << 20) + 1, 1 << 20), 0);
        check("... the source is gone", yb_store_stat(s, "r1", &st), -ENOENT);
        check("remove_tree of a missing tree", yb_store_remove_tree(s, "nothing"), 0);
        check("remove_tree d2", yb_store_remove_tree(s, "d2"), 0);
        check_names(s, "", "b empty late r2");
        yb_store_close(s);
        return failed;
}

static int race(const char *location, const char *key, int n) {
        int wins = 0, exists = 0, other = 0;
        char winner[64] = "", text[64];

        for (int i = 0; i < n; i++) {
                pid_t p = fork();

                if (p == 0) {
                        YbStore *s = open_store(location, false, 0);
                        int r;

                        snprintf(text, sizeof(text), "writer %d", i);
                        r = put(s, key, text);
                        yb_store_close(s);
                        _exit(r == 0 ? 0 : r == -EEXIST ? 17 : 1);
                }
        }
        for (int i = 0; i < n; i++) {
                int st;

                if (wait(&st) < 0)
                        break;
                if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
                        wins++;
                else if (WIFEXITED(st) && WEXITSTATUS(st) == 17)
                        exists++;
                else
                        other++;
        }
        printf("race of %d creates: %d won, %d got EEXIST, %d failed otherwise\n", n, wins, exists,
               other);
        check("exactly one create won", wins, 1);
        check("every other got EEXIST", exists, n - 1);
        {
                YbStore *s = open_store(location, false, 0);
                YbBuf b = YB_BUF_INIT;
                int r = yb_store_read_file(s, key, 1024, &b);

                if (r >= 0) {
                        snprintf(winner, sizeof(winner), "%.*s", (int) b.size, b.data);
                        printf("the key holds '%s'\n", winner);
                }
                check("the key holds one writer's text",
                      r < 0 ? r : strncmp(winner, "writer ", 7) == 0, 1);
                check("a create after the race: EEXIST", put(s, key, "late"), -EEXIST);
                check("... and the key still holds the winner's", holds(s, key, winner), 0);
                yb_buf_done(&b);
                yb_store_close(s);
        }
        return failed;
}

static long peak_rss_kib(void) {
        struct rusage u;

        getrusage(RUSAGE_SELF, &u);
        return u.ru_maxrss;
}

static int bounded(const char *location, const char *key, uint64_t mib, bool speed) {
        YbStore *s = open_store(location, false, 0);
        long before = peak_rss_kib();
        int64_t t0, t1, t2;
        int r;

        t0 = yb_monotonic_ns();
        r = write_pattern(s, key, mib << 20, false, NULL);
        t1 = yb_monotonic_ns();
        check("write", r, 0);
        r = read_pattern(s, key, mib << 20, 1 << 20);
        t2 = yb_monotonic_ns();
        check("read back", r, 0);
        printf("%llu MiB: write %.0f MB/s, read %.0f MB/s, peak RSS %ld MiB (%ld MiB before)\n",
               (unsigned long long) mib, (double) (mib << 20) / 1e6 / ((double) (t1 - t0) / 1e9),
               (double) (mib << 20) / 1e6 / ((double) (t2 - t1) / 1e9), peak_rss_kib() / 1024,
               before / 1024);
        if (!speed)
                check("peak RSS grew by less than half the object",
                      (peak_rss_kib() - before) < (long) (mib << 10) / 2, 1);
        yb_store_close(s);
        return failed;
}

static int lock(const char *location, const char *key, int64_t sec) {
        YbStore *s = open_store(location, true, sec);
        YbStoreFile *f = NULL;
        YbStoreStat st;
        int64_t now = yb_now_ns() / YB_NSEC_PER_SEC;
        int r;

        r = yb_store_create_ex(s, key, YB_STORE_RETAIN, &f);
        if (r >= 0)
                r = yb_store_write(f, "kept", 4);
        if (r >= 0)
                r = yb_store_sync(f);
        if (f)
                yb_store_file_close(f);
        check("write a retained object", r, 0);
        r = yb_store_stat(s, key, &st);
        check("stat it", r, 0);
        printf("retain_until %lld, now %lld\n", (long long) st.retain_until, (long long) now);
        check("its retain_until is now + retention (within 5 s)",
              llabs((long long) (st.retain_until - (now + sec))) <= 5, 1);
        check("unlink it while retained: EPERM", yb_store_unlink(s, key), -EPERM);
        check("... it is still there", holds(s, key, "kept"), 0);
        {
                /* A multipart upload gets the lock too (on CreateMultipartUpload). */
                YbStoreFile *g = NULL;
                static uint8_t big[9 << 20];

                r = yb_store_create_ex(s, "big", YB_STORE_RETAIN, &g);
                if (r >= 0)
                        r = yb_store_write(g, big, sizeof(big));
                if (r >= 0)
                        r = yb_store_sync(g);
                if (g)
                        yb_store_file_close(g);
                check("write a retained 9 MiB object (multipart)", r, 0);
                check("... stat gives its retain_until",
                      yb_store_stat(s, "big", &st) < 0
                              ? -1
                              : llabs((long long) (st.retain_until - (now + sec))) <= 5,
                      1);
                check("... unlink while retained: EPERM", yb_store_unlink(s, "big"), -EPERM);
        }
        check("a file written without YB_STORE_RETAIN", put(s, "free", "x"), 0);
        check("... has no retain_until", yb_store_stat(s, "free", &st) < 0 ? -1 : st.retain_until,
              0);
        check("... and unlinks", yb_store_unlink(s, "free"), 0);
        /* Poll (bounded) until the date passes. */
        for (int i = 0; i < 10 * (int) sec + 100; i++) {
                r = yb_store_unlink(s, key);
                if (r != -EPERM)
                        break;
                usleep(100000);
        }
        check("after the date the unlink works", r, 0);
        for (int i = 0; i < 10 * (int) sec + 100; i++) {
                r = yb_store_unlink(s, "big");
                if (r != -EPERM)
                        break;
                usleep(100000);
        }
        check("... of the multipart one too", r, 0);
        check("... and it is gone", yb_store_stat(s, key, &st), -ENOENT);
        yb_store_close(s);
        return failed;
}

int main(int argc, char **argv) {
        yb_log_parse_env();
        if (sodium_init() < 0)
                return 1;
        if (argc >= 3 && streq(argv[1], "ops"))
                return ops(argv[2]);
        if (argc == 5 && streq(argv[1], "race"))
                return race(argv[2], argv[3], atoi(argv[4]));
        if (argc == 5 && (streq(argv[1], "put") || streq(argv[1], "hold"))) {
                YbStore *s = open_store(argv[2], false, 0);
                crypto_hash_sha256_state sha;
                unsigned char h[32];
                char hex[65];
                int r;

                crypto_hash_sha256_init(&sha);
                r = write_pattern(s, argv[3], strtoull(argv[4], NULL, 10) << 20,
                                  streq(argv[1], "hold"), &sha);
                crypto_hash_sha256_final(&sha, h);
                sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
                if (r >= 0)
                        printf("%s\n", hex);
                else
                        fprintf(stderr, "put %s: %s\n", argv[3], strerror(-r));
                yb_store_close(s);
                return r < 0;
        }
        if (argc == 5 && streq(argv[1], "bounded"))
                return bounded(argv[2], argv[3], strtoull(argv[4], NULL, 10), false);
        if (argc == 5 && streq(argv[1], "speed"))
                return bounded(argv[2], argv[3], strtoull(argv[4], NULL, 10), true);
        if (argc >= 3 && streq(argv[1], "open")) {
                YbStoreOptions o = options(argc > 3 && streq(argv[3], "lock"), 60);
                YbStore *s = NULL;
                char err[1024] = "";
                int r = yb_store_open_ex(argv[2], &o, &s, err, sizeof(err));

                printf("%s\n%s\n", r < 0 ? strerrorname_np(-r) : "opened", err);
                yb_store_close(s);
                return r < 0;
        }
        if (argc == 4 && streq(argv[1], "after")) {
                YbStore *s = open_store(argv[2], false, 0);
                char line[16];
                int r;

                printf("opened\n");
                fflush(stdout);
                if (!fgets(line, sizeof(line), stdin))
                        return 1;
                r = put(s, argv[3], "after");
                printf("%s\n", r < 0 ? strerrorname_np(-r) : "written");
                {
                        YbStoreStat st;
                        char other[256];

                        snprintf(other, sizeof(other), "%s.stat", argv[3]);
                        r = yb_store_stat(s, other, &st);
                        printf("%s\n", r < 0 ? strerrorname_np(-r) : "found");
                        snprintf(other, sizeof(other), "%s.2", argv[3]);
                        r = put(s, other, "after");
                        printf("%s\n", r < 0 ? strerrorname_np(-r) : "written");
                }
                yb_store_close(s);
                return 0;
        }
        if (argc == 4 && streq(argv[1], "rmtree")) {
                YbStore *s = open_store(argv[2], false, 0);

                check("remove_tree", yb_store_remove_tree(s, argv[3]), 0);
                yb_store_close(s);
                return failed;
        }
        if (argc == 5 && streq(argv[1], "lock"))
                return lock(argv[2], argv[3], strtoll(argv[4], NULL, 10));
        fprintf(stderr, "usage: see the top of tests/integration/s3-check.c\n");
        return 2;
}
