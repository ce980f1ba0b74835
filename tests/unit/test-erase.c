/* core/erase: the judgement of what an overwrite achieves, on a table of facts (every kind of
 * filesystem and disk docs/decommission.md "Honest methods" names), and the erase of files and
 * trees in a scratch directory: symlinks removed and never followed, nothing outside touched,
 * depth beyond the open-file budget, an overwrite that reaches the inode (seen through an fd
 * kept open across the erase), holes left alone, a run again harmless. Mounts below a tree and
 * the blocks on a real disk are for tests/integration/erase-*.sh (they need root). */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/fileio.h"
#include "core/erase/erase.h"
#include "core/erase/eraser.h"
#include "tests/unit/test.h"

/* A local spinning disk sda: the one place an overwrite counts. */
static YbMediumFacts disk(const char *fstype) {
        YbMediumFacts f = { .rotational = true };

        snprintf(f.fstype, sizeof(f.fstype), "%s", fstype);
        snprintf(f.device, sizeof(f.device), "sda");
        snprintf(f.disk, sizeof(f.disk), "sda");
        snprintf(f.source, sizeof(f.source), "/dev/sda1");
        return f;
}

static YbMedium judged(const YbMediumFacts *f) {
        YbMedium m;

        memset(&m, 0x55, sizeof(m)); /* every field must be written */
        yb_medium_judge(f, &m);
        return m;
}

#define ASSERT_CONTAINS(hay, needle)                                                               \
        do {                                                                                       \
                if (!strstr((hay), (needle)))                                                      \
                        fail_msg("\"%s\" does not contain \"%s\"", (hay), (needle));               \
        } while (0)

TEST(judge_plain_filesystems_on_a_spinning_disk_are_effective) {
        static const char *const fss[] = { "ext2", "ext3", "ext4", "xfs" };

        for (size_t i = 0; i < ELEMENTSOF(fss); i++) {
                YbMediumFacts f = disk(fss[i]);
                YbMedium m = judged(&f);

                ASSERT_TRUE(m.overwrite_effective);
                ASSERT_STREQ(m.fstype, fss[i]);
                ASSERT_STREQ(m.device, "sda");
                ASSERT_STREQ(m.kind, "disk");
                ASSERT_FALSE(m.encrypted);
                ASSERT_CONTAINS(m.why, "local spinning disk sda");
                ASSERT_STREQ(m.operator_must, "");
        }
}

