/* yb-sftp-check: the store guarantees of core/store/store.h checked on a real SFTP server, for
 * sftp-store.sh.
 *
 *   yb-sftp-check STORE SSH_KEY KNOWN_HOSTS
 *
 * STORE is an empty sftp:// store in whose directory the caller has planted "link", a symlink
 * to a directory outside the store holding "secret", and "file-link", a symlink to that
 * secret. Checks that create fails on an existing file (CREAT|EXCL), that rename never replaces
 * a file or a directory, that what was written and synced reads back, that directories sync,
 * that a large file written and read in pieces of 1, 7, 64 KiB and 3 MiB (across the store's
 * buffers and its window of writes in flight), appended to, and read at offsets, comes back byte
 * for byte, and that no operation goes through either symlink. Prints one line per check; exits 0
 * when all hold, 1 otherwise. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/buf.h"
#include "core/base/macro.h"
#include "core/store/store.h"

static int failed;

static void check(const char *what, int got, int want) {
        printf("%-58s %s (got %d%s%s, want %d)\n", what, got == want ? "ok" : "FAILED", got,
               got < 0 ? ": " : "", got < 0 ? strerror(-got) : "", want);
        if (got != want)
                failed = 1;
}

static int put(YbStore *s, const char *path, const char *text) {
        return yb_store_write_file(s, path, text, strlen(text));
}

/* 0 when path holds exactly text. */
static int holds(YbStore *s, const char *path, const char *text) {
        YbBuf b = YB_BUF_INIT;
        int r = yb_store_read_file(s, path, 1 << 20, &b);

        if (r >= 0)
                r = b.size == strlen(text) && memcmp(b.data, text, b.size) == 0 ? 0 : -EBADMSG;
        yb_buf_done(&b);
        return r;
}

/* Byte i of the large file. */
static uint8_t pattern(size_t i) {
        return (uint8_t) ((i * 2654435761u) >> 13);
}

#define BIG ((size_t) 9 << 20)

/* Writes BIG + 12345 bytes in pieces cycling through sizes, syncs, appends 777 more. */
static int write_big(YbStore *s, uint8_t *buf) {
        static const size_t sizes[] = { 1, 7, 65536, 3 << 20, 4096 };
        YbStoreFile *f = NULL;
        size_t n = BIG + 12345, off = 0, i = 0;
        uint64_t size = 0;
        int r;

        for (size_t k = 0; k < n + 777; k++)
                buf[k] = pattern(k);
        r = yb_store_create(s, "big", &f);
        while (r >= 0 && off < n) {
                size_t k = sizes[i++ % ELEMENTSOF(sizes)];

                k = k < n - off ? k : n - off;
                r = yb_store_write(f, buf + off, k);
                off += k;
        }
        if (r >= 0)
                r = yb_store_sync(f);
        yb_store_file_close(f);
        if (r >= 0)
                r = yb_store_open_append(s, "big", &size, &f);
        if (r >= 0 && size != n)
                r = -EBADMSG;
        if (r >= 0)
                r = yb_store_write(f, buf + n, 777);
        if (r >= 0)
                r = yb_store_sync(f);
        if (f)
                yb_store_file_close(f);
        return r;
}

/* Reads it back in pieces of each size, then at a few offsets, comparing. */
static int read_big(YbStore *s, uint8_t *buf) {
        static const size_t sizes[] = { 1, 7, 65536, 3 << 20 };
        size_t n = BIG + 12345 + 777;
        YbStoreFile *f = NULL;
        int r = 0;

        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(sizes); i++) {
                size_t off = 0;

                r = yb_store_open_read(s, "big", &f);
                while (r >= 0) {
                        ssize_t k = yb_store_read(f, buf, sizes[i]);

                        if (k < 0)
                                r = (int) k;
                        else if (k == 0)
                                break;
                        for (ssize_t j = 0; r >= 0 && j < k; j++)
                                if (buf[j] != pattern(off + (size_t) j))
                                        r = -EBADMSG;
                        off += (size_t) (k > 0 ? k : 0);
                        /* only the last piece may be short */
                        if (r >= 0 && (size_t) k < sizes[i] && off != n)
                                r = -EBADMSG;
                }
                if (r >= 0 && off != n)
                        r = -EBADMSG;
                if (f)
                        yb_store_file_close(f);
                f = NULL;
        }
        if (r >= 0)
                r = yb_store_open_read(s, "big", &f);
        for (size_t off = n - 100; r >= 0; off = off > 5000000 ? off - 4999999 : 0) {
                ssize_t k = yb_store_pread(f, buf, 200, off);
                size_t want = n - off < 200 ? n - off : 200;

                if (k < 0 || (size_t) k != want)
                        r = k < 0 ? (int) k : -EBADMSG;
                for (size_t j = 0; r >= 0 && j < want; j++)
                        if (buf[j] != pattern(off + j))
                                r = -EBADMSG;
                if (off == 0)
                        break;
        }
        if (f)
                yb_store_file_close(f);
        return r;
}

