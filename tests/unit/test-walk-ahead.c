/* The walk run ahead on a thread of its own (agents/walk-ahead.c) gives the callback what
 * agent_walk gives it, in the same order: every entry with its stat and a directory descriptor
 * it can be opened from, a skipped directory's contents left out (and only those), errors in
 * their place; a callback's error stops it; an entry that waited too long is statted again. It
 * is built here with small bounds (tests/unit/CMakeLists.txt: 100 entries waiting, 8 a batch,
 * 16 directories held open), far below the trees', so that the ring wraps and the walker waits
 * for room and for directories; and with the caller's thread always close enough behind for
 * the walker to leave it the stats of entries that are not directories (AHEAD_DEFER, at its
 * default, is above the 100), so the cases below run with those stats deferred too. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "agents/agent.h"
#include "core/base/pathutil.h"
#include "tests/unit/test.h"

#define BIG_DIR_FILES 9000
#define SMALL_DIRS 300
/* A name that makes an entry's paths too long for its slot's own room. */
#define LONG_NAME_LEN 200

typedef struct Seen {
        YbBuf log;        /* "path mode size\n" per entry, "! abs errno\n" per error */
        const char *skip; /* a path whose contents the callback skips */
        size_t n, stop_at;
        int stop_error;
        int dir_fd_bad; /* entries whose dir_fd did not lead to them */
        /* Entries not after the one before in yb_path_walk_cmp's order, which the signature
         * index keeps its entries in (core/repo/sigdelta.c). */
        int out_of_order;
        char *prev;
        /* Done at entry change_at: change_path deleted, grow_path grown. */
        const char *change_at, *delete_path, *grow_path;
        bool mkdir_instead;   /* delete_path made a directory once deleted */
        bool symlink_instead; /* delete_path made a symbolic link once deleted */
        int root_fd;
} Seen;