TEST(judge_filesystems_that_write_elsewhere) {
        static const struct {
                const char *fstype, *options;
                bool reflink;
                const char *why;
        } cases[] = {
                { "btrfs", "", false,
                  "btrfs is copy-on-write: an overwrite writes new blocks and leaves the old "
                  "ones" },
                { "zfs", "", false,
                  "ZFS is copy-on-write: an overwrite writes new blocks and leaves the old ones" },
                { "bcachefs", "", false, "bcachefs is copy-on-write" },
                { "f2fs", "", false, "F2FS is log-structured" },
                { "nilfs2", "", false, "NILFS is log-structured and keeps checkpoints" },
                { "ext4", "rw,data=journal", false, "ext4 is mounted with data=journal" },
                { "ext3", "rw,errors=remount-ro,data=journal", false,
                  "ext3 is mounted with data=journal" },
                { "xfs", "rw", true, "this XFS has reflink" },
                { "vfat", "rw", false, "vfat is not a filesystem where an overwrite is known" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                YbMediumFacts f = disk(cases[i].fstype);
                YbMedium m;

                snprintf(f.mount_options, sizeof(f.mount_options), "%s", cases[i].options);
                f.xfs_reflink = cases[i].reflink;
                m = judged(&f);
                ASSERT_FALSE(m.overwrite_effective);
                ASSERT_CONTAINS(m.why, cases[i].why);
                /* The disk beneath is still a disk, and purging it is what is left. */
                ASSERT_STREQ(m.kind, "disk");
                ASSERT_CONTAINS(m.operator_must, "overwrite the whole disk (sda) or destroy it");
        }
        /* data=ordered (the default, and an option that merely starts alike) is not journaled
         * data. */
        {
                YbMediumFacts f = disk("ext4");

                snprintf(f.mount_options, sizeof(f.mount_options),
                         "rw,data=ordered,"
                         "data=journalx");
                ASSERT_TRUE(judged(&f).overwrite_effective);
        }
}

TEST(judge_filesystems_without_a_disk_of_their_own) {
        static const struct {
                const char *fstype, *source, *kind, *why, *must;
        } cases[] = {
                { "nfs4", "nas:/export/hr", "network filesystem",
                  "nfs4 is a network filesystem: the overwrite is sent to the server "
                  "(nas:/export/hr)",
                  "purge the server's storage that holds nas:/export/hr" },
                { "nfs", "nas:/x", "network filesystem", "nfs is a network filesystem", "nas:/x" },
                { "cifs", "//fs/share", "network filesystem", "cifs is a network filesystem",
                  "//fs/share" },
                { "ceph", "10.0.0.1:/", "network filesystem", "ceph is a network filesystem",
                  "10.0.0.1:/" },
                { "fuse.sshfs", "me@host:/data", "FUSE filesystem",
                  "fuse.sshfs is a FUSE filesystem", "me@host:/data" },
                /* Deleting there hides a lower layer's file; it does not delete it. */
                { "overlay", "overlay", "union filesystem",
                  "is not deleted but hidden by a whiteout", "lower layers" },
                { "tmpfs", "tmpfs", "memory", "tmpfs keeps files in memory", "swap" },
                { "ramfs", "ramfs", "memory", "ramfs keeps files in memory only", "reboot" },
                { "zfs", "tank/hr", "unknown", "ZFS is copy-on-write", "tank/hr" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                YbMediumFacts f = { 0 };
                YbMedium m;

                snprintf(f.fstype, sizeof(f.fstype), "%s", cases[i].fstype);
                snprintf(f.source, sizeof(f.source), "%s", cases[i].source);
                f.memory = streq(cases[i].kind, "memory");
                m = judged(&f);
                ASSERT_FALSE(m.overwrite_effective);
                ASSERT_STREQ(m.device, "");
                ASSERT_STREQ(m.kind, cases[i].kind);
                ASSERT_CONTAINS(m.why, cases[i].why);
                ASSERT_CONTAINS(m.operator_must, cases[i].must);
        }
}

TEST(judge_disks_that_map_blocks_anew) {
        static const struct {
                const char *device, *disk;
                bool rotational, loop, thin, virtual_disk, network, memory;
                const char *kind, *why, *must;
        } cases[] = {
                { "loop0", "loop0", true, true, false, false, false, false, "loop device",
                  "the filesystem sits on the loop device loop0, backed by the file "
                  "/srv/images/hr.img: the overwrite reaches that file, not necessarily the "
                  "blocks beneath it",
                  "erase the backing file /srv/images/hr.img" },
                { "dm-3", "sdb", true, false, true, false, false, false, "thin volume",
                  "the volume dm-3 is thin-provisioned", "destroy the thin volume (dm-3)" },
                { "vda", "vda", true, false, false, true, false, false, "virtual disk",
                  "the disk vda is a virtual disk: the overwrite reaches the virtual disk, not "
                  "necessarily the blocks beneath it on the cloud's storage",
                  "destroy the volume (vda) on the cloud's storage, or purge the backing store" },
                { "xvda", "xvda", false, false, false, true, false, false, "virtual disk",
                  "the disk xvda is a virtual disk", "destroy the volume (xvda)" },
                { "nbd0", "nbd0", true, false, false, false, true, false, "network disk",
                  "the disk nbd0 is a network block device", "destroy the volume (nbd0)" },
                { "zram0", "zram0", false, false, false, false, false, true, "memory",
                  "the disk zram0 is compressed memory (zram)", "reset the zram device (zram0)" },
                { "nvme0n1", "nvme0n1", false, false, false, false, false, false,
                  "solid-state disk", "the disk nvme0n1 is a solid-state disk",
                  "purge the disk (nvme0n1) with its own sanitize or secure-erase command" },
                { "sdc", "sdc", false, false, false, false, false, false, "solid-state disk",
                  "the disk sdc is a solid-state disk", "sdc" },
                { "", "", false, false, false, false, false, false, "unknown",
                  "the disk beneath ext4 could not be identified", "/dev/sda1" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                YbMediumFacts f = disk("ext4");
                YbMedium m;

                snprintf(f.device, sizeof(f.device), "%s", cases[i].device);
                snprintf(f.disk, sizeof(f.disk), "%s", cases[i].disk);
                snprintf(f.slaves, sizeof(f.slaves), "%s", cases[i].thin ? "dm-2 sdb" : "");
                snprintf(f.backing_file, sizeof(f.backing_file), "%s",
                         cases[i].loop ? "/srv/images/hr.img" : "");
                f.rotational = cases[i].rotational;
                f.loop = cases[i].loop;
                f.thin = cases[i].thin;
                f.virtual_disk = cases[i].virtual_disk;
                f.network = cases[i].network;
                f.memory = cases[i].memory;
                m = judged(&f);
                ASSERT_FALSE(m.overwrite_effective);
                ASSERT_STREQ(m.device, cases[i].device);
                ASSERT_STREQ(m.kind, cases[i].kind);
                ASSERT_CONTAINS(m.why, cases[i].why);
                ASSERT_CONTAINS(m.operator_must, cases[i].must);
        }
}

TEST(judge_a_copy_on_write_filesystem_on_a_virtual_disk_names_both) {
        YbMediumFacts f = disk("btrfs");
        YbMedium m;

        snprintf(f.device, sizeof(f.device), "vdb");
        snprintf(f.disk, sizeof(f.disk), "vdb");
        f.virtual_disk = true;
        m = judged(&f);
        ASSERT_FALSE(m.overwrite_effective);
        ASSERT_STREQ(m.kind, "virtual disk");
        ASSERT_STREQ(m.why,
                     "btrfs is copy-on-write: an overwrite writes new blocks and leaves the old "
                     "ones");
        ASSERT_STREQ(m.operator_must,
                     "destroy the volume (vdb) on the cloud's storage, or purge the backing "
                     "store");
}

TEST(judge_dm_crypt_names_luks_erase) {
        YbMediumFacts f = disk("ext4");
        YbMedium m;

        /* On a spinning disk: effective, and luksErase is still the real purge. */
        snprintf(f.device, sizeof(f.device), "dm-0");
        snprintf(f.slaves, sizeof(f.slaves), "sda2");
        f.dm_crypt = true;
        m = judged(&f);
        ASSERT_TRUE(m.overwrite_effective);
        ASSERT_TRUE(m.encrypted);
        ASSERT_STREQ(m.operator_must, "dm-crypt is beneath (dm-0): erasing its LUKS key slots "
                                      "(cryptsetup luksErase) is the real purge");

        /* On a virtual disk: both what the cloud must do and luksErase. */
        snprintf(f.disk, sizeof(f.disk), "vda");
        f.virtual_disk = true;
        m = judged(&f);
        ASSERT_FALSE(m.overwrite_effective);
        ASSERT_TRUE(m.encrypted);
        ASSERT_CONTAINS(m.why, "the disk vda is a virtual disk");
        ASSERT_CONTAINS(m.operator_must, "destroy the volume (vda) on the cloud's storage");
        ASSERT_CONTAINS(m.operator_must, "cryptsetup luksErase");
}

TEST(remote_sftp_never_counts) {
        YbMedium m;

        yb_medium_remote("sftp://yb@backup.example/srv/store", &m);
        ASSERT_FALSE(m.overwrite_effective);
        ASSERT_STREQ(m.fstype, "sftp");
        ASSERT_STREQ(m.kind, "remote SFTP server");
        ASSERT_CONTAINS(m.why, "an overwrite over SFTP proves nothing about the server's disk");
        ASSERT_CONTAINS(m.operator_must, "sftp://yb@backup.example/srv/store");
}

TEST(medium_and_report_as_json) {
        YbMediumFacts f = disk("ext4");
        YbEraseReport r = { .files = 3, .dirs = 2, .bytes = 12345, .overwritten = true, .left = 1 };
        json_t *j, *m;

        snprintf(r.left_first, sizeof(r.left_first), "/x/mnt (another filesystem)");
        yb_medium_judge(&f, &r.medium);
        j = yb_erase_report_json(&r);
        ASSERT_TRUE(j != NULL);
        ASSERT_EQ(json_integer_value(json_object_get(j, "files")), 3);
        ASSERT_EQ(json_integer_value(json_object_get(j, "dirs")), 2);
        ASSERT_EQ(json_integer_value(json_object_get(j, "bytes")), 12345);
        ASSERT_EQ(json_integer_value(json_object_get(j, "left")), 1);
        ASSERT_TRUE(json_is_true(json_object_get(j, "overwritten")));
        ASSERT_STREQ(json_string_value(json_object_get(j, "left_first")),
                     "/x/mnt (another filesystem)");
        m = json_object_get(j, "medium");
        ASSERT_STREQ(json_string_value(json_object_get(m, "filesystem")), "ext4");
        ASSERT_STREQ(json_string_value(json_object_get(m, "device")), "sda");
        ASSERT_STREQ(json_string_value(json_object_get(m, "kind")), "disk");
        ASSERT_TRUE(json_is_true(json_object_get(m, "overwrite_effective")));
        ASSERT_TRUE(json_is_false(json_object_get(m, "encrypted")));
        ASSERT_TRUE(json_is_null(json_object_get(m, "operator_must")));
        ASSERT_TRUE(json_is_string(json_object_get(m, "why")));
        json_decref(j);
}

/* The tree every erase test starts from, in d: tree/{a/b/c/file, a/empty/, top-file,
 * link-out -> ../outside/secret, dirlink-out -> ../outside, fifo}, and outside/secret. */
static void make_tree(TestTmpdir *d) {
        ASSERT_OK(yb_mkdir_p_at(d->fd, "tree/a/b/c", 0755));
        ASSERT_OK(yb_mkdir_p_at(d->fd, "tree/a/empty", 0755));
        ASSERT_OK(yb_mkdir_p_at(d->fd, "outside", 0755));
        test_write_file(d->fd, "outside/secret", "keep me", 7);
        test_write_file(d->fd, "outside/keep", "keep me too", 11);
        test_write_file(d->fd, "tree/a/b/c/file", "0123456789", 10);
        test_write_file(d->fd, "tree/top-file", "abc", 3);
        ASSERT_OK(symlinkat("../outside/secret", d->fd, "tree/link-out"));
        ASSERT_OK(symlinkat("../outside", d->fd, "tree/dirlink-out"));
        ASSERT_OK(mkfifoat(d->fd, "tree/fifo", 0600));
}

static void assert_outside_untouched(TestTmpdir *d) {
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT, c = YB_BUF_INIT;

        test_read_file(d->fd, "outside/secret", &b);
        ASSERT_EQ(b.size, 7);
        ASSERT_MEMEQ(b.data, "keep me", 7);
        test_read_file(d->fd, "outside/keep", &c);
        ASSERT_EQ(c.size, 11);
}

TEST(erase_tree_removes_everything_and_follows_no_symlink) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_free_ char *tree = test_tmpdir_path(d, "tree");
        YbEraseReport r;
        char err[256];

        make_tree(d);
        ASSERT_OK(yb_erase_tree(tree, false, YB_OVERWRITE_ALWAYS, &r, err, sizeof(err)));
        ASSERT_EQ(faccessat(d->fd, "tree", F_OK, AT_SYMLINK_NOFOLLOW), -1);
        ASSERT_EQ(errno, ENOENT);
        assert_outside_untouched(d);
        ASSERT_EQ(r.files, 2);
        ASSERT_EQ(r.bytes, 13);
        ASSERT_EQ(r.dirs, 5);   /* tree, a, a/b, a/b/c, a/empty */
        ASSERT_EQ(r.others, 3); /* two symlinks, a fifo */
        ASSERT_EQ(r.left, 0);
        ASSERT_TRUE(r.overwritten);
        ASSERT_STREQ(err, "");
        ASSERT_TRUE(*r.medium.fstype != 0); /* the medium was probed */

        /* Run again: nothing there, not an error. */
        ASSERT_OK(yb_erase_tree(tree, false, YB_OVERWRITE_ALWAYS, &r, err, sizeof(err)));
        ASSERT_EQ(r.files + r.dirs + r.others + r.left, 0);
        ASSERT_FALSE(r.overwritten);
}

TEST(survey_counts_what_an_erase_removes_and_touches_nothing) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_free_ char *tree = test_tmpdir_path(d, "tree");
        YbEraseReport s, r;
        char err[256];

        make_tree(d);
        ASSERT_OK(yb_erase_tree_survey(tree, true, YB_OVERWRITE_ALWAYS, &s, err, sizeof(err)));
        ASSERT_EQ(test_count_entries(d->fd, "tree"), 5);
        ASSERT_EQ(test_count_entries(d->fd, "tree/a/b/c"), 1);
        ASSERT_OK(yb_erase_tree(tree, true, YB_OVERWRITE_ALWAYS, &r, err, sizeof(err)));
        ASSERT_EQ(s.files, r.files);
        ASSERT_EQ(s.dirs, r.dirs);
        ASSERT_EQ(s.others, r.others);
        ASSERT_EQ(s.bytes, r.bytes);
        ASSERT_EQ(s.overwritten, r.overwritten);
        ASSERT_EQ(s.dirs, 4);
        ASSERT_OK(yb_erase_tree_survey(tree, false, YB_OVERWRITE_ALWAYS, &s, err, sizeof(err)));
        ASSERT_EQ(s.dirs, 1); /* the top alone, which an erase without keep_top removes */
        ASSERT_EQ(s.files, 0);
}

TEST(erase_tree_keep_top_keeps_the_directory) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_free_ char *tree = test_tmpdir_path(d, "tree");
        YbEraseReport r;
        char err[256];

        make_tree(d);
        ASSERT_OK(yb_erase_tree(tree, true, YB_OVERWRITE_NEVER, &r, err, sizeof(err)));
        ASSERT_EQ(test_count_entries(d->fd, "tree"), 0);
        ASSERT_EQ(r.dirs, 4);
        ASSERT_FALSE(r.overwritten); /* NEVER */
        assert_outside_untouched(d);
        ASSERT_OK(yb_erase_tree(tree, true, YB_OVERWRITE_NEVER, &r, err, sizeof(err)));
        ASSERT_EQ(test_count_entries(d->fd, "tree"), 0);
        ASSERT_EQ(r.files + r.dirs, 0);
}

