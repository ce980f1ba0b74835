#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "core/store/store.h"
#include "tests/unit/test.h"

static YbStore *open_store(const TestTmpdir *d) {
        YbStore *s = NULL;

        ASSERT_OK(yb_store_open(d->path, &s));
        return s;
}

static void assert_store_file_is(YbStore *s, const char *path, const void *want, size_t n) {
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;

        ASSERT_OK(yb_store_read_file(s, path, SIZE_MAX, &b));
        ASSERT_EQ(b.size, n);
        ASSERT_MEMEQ(b.data, want, n);
}

typedef struct Names {
        char all[1024]; /* the names seen, each followed by '|', in sorted order */
        size_t n;
        int fail_after; /* 0: never */
} Names;

static int collect(void *ud, const char *name) {
        Names *l = ud;

        if (l->fail_after > 0 && (int) l->n == l->fail_after)
                return -ECANCELED;
        l->n++;
        strncat(l->all, name, sizeof(l->all) - strlen(l->all) - 2);
        strcat(l->all, "|");
        return 0;
}

/* Sorts the '|'-separated names so listings compare regardless of directory order. */
static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static void sort_names(Names *l) {
        char copy[sizeof(l->all)], *v[64], *save = NULL;
        size_t n = 0;

        strcpy(copy, l->all);
        for (char *t = strtok_r(copy, "|", &save); t && n < ELEMENTSOF(v);
             t = strtok_r(NULL, "|", &save))
                v[n++] = t;
        qsort(v, n, sizeof(v[0]), cmp_str);
        l->all[0] = 0;
        for (size_t i = 0; i < n; i++) {
                strcat(l->all, v[i]);
                strcat(l->all, "|");
        }
}

TEST(open_locations) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_free_ char *url = NULL, *missing = test_tmpdir_path(d, "missing");
        _cleanup_free_ char *missing_url = NULL;
        YbStore *s = NULL;

        ASSERT_OK(yb_store_open(d->path, &s));
        ASSERT_STREQ(yb_store_location(s), d->path);
        s = yb_store_close(s);
        ASSERT_TRUE(s == NULL);

        ASSERT_TRUE(asprintf(&url, "file://%s", d->path) > 0);
        ASSERT_OK(yb_store_open(url, &s));
        ASSERT_STREQ(yb_store_location(s), url);
        ASSERT_OK(yb_store_write_file(s, "via-url", "x", 1)); /* it is really that directory */
        s = yb_store_close(s);
        ASSERT_EQ(test_count_entries(d->fd, "."), 1);

        ASSERT_ERR(yb_store_open(missing, &s), ENOENT);
        ASSERT_TRUE(asprintf(&missing_url, "file://%s", missing) > 0);
        ASSERT_ERR(yb_store_open(missing_url, &s), ENOENT);
        /* sftp://: its own tests (tests/integration/sftp-store.sh) */
        /* s3:// needs an endpoint and credentials, which the defaults lack (its own tests:
         * tests/integration/s3-store.sh) */
        ASSERT_ERR(yb_store_open("s3://bucket/prefix", &s), EINVAL);
        ASSERT_ERR(yb_store_open("files:///tmp", &s), EPROTONOSUPPORT);
        ASSERT_ERR(yb_store_open("file://host/srv", &s), EINVAL); /* remote hosts: not ours */
        ASSERT_ERR(yb_store_open("file://", &s), EINVAL);
        ASSERT_ERR(yb_store_open("", &s), EINVAL);
        test_write_file(d->fd, "plain", "x", 1);
        _cleanup_free_ char *plain = test_tmpdir_path(d, "plain");
        ASSERT_ERR(yb_store_open(plain, &s), ENOTDIR);
        ASSERT_TRUE(s == NULL);
}