static int seen_entry(void *userdata, const AgentWalkEntry *e) {
        Seen *s = userdata;
        struct stat st;

        s->n++;
        if (s->stop_at && s->n == s->stop_at)
                return s->stop_error;
        if (fstatat(e->dir_fd, e->name, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_ino != e->st->st_ino)
                s->dir_fd_bad++;
        if (s->prev && yb_path_walk_cmp(s->prev, e->path) >= 0)
                s->out_of_order++;
        free(s->prev);
        s->prev = strdup(e->path);
        ASSERT_OK(yb_buf_printf(&s->log, "%s %o %lld\n", e->path, (unsigned) e->st->st_mode,
                                (long long) e->st->st_size));
        if (s->change_at && streq(e->path, s->change_at)) {
                ASSERT_OK(unlinkat(s->root_fd, s->delete_path, 0));
                if (s->mkdir_instead)
                        ASSERT_OK(mkdirat(s->root_fd, s->delete_path, 0755));
                if (s->symlink_instead)
                        ASSERT_OK(symlinkat("elsewhere", s->root_fd, s->delete_path));
                if (s->grow_path)
                        test_write_file(s->root_fd, s->grow_path, "grown", 5);
        }
        return s->skip && streq(e->path, s->skip) ? 1 : 0;
}

static void seen_error(void *userdata, const char *abs, int error) {
        Seen *s = userdata;

        ASSERT_OK(yb_buf_printf(&s->log, "! %s %d\n", abs, error));
}

static void make_tree(TestTmpdir *d) {
        char p[LONG_NAME_LEN + 1];

        ASSERT_OK(mkdirat(d->fd, "t", 0755));
        ASSERT_OK(mkdirat(d->fd, "t/big", 0755));
        for (int i = 0; i < BIG_DIR_FILES; i++) {
                snprintf(p, sizeof(p), "t/big/f%05d", i);
                test_write_file(d->fd, p, p, (size_t) i % 7);
        }
        for (int i = 0; i < SMALL_DIRS; i++) {
                snprintf(p, sizeof(p), "t/d%03d", i);
                ASSERT_OK(mkdirat(d->fd, p, 0755));
                snprintf(p, sizeof(p), "t/d%03d/sub", i);
                ASSERT_OK(mkdirat(d->fd, p, 0755));
                snprintf(p, sizeof(p), "t/d%03d/sub/x", i);
                test_write_file(d->fd, p, "x", 1);
                snprintf(p, sizeof(p), "t/d%03d/link", i);
                ASSERT_OK(symlinkat("../big", d->fd, p));
        }
        memset(p, 'L', LONG_NAME_LEN);
        p[LONG_NAME_LEN] = 0;
        {
                _cleanup_free_ char *long_path = NULL;

                ASSERT_TRUE(asprintf(&long_path, "t/d000/%s", p) > 0);
                test_write_file(d->fd, long_path, "long", 4);
        }
        /* "skip" and "skip2": the second is not below the first, whatever its name. */
        ASSERT_OK(mkdirat(d->fd, "t/skip", 0755));
        test_write_file(d->fd, "t/skip/inside", "i", 1);
        ASSERT_OK(mkdirat(d->fd, "t/skip2", 0755));
        test_write_file(d->fd, "t/skip2/inside", "i", 1);
}

static char *tree_path(TestTmpdir *d) {
        return test_tmpdir_path(d, "t");
}

static int walk_ahead(const char *source, char *const *excludes, size_t n_excludes,
                      int64_t max_age_ns, Seen *s) {
        AgentWalkAhead *a = NULL;

        ASSERT_OK(agent_walk_ahead_start(source, "t", excludes, n_excludes, max_age_ns, &a));
        return agent_walk_ahead_finish(a, seen_entry, seen_error, s);
}

TEST(same_entries_in_the_same_order) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_free_ char *src = NULL;
        char ex1[] = "f0004*", ex2[] = "t/d007";
        char *excludes[] = { ex1, ex2 };
        Seen one = { .log = YB_BUF_INIT }, two = { .log = YB_BUF_INIT };

        make_tree(d);
        src = tree_path(d);
        ASSERT_OK(
                agent_walk(src, "t", excludes, ELEMENTSOF(excludes), seen_entry, seen_error, &one));
        ASSERT_OK(walk_ahead(src, excludes, ELEMENTSOF(excludes), INT64_MAX, &two));
        ASSERT_EQ(one.n, two.n);
        ASSERT_EQ(one.n, 1 + 1 + BIG_DIR_FILES - 10 + (SMALL_DIRS - 1) * 4 + 1 + 4);
        ASSERT_EQ(one.log.size, two.log.size);
        ASSERT_MEMEQ(one.log.data, two.log.data, one.log.size);
        ASSERT_EQ(two.dir_fd_bad, 0);
        ASSERT_EQ(one.out_of_order, 0);
        ASSERT_EQ(two.out_of_order, 0);
        yb_buf_done(&one.log);
        free(one.prev);
        yb_buf_done(&two.log);
        free(two.prev);
}

TEST(skipped_directory_leaves_out_its_contents_only) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_free_ char *src = NULL;
        Seen one = { .log = YB_BUF_INIT, .skip = "t/skip" }, two = one;

        make_tree(d);
        src = tree_path(d);
        ASSERT_OK(agent_walk(src, "t", NULL, 0, seen_entry, seen_error, &one));
        two.log = (YbBuf) YB_BUF_INIT;
        ASSERT_OK(walk_ahead(src, NULL, 0, INT64_MAX, &two));
        ASSERT_EQ(one.log.size, two.log.size);
        ASSERT_MEMEQ(one.log.data, two.log.data, one.log.size);
        ASSERT_OK(yb_buf_append_u8(&two.log, 0));
        ASSERT_TRUE(strstr((char *) two.log.data, "\nt/skip 40") != NULL);
        ASSERT_TRUE(strstr((char *) two.log.data, "t/skip/inside") == NULL);
        ASSERT_TRUE(strstr((char *) two.log.data, "t/skip2/inside") != NULL);
        yb_buf_done(&one.log);
        free(one.prev);
        yb_buf_done(&two.log);
        free(two.prev);
}