TEST(erase_tree_top_symlink_is_removed_not_followed) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_free_ char *link = test_tmpdir_path(d, "tree/dirlink-out");
        YbEraseReport r;
        char err[256];

        make_tree(d);
        ASSERT_OK(yb_erase_tree(link, false, YB_OVERWRITE_ALWAYS, &r, err, sizeof(err)));
        ASSERT_EQ(r.others, 1);
        ASSERT_EQ(r.files, 0);
        assert_outside_untouched(d);
        /* keep_top needs a directory: a symlink is refused, and stays. */
        free(link);
        link = test_tmpdir_path(d, "tree/link-out");
        ASSERT_TRUE(yb_erase_tree(link, true, YB_OVERWRITE_ALWAYS, &r, err, sizeof(err)) < 0);
        ASSERT_CONTAINS(err, "link-out");
        ASSERT_EQ(faccessat(d->fd, "tree/link-out", F_OK, AT_SYMLINK_NOFOLLOW), 0);
}

TEST(erase_tree_deeper_than_the_open_directory_budget) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_free_ char *tree = test_tmpdir_path(d, "tree");
        YbEraseReport r;
        char err[256];
        int fd = openat(d->fd, ".", O_RDONLY | O_DIRECTORY);

        /* 300 levels, a file in every tenth: walked with at most 64 directories open. */
        for (int i = 0; i < 300; i++) {
                int next;

                ASSERT_OK(mkdirat(fd, i == 0 ? "tree" : "d", 0755));
                next = openat(fd, i == 0 ? "tree" : "d", O_RDONLY | O_DIRECTORY);
                ASSERT_GE(next, 0);
                close(fd);
                fd = next;
                if (i % 10 == 0)
                        test_write_file(fd, "f", "x", 1);
        }
        close(fd);
        ASSERT_OK(yb_erase_tree(tree, false, YB_OVERWRITE_NEVER, &r, err, sizeof(err)));
        ASSERT_EQ(r.dirs, 300);
        ASSERT_EQ(r.files, 30);
        ASSERT_EQ(test_count_entries(d->fd, "."), 0);
}