TEST(create_write_read) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_store_closep) YbStore *s = open_store(d);
        _cleanup_(yb_store_file_closep) YbStoreFile *w = NULL, *r = NULL;
        _cleanup_free_ uint8_t *data = malloc(200000);
        uint8_t buf[100];

        ASSERT_TRUE(data);
        test_fill_random(data, 200000, 1);
        ASSERT_OK(yb_store_mkdir(s, "dir"));
        ASSERT_OK(yb_store_create(s, "dir/f", &w));
        ASSERT_OK(yb_store_write(w, data, 100000));
        ASSERT_OK(yb_store_write_cb(w, data + 100000, 100000));
        ASSERT_EQ(w->written, 200000);
        ASSERT_OK(yb_store_sync(w));
        w = yb_store_file_close(w);

        assert_store_file_is(s, "dir/f", data, 200000);
        ASSERT_OK(yb_store_open_read(s, "dir/f", &r));
        ASSERT_EQ(yb_store_pread(r, buf, sizeof(buf), 150000), sizeof(buf));
        ASSERT_MEMEQ(buf, data + 150000, sizeof(buf));
        ASSERT_EQ(yb_store_pread(r, buf, sizeof(buf), 199950), 50); /* short at the end */
        ASSERT_EQ(yb_store_pread(r, buf, sizeof(buf), 300000), 0);
        ASSERT_EQ(yb_store_read_cb(r, buf, 10), 10); /* pread did not move the position */
        ASSERT_MEMEQ(buf, data, 10);

        ASSERT_ERR(yb_store_create(s, "dir/f", &w), EEXIST); /* never replaces a file */
        ASSERT_ERR(yb_store_write_file(s, "dir/f", "x", 1), EEXIST);
        assert_store_file_is(s, "dir/f", data, 200000);
        ASSERT_ERR(yb_store_create(s, "nodir/f", &w), ENOENT);
        ASSERT_ERR(yb_store_open_read(s, "dir/missing", &r), ENOENT);
        ASSERT_TRUE(w == NULL);
}

TEST(read_file_caps_size) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_store_closep) YbStore *s = open_store(d);
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;
        _cleanup_free_ uint8_t *data = calloc(1, 70000);

        ASSERT_TRUE(data);
        ASSERT_OK(yb_store_write_file(s, "f", data, 70000));
        ASSERT_OK(yb_store_read_file(s, "f", 70000, &b));
        ASSERT_EQ(b.size, 70000);
        yb_buf_clear(&b);
        ASSERT_ERR(yb_store_read_file(s, "f", 69999, &b), EFBIG);
        yb_buf_clear(&b);
        ASSERT_ERR(yb_store_read_file(s, "f", 10, &b), EFBIG);
        yb_buf_clear(&b);
        ASSERT_OK(yb_store_write_file(s, "empty", NULL, 0));
        ASSERT_OK(yb_store_read_file(s, "empty", 0, &b));
        ASSERT_EQ(b.size, 0);
}

TEST(rename_never_replaces) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_store_closep) YbStore *s = open_store(d);

        ASSERT_OK(yb_store_write_file(s, "a", "aaa", 3));
        ASSERT_OK(yb_store_write_file(s, "b", "bb", 2));
        ASSERT_ERR(yb_store_rename(s, "a", "b"), EEXIST);
        assert_store_file_is(s, "a", "aaa", 3);
        assert_store_file_is(s, "b", "bb", 2);

        ASSERT_OK(yb_store_rename(s, "a", "c"));
        assert_store_file_is(s, "c", "aaa", 3);
        ASSERT_ERR(yb_store_stat(s, "a", &(YbStoreStat){ 0 }), ENOENT);
        ASSERT_ERR(yb_store_rename(s, "a", "d"), ENOENT);

        /* Directories too: this is how a snapshot is committed. */
        ASSERT_OK(yb_store_mkdir(s, "tmp"));
        ASSERT_OK(yb_store_mkdir(s, "tmp/x"));
        ASSERT_OK(yb_store_write_file(s, "tmp/x/f", "1", 1));
        ASSERT_OK(yb_store_mkdir(s, "snapshots"));
        ASSERT_OK(yb_store_mkdir(s, "snapshots/x"));
        ASSERT_ERR(yb_store_rename(s, "tmp/x", "snapshots/x"), EEXIST); /* even an empty one */
        ASSERT_OK(yb_store_rmdir(s, "snapshots/x"));
        ASSERT_OK(yb_store_rename(s, "tmp/x", "snapshots/x"));
        assert_store_file_is(s, "snapshots/x/f", "1", 1);
}