TEST(callback_error_stops_the_walk) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_free_ char *src = NULL;
        Seen s = { .log = YB_BUF_INIT, .stop_at = 100, .stop_error = -EIO };

        make_tree(d);
        src = tree_path(d);
        ASSERT_EQ(walk_ahead(src, NULL, 0, INT64_MAX, &s), -EIO);
        ASSERT_EQ(s.n, 100);
        yb_buf_done(&s.log);
        free(s.prev);
}

TEST(missing_source_is_the_walks_error) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_free_ char *src = test_tmpdir_path(d, "none");
        Seen s = { .log = YB_BUF_INIT };

        ASSERT_EQ(walk_ahead(src, NULL, 0, INT64_MAX, &s), -ENOENT);
        ASSERT_EQ(s.n, 0);
        yb_buf_done(&s.log);
        free(s.prev);
}

/* With no age allowed, every entry other than a directory is statted again before it is given:
 * one deleted after the walker saw it is not given, one grown is given with its new size. */
TEST(entries_that_waited_are_statted_again) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_free_ char *src = NULL;
        Seen s = { .log = YB_BUF_INIT,
                   .change_at = "t/big/f00000",
                   .delete_path = "t/big/f00005",
                   .grow_path = "t/big/f00006" };

        make_tree(d);
        src = tree_path(d);
        s.root_fd = d->fd;
        ASSERT_OK(walk_ahead(src, NULL, 0, 0, &s));
        ASSERT_OK(yb_buf_append_u8(&s.log, 0));
        ASSERT_TRUE(strstr((char *) s.log.data, "t/big/f00005") == NULL);
        ASSERT_TRUE(strstr((char *) s.log.data, "t/big/f00006 100644 5\n") != NULL);
        ASSERT_TRUE(strstr((char *) s.log.data, "t/big/f00004 100644 4\n") != NULL);
        ASSERT_TRUE(strstr((char *) s.log.data, "!") == NULL);
        yb_buf_done(&s.log);
        free(s.prev);
}

/* The walker leaves the stat of an entry that is not a directory to the caller's thread while
 * that thread is close behind it (with this test's bounds, always, once it has begun to take):
 * such an entry is statted when it is taken, even with any age allowed. A file grown after the
 * walker listed its directory and before it was taken is given with its new size. */
TEST(entries_left_unstatted_are_statted_when_taken) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_free_ char *src = NULL;
        Seen s = { .log = YB_BUF_INIT,
                   .change_at = "t/d100/link",
                   .delete_path = "t/d100/sub/gone",
                   .grow_path = "t/d100/sub/x" };

        make_tree(d);
        test_write_file(d->fd, "t/d100/sub/gone", "g", 1);
        src = tree_path(d);
        s.root_fd = d->fd;
        ASSERT_OK(walk_ahead(src, NULL, 0, INT64_MAX, &s));
        ASSERT_OK(yb_buf_append_u8(&s.log, 0));
        ASSERT_TRUE(strstr((char *) s.log.data, "t/d100/sub/x 100644 5\n") != NULL);
        ASSERT_TRUE(strstr((char *) s.log.data, "t/d100/sub/gone") == NULL);
        ASSERT_TRUE(strstr((char *) s.log.data, "t/d101/sub/x 100644 1\n") != NULL);
        ASSERT_TRUE(strstr((char *) s.log.data, "!") == NULL);
        ASSERT_EQ(s.dir_fd_bad, 0);
        yb_buf_done(&s.log);
        free(s.prev);
}

/* An entry left unstatted that became another kind of entry but a directory after its
 * directory was listed is given as what it is now, as the walker's own stat would have given
 * it: a listing's type is no stat to hold to. */