/* Reads n bytes at off of fd into buf. */
static void pread_exact(int fd, void *buf, size_t n, off_t off) {
        ASSERT_EQ(yb_pread_all(fd, buf, n, (uint64_t) off), (ssize_t) n);
}

TEST(overwrite_reaches_the_inode_and_leaves_holes_alone) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_free_ char *path = test_tmpdir_path(d, "key");
        _cleanup_close_ int keep = -EBADF;
        static uint8_t pattern[3 << 20], got[3 << 20];
        const off_t far = (off_t) 64 << 20; /* past a hole of 61 MiB */
        YbEraseReport r;
        char err[256];
        uint8_t zero[4096] = { 0 }, tail[4096];

        /* A pattern at the start and past a hole; an fd kept open sees the inode after unlink. */
        test_fill_random(pattern, sizeof(pattern), 7);
        test_write_file(d->fd, "key", pattern, sizeof(pattern));
        keep = openat(d->fd, "key", O_RDWR);
        ASSERT_GE(keep, 0);
        ASSERT_OK(yb_pwrite_all(keep, pattern, 4096, (uint64_t) far));
        ASSERT_OK(yb_erase_file(path, YB_OVERWRITE_ALWAYS, &r, err, sizeof(err)));
        ASSERT_EQ(r.files, 1);
        ASSERT_EQ(r.bytes, (uint64_t) far + 4096);
        ASSERT_TRUE(r.overwritten);
        ASSERT_EQ(faccessat(d->fd, "key", F_OK, AT_SYMLINK_NOFOLLOW), -1);
        pread_exact(keep, got, sizeof(got), 0);
        for (size_t i = 0; i + 4096 <= sizeof(got); i += 4096)
                ASSERT_NE(memcmp(got + i, pattern + i, 4096), 0); /* every page changed */
        pread_exact(keep, tail, sizeof(tail), far);
        ASSERT_NE(memcmp(tail, pattern, sizeof(tail)), 0);
        /* The hole stayed a hole (read as zeros): a sparse file costs only its data. */
        pread_exact(keep, got, sizeof(zero), (off_t) 32 << 20);
        ASSERT_MEMEQ(got, zero, sizeof(zero));
}