static int ignore(void *ud, const char *name) {
        (void) ud, (void) name;
        return 0;
}

int main(int argc, char **argv) {
        YbStoreOptions o = { 0 };
        YbStoreFile *f = NULL;
        YbStoreStat st;
        YbStore *s = NULL;
        char err[1024];
        int r;

        if (argc != 4) {
                fprintf(stderr, "usage: yb-sftp-check STORE SSH_KEY KNOWN_HOSTS\n");
                return 2;
        }
        o.ssh_key = argv[2];
        o.known_hosts = argv[3];
        r = yb_store_open_ex(argv[1], &o, &s, err, sizeof(err));
        if (r < 0) {
                fprintf(stderr, "cannot open %s: %s\n", argv[1], err);
                return 1;
        }

        check("create a new file", put(s, "a", "one"), 0);
        r = yb_store_create(s, "a", &f);
        check("create an existing file: EEXIST", r, -EEXIST);
        if (r >= 0)
                yb_store_file_close(f);
        check("the existing file is untouched", holds(s, "a", "one"), 0);
        check("create b", put(s, "b", "two"), 0);
        check("rename a onto b: EEXIST", yb_store_rename(s, "a", "b"), -EEXIST);
        check("b still holds its own bytes", holds(s, "b", "two"), 0);
        check("a is still there", holds(s, "a", "one"), 0);
        check("rename a to c", yb_store_rename(s, "a", "c"), 0);
        check("a is gone", yb_store_stat(s, "a", &st), -ENOENT);
        check("c holds a's bytes", holds(s, "c", "one"), 0);
        check("mkdir d1", yb_store_mkdir(s, "d1"), 0);
        check("mkdir d1 again (exists: fine)", yb_store_mkdir(s, "d1"), 0);
        check("mkdir d2", yb_store_mkdir(s, "d2"), 0);
        check("a file in d2", put(s, "d2/x", "in d2"), 0);
        check("rename d1 onto d2: EEXIST", yb_store_rename(s, "d1", "d2"), -EEXIST);
        check("d2 keeps its file", holds(s, "d2/x", "in d2"), 0);
        check("rename d2 to d3", yb_store_rename(s, "d2", "d3"), 0);
        check("d3/x holds d2's bytes", holds(s, "d3/x", "in d2"), 0);
        check("sync a directory", yb_store_sync_dir(s, "d3"), 0);
        check("mkdir where a file is: ENOTDIR", yb_store_mkdir(s, "c"), -ENOTDIR);
        {
                uint8_t *buf = malloc(BIG + 20000);

                check("write 9 MiB in pieces of 1 B to 3 MiB, append",
                      buf ? write_big(s, buf) : -ENOMEM, 0);
                check("read it back in pieces and at offsets", buf ? read_big(s, buf) : -ENOMEM, 0);
                /* A file read partway and closed: its read-ahead is not sent as writes (which
                 * waited for the store's timeout and lost the connection). */
                r = buf ? yb_store_open_read(s, "big", &f) : -ENOMEM;
                if (r >= 0) {
                        ssize_t k = yb_store_read(f, buf, 1000);

                        r = k == 1000 ? 0 : k < 0 ? (int) k : -EBADMSG;
                        yb_store_file_close(f);
                }
                check("read 1000 bytes of 9 MiB and close", r, 0);
                check("the store works after that close", put(s, "after-partial", "x"), 0);
                free(buf);
        }

        /* The symlinks the caller planted: nothing goes through them. */
        check("read through a symlinked directory: ENOTDIR",
              yb_store_open_read(s, "link/secret", &f), -ENOTDIR);
        check("read a symlink to a file: ELOOP", yb_store_open_read(s, "file-link", &f), -ELOOP);
        check("append to a symlink to a file: ELOOP",
              yb_store_open_append(s, "file-link", &(uint64_t){ 0 }, &f), -ELOOP);
        check("create through a symlinked directory: ENOTDIR", put(s, "link/new", "x"), -ENOTDIR);
        check("mkdir over a symlink: ENOTDIR", yb_store_mkdir(s, "link"), -ENOTDIR);
        check("list a symlinked directory: ENOTDIR", yb_store_list(s, "link", ignore, NULL),
              -ENOTDIR);
        check("stat through a symlinked directory: ENOTDIR", yb_store_stat(s, "link/secret", &st),
              -ENOTDIR);
        check("unlink through a symlinked directory: ENOTDIR", yb_store_unlink(s, "link/secret"),
              -ENOTDIR);
        check("rename into a symlinked directory: ENOTDIR", yb_store_rename(s, "c", "link/c"),
              -ENOTDIR);
        check("remove a tree that is a symlink (the link only)", yb_store_remove_tree(s, "link"),
              0);
        check("the link is gone", yb_store_stat(s, "link", &st), -ENOENT);
        yb_store_close(s);
        return failed;
}