TEST(entry_left_unstatted_is_given_as_it_is_now) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_free_ char *src = NULL;
        Seen s = { .log = YB_BUF_INIT,
                   .change_at = "t/d100/link",
                   .delete_path = "t/d100/sub/x",
                   .symlink_instead = true };

        make_tree(d);
        src = tree_path(d);
        s.root_fd = d->fd;
        ASSERT_OK(walk_ahead(src, NULL, 0, INT64_MAX, &s));
        ASSERT_OK(yb_buf_append_u8(&s.log, 0));
        ASSERT_TRUE(strstr((char *) s.log.data, "t/d100/sub/x 120777 9\n") != NULL);
        ASSERT_TRUE(strstr((char *) s.log.data, "!") == NULL);
        yb_buf_done(&s.log);
        free(s.prev);
}

/* The walk's reading of a directory's entries (WALK_GETDENTS in this test's build): that of
 * the directory whose inode is fail_ino fails. */
ssize_t test_getdents(int fd, void *buf, size_t n);
static ino_t fail_ino;

ssize_t test_getdents(int fd, void *buf, size_t n) {
        struct stat st;

        if (fail_ino != 0 && fstat(fd, &st) == 0 && st.st_ino == fail_ino) {
                errno = EIO;
                return -1;
        }
        return getdents64(fd, buf, n);
}

/* A directory that could not be read is reported, and the entries after it keep their own
 * paths: they were given under the unread directory's, as if inside it. */
TEST(directory_unread_leaves_the_paths_after_it_right) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_free_ char *src = NULL, *abs = NULL, *want = NULL;
        Seen one = { .log = YB_BUF_INIT }, two = { .log = YB_BUF_INIT };
        struct stat st;

        make_tree(d);
        ASSERT_OK(fstatat(d->fd, "t/d050", &st, 0));
        src = tree_path(d);
        abs = test_tmpdir_path(d, "t/d050");
        ASSERT_TRUE(asprintf(&want, "t/d050 40755 %lld\n! %s %d\nt/d051 40755",
                             (long long) st.st_size, abs, -EIO) > 0);
        fail_ino = st.st_ino;
        ASSERT_OK(agent_walk(src, "t", NULL, 0, seen_entry, seen_error, &one));
        ASSERT_OK(walk_ahead(src, NULL, 0, INT64_MAX, &two));
        fail_ino = 0;
        ASSERT_OK(yb_buf_append_u8(&one.log, 0));
        ASSERT_TRUE(strstr((char *) one.log.data, want) != NULL);
        ASSERT_TRUE(strstr((char *) one.log.data, "t/d050/") == NULL);
        ASSERT_TRUE(strstr((char *) one.log.data, "t/d051/sub/x 100644 1\n") != NULL);
        ASSERT_EQ(one.out_of_order, 0);
        ASSERT_OK(yb_buf_append_u8(&two.log, 0));
        ASSERT_STREQ((char *) one.log.data, (char *) two.log.data);
        yb_buf_done(&one.log);
        free(one.prev);
        yb_buf_done(&two.log);
        free(two.prev);
}

/* A file that became a directory while the walk went on is never given as the file it was:
 * either the walker statted it before, and its replacement is said, or after, and it is given
 * as the directory it is now (which of the two depends on how far ahead the walker was). */
TEST(entry_replaced_by_another_kind_is_reported) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_free_ char *src = NULL, *abs = NULL, *want = NULL;
        Seen s = { .log = YB_BUF_INIT, .change_at = "t/big/f00000" };

        make_tree(d);
        src = tree_path(d);
        s.root_fd = d->fd;
        s.delete_path = "t/big/f00007";
        s.mkdir_instead = true;
        ASSERT_OK(walk_ahead(src, NULL, 0, 0, &s));
        ASSERT_OK(yb_buf_append_u8(&s.log, 0));
        abs = test_tmpdir_path(d, "t/big/f00007");
        ASSERT_TRUE(asprintf(&want, "! %s %d\n", abs, -ESTALE) > 0);
        ASSERT_TRUE(strstr((char *) s.log.data, "t/big/f00007 100644") == NULL);
        ASSERT_TRUE((strstr((char *) s.log.data, want) != NULL) !=
                    (strstr((char *) s.log.data, "t/big/f00007 40755") != NULL));
        yb_buf_done(&s.log);
        free(s.prev);
}