TEST(list_stat_unlink) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_store_closep) YbStore *s = open_store(d);
        Names names = { .n = 0 };
        YbStoreStat st;

        ASSERT_OK(yb_store_mkdir(s, "d"));
        ASSERT_OK(yb_store_mkdir(s, "d")); /* an existing directory is not an error */
        ASSERT_OK(yb_store_mkdir(s, "d/sub"));
        ASSERT_OK(yb_store_write_file(s, "d/one", "1", 1));
        ASSERT_OK(yb_store_write_file(s, "d/two", "22", 2));
        ASSERT_OK(yb_store_list(s, "d", collect, &names));
        ASSERT_EQ(names.n, 3);
        sort_names(&names);
        ASSERT_STREQ(names.all, "one|sub|two|");

        names = (Names){ .fail_after = 1 };
        ASSERT_ERR(yb_store_list(s, "d", collect, &names), ECANCELED); /* the callback stops it */
        ASSERT_EQ(names.n, 1);
        ASSERT_ERR(yb_store_list(s, "d/one", collect, &names), ENOTDIR);
        ASSERT_ERR(yb_store_list(s, "missing", collect, &names), ENOENT);

        ASSERT_OK(yb_store_stat(s, "d/two", &st));
        ASSERT_EQ(st.size, 2);
        ASSERT_FALSE(st.is_dir);
        ASSERT_GT(st.mtime, 1577836800);
        ASSERT_OK(yb_store_stat(s, "d/sub", &st));
        ASSERT_TRUE(st.is_dir);
        ASSERT_ERR(yb_store_stat(s, "d/missing", &st), ENOENT);

        ASSERT_OK(yb_store_unlink(s, "d/one"));
        ASSERT_ERR(yb_store_unlink(s, "d/one"), ENOENT);
        ASSERT_ERR(yb_store_rmdir(s, "d"), ENOTEMPTY);
        ASSERT_OK(yb_store_sync_dir(s, "d"));
        ASSERT_ERR(yb_store_sync_dir(s, "missing"), ENOENT);
}

TEST(symlinks_in_store_not_followed) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(test_tmpdir_freep) TestTmpdir *outside = test_tmpdir_new();
        _cleanup_(yb_store_closep) YbStore *s = open_store(d);
        _cleanup_free_ char *target = test_tmpdir_path(outside, "secret");
        YbStoreFile *f = NULL;
        YbStoreStat st;
        Names names = { .n = 0 };

        test_write_file(outside->fd, "secret", "s", 1);
        ASSERT_OK(symlinkat(target, d->fd, "link"));
        ASSERT_OK(symlinkat(outside->path, d->fd, "dirlink"));
        ASSERT_ERR(yb_store_open_read(s, "link", &f), ELOOP);
        ASSERT_ERR(yb_store_create(s, "link", &f), EEXIST);
        ASSERT_TRUE(f == NULL);
        ASSERT_OK(yb_store_stat(s, "dirlink", &st));
        ASSERT_FALSE(st.is_dir); /* the link itself, not its target */
        ASSERT_ERR(yb_store_list(s, "dirlink", collect, &names), ENOTDIR);

        ASSERT_OK(yb_store_remove_tree(s, "dirlink"));
        ASSERT_EQ(test_count_entries(outside->fd, "."), 1);
}

/* A symlink in the middle of a path (sys/tmp -> outside) redirects nothing: not a create, a
 * mkdir, a rename, a listing or a removal. */
TEST(symlinked_parent_not_followed) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(test_tmpdir_freep) TestTmpdir *outside = test_tmpdir_new();
        _cleanup_(yb_store_closep) YbStore *s = open_store(d);
        YbStoreFile *f = NULL;
        Names names = { .n = 0 };

        test_write_file(outside->fd, "victim", "v", 1);
        ASSERT_OK(mkdirat(d->fd, "sys", 0700));
        ASSERT_OK(symlinkat(outside->path, d->fd, "sys/tmp"));
        ASSERT_OK(yb_store_write_file(s, "sys/ok", "x", 1));
        ASSERT_ERR(yb_store_create(s, "sys/tmp/new", &f), ENOTDIR);
        ASSERT_ERR(yb_store_open_read(s, "sys/tmp/victim", &f), ENOTDIR);
        ASSERT_ERR(yb_store_mkdir(s, "sys/tmp/dir"), ENOTDIR);
        ASSERT_ERR(yb_store_rename(s, "sys/ok", "sys/tmp/ok"), ENOTDIR);
        ASSERT_ERR(yb_store_unlink(s, "sys/tmp/victim"), ENOTDIR);
        ASSERT_ERR(yb_store_list(s, "sys/tmp", collect, &names), ENOTDIR);
        ASSERT_ERR(yb_store_remove_tree(s, "sys/tmp/victim"), ENOTDIR);
        ASSERT_TRUE(f == NULL);
        ASSERT_EQ(test_count_entries(outside->fd, "."), 1); /* the victim, alone, untouched */
}