TEST(no_overwrite_when_asked_not_to_or_when_other_links_exist) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_free_ char *tree = test_tmpdir_path(d, "tree"), *key = test_tmpdir_path(d, "k");
        _cleanup_close_ int keep = -EBADF;
        YbEraseReport r;
        char err[256], got[10];

        /* NEVER: the inode still holds the data (an fd kept open shows it). */
        test_write_file(d->fd, "k", "0123456789", 10);
        keep = openat(d->fd, "k", O_RDONLY);
        ASSERT_OK(yb_erase_file(key, YB_OVERWRITE_NEVER, &r, err, sizeof(err)));
        ASSERT_FALSE(r.overwritten);
        pread_exact(keep, got, 10, 0);
        ASSERT_MEMEQ(got, "0123456789", 10);

        /* A hard link inside the tree to a file outside: unlinked, never overwritten. */
        make_tree(d);
        ASSERT_OK(linkat(d->fd, "outside/keep", d->fd, "tree/hardlink", 0));
        ASSERT_OK(yb_erase_tree(tree, false, YB_OVERWRITE_ALWAYS, &r, err, sizeof(err)));
        assert_outside_untouched(d);
        {
                _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;

                test_read_file(d->fd, "outside/keep", &b);
                ASSERT_MEMEQ(b.data, "keep me too", 11);
        }
        ASSERT_FALSE(r.overwritten); /* said: not every file was */
        ASSERT_EQ(r.files, 3);
        ASSERT_EQ(r.linked, 1); /* and that its data lives on under another name */
        ASSERT_CONTAINS(r.linked_first, "tree/hardlink (inode ");
        ASSERT_CONTAINS(r.linked_first, "1 other name: find them with find -xdev -inum ");
}