/* The source itself, gone by the time it is taken: the walk's error, as agent_walk's. */
TEST(source_gone_is_the_walks_error) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_free_ char *src = test_tmpdir_path(d, "t");
        AgentWalkAhead *a = NULL;
        Seen s = { .log = YB_BUF_INIT };

        test_write_file(d->fd, "t", "a file", 6);
        ASSERT_OK(agent_walk_ahead_start(src, "t", NULL, 0, 0, &a));
        ASSERT_OK(unlinkat(d->fd, "t", 0));
        ASSERT_EQ(agent_walk_ahead_finish(a, seen_entry, seen_error, &s), -ENOENT);
        ASSERT_EQ(s.n, 0);
        yb_buf_done(&s.log);
        free(s.prev);
}

/* A directory the callback skips and the walker could not read: agent_walk never opened it, so
 * there is no error to give. */
TEST(skipped_directory_unreadable_is_no_error) {
        if (geteuid() == 0)
                skip(); /* root reads what a mode forbids */

        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_free_ char *src = NULL;
        Seen one = { .log = YB_BUF_INIT, .skip = "t/skip" }, two = one;

        make_tree(d);
        ASSERT_OK(fchmodat(d->fd, "t/skip", 0, 0));
        src = tree_path(d);
        ASSERT_OK(agent_walk(src, "t", NULL, 0, seen_entry, seen_error, &one));
        two.log = (YbBuf) YB_BUF_INIT;
        ASSERT_OK(walk_ahead(src, NULL, 0, INT64_MAX, &two));
        ASSERT_OK(fchmodat(d->fd, "t/skip", 0755, 0));
        ASSERT_EQ(one.log.size, two.log.size);
        ASSERT_MEMEQ(one.log.data, two.log.data, one.log.size);
        ASSERT_OK(yb_buf_append_u8(&two.log, 0));
        ASSERT_TRUE(strstr((char *) two.log.data, "!") == NULL);
        yb_buf_done(&one.log);
        free(one.prev);
        yb_buf_done(&two.log);
        free(two.prev);
}

/* The walker's allocations of an entry's paths (AHEAD_SLOT_MALLOC in this test's build): one of
 * fail_size bytes fails. */
void *test_slot_malloc(size_t n);
static size_t fail_size;

void *test_slot_malloc(size_t n) {
        return n == fail_size ? NULL : malloc(n);
}

/* An error whose path does not fit its slot, and no memory to hold it: the walk fails, where
 * the error was dropped and the walk ended well (a snapshot would have looked whole). */
TEST(error_without_memory_fails_the_walk) {
        if (geteuid() == 0)
                skip(); /* root reads what a mode forbids: no error to give */

        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_free_ char *src = NULL, *rel = NULL, *abs = NULL;
        char name[LONG_NAME_LEN + 1];
        Seen s = { .log = YB_BUF_INIT };

        make_tree(d);
        memset(name, 'U', LONG_NAME_LEN);
        name[LONG_NAME_LEN] = 0;
        ASSERT_TRUE(asprintf(&rel, "t/%s", name) > 0);
        ASSERT_OK(mkdirat(d->fd, rel, 0));
        src = tree_path(d);
        abs = test_tmpdir_path(d, rel);

        /* Its error, with memory: reported, and the walk ends well. */
        ASSERT_OK(walk_ahead(src, NULL, 0, INT64_MAX, &s));
        ASSERT_OK(yb_buf_append_u8(&s.log, 0));
        ASSERT_TRUE(strstr((char *) s.log.data, abs) != NULL);
        ASSERT_TRUE(strstr((char *) s.log.data, "! ") != NULL);
        yb_buf_done(&s.log);
        free(TAKE_PTR(s.prev));

        /* Without: abs, and the two empty paths an error has. */
        s = (Seen){ .log = YB_BUF_INIT };
        fail_size = strlen(abs) + 3;
        ASSERT_EQ(walk_ahead(src, NULL, 0, INT64_MAX, &s), -ENOMEM);
        fail_size = 0;
        ASSERT_OK(yb_buf_append_u8(&s.log, 0));
        ASSERT_TRUE(strstr((char *) s.log.data, "! ") == NULL);
        ASSERT_OK(fchmodat(d->fd, rel, 0755, 0));
        yb_buf_done(&s.log);
        free(s.prev);
}