TEST(remove_tree_removes_everything_below) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(test_tmpdir_freep) TestTmpdir *outside = test_tmpdir_new();
        _cleanup_(yb_store_closep) YbStore *s = open_store(d);

        test_write_file(outside->fd, "keep", "k", 1);
        ASSERT_OK(yb_store_mkdir(s, "t"));
        ASSERT_OK(yb_store_mkdir(s, "t/a"));
        ASSERT_OK(yb_store_mkdir(s, "t/a/b"));
        ASSERT_OK(yb_store_mkdir(s, "t/empty"));
        for (int i = 0; i < 40; i++) { /* outgrows the name list's first allocation */
                char name[32];

                snprintf(name, sizeof(name), "t/a/b/f%02d", i);
                ASSERT_OK(yb_store_write_file(s, name, "x", 1));
        }
        ASSERT_OK(yb_store_write_file(s, "t/top", "x", 1));
        ASSERT_OK(symlinkat(outside->path, d->fd, "t/a/out"));
        ASSERT_OK(yb_store_write_file(s, "sibling", "x", 1));

        ASSERT_OK(yb_store_remove_tree(s, "t"));
        ASSERT_EQ(test_count_entries(d->fd, "t"), -ENOENT);
        ASSERT_EQ(test_count_entries(d->fd, "."), 1); /* the sibling */
        ASSERT_EQ(test_count_entries(outside->fd, "."), 1);
        ASSERT_OK(yb_store_remove_tree(s, "t"));       /* gone already: fine */
        ASSERT_OK(yb_store_remove_tree(s, "sibling")); /* a plain file */
        ASSERT_EQ(test_count_entries(d->fd, "."), 0);
}

TEST(local_path_with_url_lookalike) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_store_closep) YbStore *s = NULL;
        _cleanup_free_ char *odd = NULL;

        /* A directory whose name holds "://" is still a directory, not a URL. */
        ASSERT_OK(mkdirat(d->fd, "x:", 0700));
        ASSERT_OK(mkdirat(d->fd, "x:/y", 0700));
        ASSERT_TRUE(asprintf(&odd, "%s/x://y", d->path) > 0);
        ASSERT_OK(yb_store_open(odd, &s));
}

TEST(list_top_level) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_store_closep) YbStore *s = open_store(d);
        Names names = { .n = 0 };

        ASSERT_OK(yb_store_mkdir(s, "hr-portal"));
        ASSERT_OK(yb_store_mkdir(s, "hotline"));
        ASSERT_OK(yb_store_list(s, "", collect, &names));
        ASSERT_EQ(names.n, 2);
}

TEST(unsafe_paths_rejected) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_store_closep) YbStore *s = open_store(d);
        static const char *const bad[] = { "",     "/etc/passwd", "..",  "../x", "a/../b",
                                           "a/..", ".",           "./a", "a/.",  "a//b",
                                           "/",    "a/./b",       "a/",  "a/b/" };
        Names names = { .n = 0 };
        YbBuf b = YB_BUF_INIT;
        YbStoreFile *f = NULL;
        YbStoreStat st;

        ASSERT_OK(yb_store_write_file(s, "ok", "x", 1));
#define REFUSED(expr)                                                                              \
        do {                                                                                       \
                long long _r = (long long) (expr);                                                 \
                if (_r != -EINVAL)                                                                 \
                        fail_msg("%s with \"%s\" returned %lld, expected -EINVAL", #expr, p, _r);  \
        } while (0)
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                const char *p = bad[i];

                REFUSED(yb_store_open_read(s, p, &f));
                REFUSED(yb_store_create(s, p, &f));
                REFUSED(yb_store_rename(s, "ok", p));
                REFUSED(yb_store_rename(s, p, "ok2"));
                REFUSED(yb_store_unlink(s, p));
                REFUSED(yb_store_mkdir(s, p));
                REFUSED(yb_store_rmdir(s, p));
                REFUSED(yb_store_stat(s, p, &st));
                if (*p) /* "" lists the top level */
                        REFUSED(yb_store_list(s, p, collect, &names));
                REFUSED(yb_store_sync_dir(s, p));
                REFUSED(yb_store_remove_tree(s, p));
                REFUSED(yb_store_read_file(s, p, 100, &b));
                REFUSED(yb_store_write_file(s, p, "x", 1));
        }
#undef REFUSED
        ASSERT_TRUE(f == NULL);
        ASSERT_EQ(names.n, 0);
        ASSERT_EQ(b.size, 0);
        assert_store_file_is(s, "ok", "x", 1);
        ASSERT_EQ(test_count_entries(d->fd, "."), 1);
}