/* Removes d's file name with an eraser that overwrites, as the walk does after examining it (st
 * as it was then). */
static YbEraseReport remove_examined(TestTmpdir *d, const char *name, const struct stat *st) {
        _cleanup_free_ char *path = test_tmpdir_path(d, name);
        YbEraseReport rep = { 0 };
        YbEraser e;
        char err[256];

        ASSERT_OK(yb_eraser_init(&e, path, YB_OVERWRITE_ALWAYS, &rep, err, sizeof(err)));
        ASSERT_EQ(yb_eraser_remove(&e, d->fd, name, st), 1);
        yb_eraser_finish(&e);
        yb_eraser_done(&e);
        return rep;
}

TEST(a_file_grown_since_it_was_examined_is_overwritten_to_its_end) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_close_ int keep = -EBADF;
        static uint8_t pattern[3 << 20], got[3 << 20];
        YbEraseReport r;
        struct stat st;

        /* Examined at 1 MiB; 2 MiB more written before the overwrite comes. */
        test_fill_random(pattern, sizeof(pattern), 11);
        test_write_file(d->fd, "f", pattern, 1 << 20);
        ASSERT_OK(fstatat(d->fd, "f", &st, AT_SYMLINK_NOFOLLOW));
        keep = openat(d->fd, "f", O_RDWR);
        ASSERT_GE(keep, 0);
        ASSERT_OK(yb_pwrite_all(keep, pattern + (1 << 20), 2 << 20, 1 << 20));
        r = remove_examined(d, "f", &st);
        ASSERT_TRUE(r.overwritten);
        ASSERT_EQ(r.bytes, sizeof(pattern)); /* what was removed, not what was examined */
        pread_exact(keep, got, sizeof(got), 0);
        for (size_t i = 0; i + 4096 <= sizeof(got); i += 4096)
                ASSERT_NE(memcmp(got + i, pattern + i, 4096), 0); /* the tail too */
}