typedef struct Facts {
        YbBuf log; /* "path no_xattrs no_pg_version\n" per directory */
} Facts;

static int facts_entry(void *userdata, const AgentWalkEntry *e) {
        Facts *f = userdata;

        if (S_ISDIR(e->st->st_mode))
                ASSERT_OK(yb_buf_printf(&f->log, "%s %d %d\n", e->path, e->dir_no_xattrs,
                                        e->dir_no_pg_version));
        return 0;
}

/* What the walker answers of a directory it read, before the backup asks: whether it had
 * extended attributes, whether it holds a PG_VERSION. The plain walk knows neither. */
TEST(directories_read_answer_for_the_backup) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_free_ char *src = NULL, *xa = NULL;
        Facts plain = { .log = YB_BUF_INIT }, ahead = { .log = YB_BUF_INIT };
        AgentWalkAhead *a = NULL;
        bool xattrs;

        ASSERT_OK(mkdirat(d->fd, "t", 0755));
        ASSERT_OK(mkdirat(d->fd, "t/plain", 0755));
        ASSERT_OK(mkdirat(d->fd, "t/pg", 0755));
        test_write_file(d->fd, "t/pg/PG_VERSION", "16\n", 3);
        ASSERT_OK(mkdirat(d->fd, "t/pg/base", 0755));
        ASSERT_OK(mkdirat(d->fd, "t/xa", 0755));
        xa = test_tmpdir_path(d, "t/xa");
        xattrs = setxattr(xa, "user.yunbak", "1", 1, 0) == 0;
        if (!xattrs)
                print_message("(this file system takes no user xattrs: that case is not run)\n");
        src = tree_path(d);

        ASSERT_OK(agent_walk(src, "t", NULL, 0, facts_entry, seen_error, &plain));
        ASSERT_OK(yb_buf_append_u8(&plain.log, 0));
        ASSERT_STREQ((char *) plain.log.data,
                     "t 0 0\nt/pg 0 0\nt/pg/base 0 0\nt/plain 0 0\nt/xa 0 0\n");

        ASSERT_OK(agent_walk_ahead_start(src, "t", NULL, 0, INT64_MAX, &a));
        ASSERT_OK(agent_walk_ahead_finish(a, facts_entry, seen_error, &ahead));
        ASSERT_OK(yb_buf_append_u8(&ahead.log, 0));
        ASSERT_STREQ((char *) ahead.log.data,
                     xattrs ? "t 1 1\nt/pg 1 0\nt/pg/base 1 1\nt/plain 1 1\nt/xa 0 1\n"
                            : "t 1 1\nt/pg 1 0\nt/pg/base 1 1\nt/plain 1 1\nt/xa 1 1\n");
        yb_buf_done(&plain.log);
        yb_buf_done(&ahead.log);
}

/* Started and let go before it is finished: the walker stops, whatever it holds is freed. */
TEST(freed_unfinished) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_free_ char *src = NULL;
        AgentWalkAhead *a = NULL;

        make_tree(d);
        src = tree_path(d);
        ASSERT_OK(agent_walk_ahead_start(src, "t", NULL, 0, INT64_MAX, &a));
        a = agent_walk_ahead_free(a);
        ASSERT_TRUE(a == NULL);
}
