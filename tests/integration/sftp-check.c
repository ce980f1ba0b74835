/* yb-sftp-check: the store guarantees of core/store/store.h checked on a real SFTP server, for
 * sftp-store.sh.
 *
 *   yb-sftp-check STORE SSH_KEY KNOWN_HOSTS
 *
 * STORE is an empty sftp:// store in whose directory the caller has planted "link", a symlink
 * to a directory outside the store holding "secret", and "file-link", a symlink to that
 * secret. Checks that create fails on an existing file (CREAT|EXCL), that rename never replaces
 * a file or a directory, that what was written and synced reads back, that directories sync,
 * and that no operation goes through either symlink. Prints one line per check; exits 0 when
 * all hold, 1 otherwise. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/base/buf.h"
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