TEST(a_file_linked_elsewhere_since_it_was_examined_is_not_overwritten) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;
        YbEraseReport r;
        struct stat st;

        test_write_file(d->fd, "f", "0123456789", 10);
        ASSERT_OK(fstatat(d->fd, "f", &st, AT_SYMLINK_NOFOLLOW));
        ASSERT_EQ(st.st_nlink, 1);
        ASSERT_OK(linkat(d->fd, "f", d->fd, "elsewhere", 0));
        r = remove_examined(d, "f", &st);
        ASSERT_FALSE(r.overwritten);
        test_read_file(d->fd, "elsewhere", &b);
        ASSERT_EQ(b.size, 10);
        ASSERT_MEMEQ(b.data, "0123456789", 10);
}

/* In a child (YB_FAULT's counters are the process's): the first write of the overwrite fails
 * (ENOSPC) on a medium where the overwrite counts. */
static int overwrite_fails(void *userdata) {
        TestTmpdir *d = userdata;
        _cleanup_free_ char *path = test_tmpdir_path(d, "f");
        YbEraseReport rep = { .medium = { .overwrite_effective = true, .device = "sda" } };
        YbEraser e;
        struct stat st;
        char err[256];

        CHILD_CHECK(setenv("YB_FAULT", "write:1", 1) == 0);
        CHILD_CHECK(fstatat(d->fd, "f", &st, AT_SYMLINK_NOFOLLOW) == 0);
        CHILD_CHECK(yb_eraser_init(&e, path, YB_OVERWRITE_IF_EFFECTIVE, &rep, err, sizeof(err)) ==
                    0);
        CHILD_CHECK(yb_eraser_remove(&e, d->fd, "f", &st) == 1); /* removed all the same */
        yb_eraser_finish(&e);
        yb_eraser_done(&e);
        CHILD_CHECK(!rep.overwritten);
        CHILD_CHECK(
                strstr(rep.medium.operator_must, "overwrite the filesystem's free space on sda"));
        CHILD_CHECK(strstr(rep.medium.operator_must, "1 file could not be overwritten"));
        CHILD_CHECK(strstr(rep.medium.operator_must, "/f (No space left on device)"));
        return 0;
}

TEST(a_failed_overwrite_where_it_counts_is_said_with_what_is_left_to_do) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();

#ifndef YB_FAULT_INJECTION
        skip();
#endif
        test_write_file(d->fd, "f", "0123456789", 10);
        ASSERT_EQ(test_run_forked(overwrite_fails, d), 0);
        ASSERT_EQ(faccessat(d->fd, "f", F_OK, AT_SYMLINK_NOFOLLOW), -1);
}

TEST(erase_file_refuses_symlinks_and_names_what_is_missing) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_free_ char *link = test_tmpdir_path(d, "tree/link-out"),
                            *missing = test_tmpdir_path(d, "nope"),
                            *dir = test_tmpdir_path(d, "tree/a");
        YbEraseReport r;
        char err[256];

        make_tree(d);
        ASSERT_ERR(yb_erase_file(link, YB_OVERWRITE_ALWAYS, &r, err, sizeof(err)), ELOOP);
        ASSERT_CONTAINS(err, "symbolic link");
        assert_outside_untouched(d);
        ASSERT_EQ(faccessat(d->fd, "tree/link-out", F_OK, AT_SYMLINK_NOFOLLOW), 0);
        ASSERT_ERR(yb_erase_file(missing, YB_OVERWRITE_ALWAYS, &r, err, sizeof(err)), ENOENT);
        ASSERT_CONTAINS(err, "nope");
        ASSERT_ERR(yb_erase_file(dir, YB_OVERWRITE_ALWAYS, &r, err, sizeof(err)), EINVAL);
        ASSERT_CONTAINS(err, "not a regular file");
}

TEST(erase_tree_names_what_it_cannot_remove) {
        if (geteuid() == 0)
                skip(); /* root removes what a mode forbids */

        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_free_ char *tree = test_tmpdir_path(d, "tree");
        YbEraseReport r;
        char err[512];
        int k;

        make_tree(d);
        ASSERT_OK(fchmodat(d->fd, "tree/a/b", 0555, 0)); /* c cannot be removed from b */
        k = yb_erase_tree(tree, false, YB_OVERWRITE_NEVER, &r, err, sizeof(err));
        ASSERT_OK(fchmodat(d->fd, "tree/a/b", 0755, 0));
        ASSERT_ERR(k, EACCES);
        ASSERT_GE(r.left, 1);
        ASSERT_CONTAINS(r.left_first, "tree/a/b/c");
        ASSERT_CONTAINS(err, "tree/a/b/c");
        ASSERT_CONTAINS(err, "Permission denied");
        /* What could go went: the rest of the tree. */
        ASSERT_EQ(faccessat(d->fd, "tree/top-file", F_OK, AT_SYMLINK_NOFOLLOW), -1);
}

TEST(erase_store_tree_of_a_local_store) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_store_closep) YbStore *s = NULL;
        YbEraseReport r;
        char err[256];

        make_tree(d);
        ASSERT_OK(yb_store_open(d->path, &s));
        ASSERT_ERR(yb_erase_store_tree(s, "../x", YB_OVERWRITE_ALWAYS, &r, err, sizeof(err)),
                   EINVAL);
        ASSERT_ERR(yb_erase_store_tree(s, "/tree", YB_OVERWRITE_ALWAYS, &r, err, sizeof(err)),
                   EINVAL);
        ASSERT_OK(yb_erase_store_tree(s, "tree", YB_OVERWRITE_ALWAYS, &r, err, sizeof(err)));
        ASSERT_EQ(r.files, 2);
        ASSERT_EQ(faccessat(d->fd, "tree", F_OK, AT_SYMLINK_NOFOLLOW), -1);
        assert_outside_untouched(d);
        ASSERT_OK(yb_erase_store_tree(s, "tree", YB_OVERWRITE_ALWAYS, &r, err, sizeof(err)));
        ASSERT_EQ(r.files + r.dirs, 0);
}

TEST(probe_reads_this_machine) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        YbMediumFacts f;
        YbMedium m;

        ASSERT_OK(yb_medium_read_facts(d->path, &f));
        ASSERT_TRUE(*f.fstype != 0);
        ASSERT_OK(yb_medium_probe(d->path, &m));
        ASSERT_STREQ(m.fstype, f.fstype);
        ASSERT_TRUE(*m.why != 0);
        ASSERT_TRUE(*m.kind != 0);
        /* Effective only with an operator left nothing to do, and never without a device. */
        if (m.overwrite_effective) {
                ASSERT_TRUE(*m.device != 0);
                ASSERT_TRUE(f.rotational);
        } else
                ASSERT_TRUE(*m.operator_must != 0);
        ASSERT_ERR(yb_medium_probe("/nonexistent/yb-erase", &m), ENOENT);
}
