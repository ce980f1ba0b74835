#include <archive.h>
#include <archive_entry.h>

#include "core/codec/pax.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_LSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define HAVE_LSAN 1
#endif
#ifdef HAVE_LSAN
#include <sanitizer/lsan_interface.h>
#endif

#include "tests/unit/test.h"

#define NSEC 1000000000LL

static char deep_path[301];

static const YbXattr xattrs[] = {
        { (char *) "user.comment", (void *) "hello", 5 },
        { (char *) "user.binary", (void *) "\x00\x01\x02\xff", 4 },
        { (char *) "security.selinux", (void *) "system_u:object_r:etc_t:s0\0", 27 },
};

typedef struct Sample {
        YbPaxEntry e;
        uint8_t *data;
} Sample;

/* The archive's entries: odd names, sizes around block and buffer edges, xattrs. */
static void make_samples(Sample s[5]) {
        /* 29 components of 9 letters and a slash, then a 10-byte name: 300 bytes. */
        for (size_t i = 0; i < 29; i++)
                memcpy(deep_path + 10 * i, "abcdefghi/", 10);
        memcpy(deep_path + 290, "file-00300", 11);
        ASSERT_EQ(strlen(deep_path), 300);

        s[0].e = (YbPaxEntry){ .name = "tree/plain.txt",
                               .mode = 0644,
                               .uid = 1000,
                               .gid = 1000,
                               .uname = "alice",
                               .gname = "staff",
                               .mtime_sec = 1795255200,
                               .mtime_nsec = 123456789,
                               .size = 100 };
        s[1].e = (YbPaxEntry){ .name = "tree/dir/new\nline", .mode = 0600, .size = 0 };
        s[2].e = (YbPaxEntry){ .name = "tree/bin/\xff\xfe-name", .mode = 0755, .size = 70000 };
        s[3].e = (YbPaxEntry){ .name = deep_path, .mode = 0640, .size = 512 };
        s[4].e = (YbPaxEntry){ .name = "tree/xattrs.bin",
                               .mode = 04755,
                               .uid = 0,
                               .gid = 0,
                               .mtime_sec = 1000,
                               .size = 5000,
                               .xattrs = xattrs,
                               .n_xattrs = ELEMENTSOF(xattrs) };
        for (size_t i = 0; i < 5; i++) {
                s[i].data = malloc(MAX(s[i].e.size, (uint64_t) 1));
                ASSERT_TRUE(s[i].data);
                test_fill_random(s[i].data, s[i].e.size, i);
        }
}

static void free_samples(Sample s[5]) {
        for (size_t i = 0; i < 5; i++)
                free(s[i].data);
}

static int pax_data_cb(void *w, const void *data, size_t n) {
        return yb_pax_data(w, data, n);
}

static ssize_t pax_read_cb(void *r, void *data, size_t n) {
        return yb_pax_read(r, data, n);
}

/* Writes the entries, each one's data in pieces of chunk bytes. */
static void write_archive(const Sample *s, size_t n, size_t chunk, YbBuf *out) {
        _cleanup_(yb_pax_writer_freep) YbPaxWriter *w = NULL;

        ASSERT_OK(yb_pax_writer_new(test_buf_write, out, &w));
        for (size_t i = 0; i < n; i++) {
                ASSERT_OK(yb_pax_begin(w, &s[i].e));
                ASSERT_OK(test_feed(pax_data_cb, w, s[i].data, s[i].e.size, chunk));
                ASSERT_OK(yb_pax_end(w));
        }
        ASSERT_OK(yb_pax_finish(w));
        ASSERT_EQ(yb_pax_bytes(w), out->size);
}

/* Opens a reader on n bytes and moves to the first entry: its result, or the first error. */
static int open_first(const void *data, size_t n) {
        _cleanup_(yb_pax_reader_freep) YbPaxReader *r = NULL;
        TestSource src = TEST_SOURCE(data, n, 0);
        const char *name;
        uint64_t size;
        int k;

        k = yb_pax_reader_new(test_source_read, &src, &r);
        if (k < 0)
                return k;
        return yb_pax_next(r, &name, &size);
}

static void assert_reads_back(const YbBuf *archive, const Sample *s, size_t n, size_t src_chunk,
                              size_t read_chunk) {
        _cleanup_(yb_pax_reader_freep) YbPaxReader *r = NULL;
        TestSource src = TEST_SOURCE(archive->data, archive->size, src_chunk);
        const char *name;
        uint64_t size;

        ASSERT_OK(yb_pax_reader_new(test_source_read, &src, &r));
        for (size_t i = 0; i < n; i++) {
                _cleanup_(yb_buf_done) YbBuf data = YB_BUF_INIT;

                ASSERT_EQ(yb_pax_next(r, &name, &size), 1);
                ASSERT_STREQ(name, s[i].e.name);
                ASSERT_EQ(size, s[i].e.size);
                ASSERT_OK(test_drain(pax_read_cb, r, read_chunk, &data));
                ASSERT_EQ(data.size, s[i].e.size);
                ASSERT_MEMEQ(data.data, s[i].data, data.size);
        }
        ASSERT_EQ(yb_pax_next(r, &name, &size), 0);
}

TEST(entries_read_back) {
        Sample s[5];
        _cleanup_(yb_buf_done) YbBuf archive = YB_BUF_INIT;
        static const size_t src_chunks[] = { 1, 7, 0 }, read_chunks[] = { 1, 3, 65536 };

        make_samples(s);
        write_archive(s, 5, 7, &archive);
        ASSERT_EQ(archive.size % 512, 0);
        for (size_t i = 0; i < ELEMENTSOF(src_chunks); i++)
                for (size_t j = 0; j < ELEMENTSOF(read_chunks); j++)
                        assert_reads_back(&archive, s, 5, src_chunks[i], read_chunks[j]);
        free_samples(s);
}

/* The current entry's data read in place (yb_pax_read_block) to its end, appended to out: 0, or
 * the first error. */
static int drain_blocks(YbPaxReader *r, YbBuf *out) {
        for (;;) {
                const void *p;
                ssize_t k = yb_pax_read_block(r, &p);

                if (k <= 0)
                        return (int) k;
                if (yb_buf_append(out, p, (size_t) k) < 0)
                        return -ENOMEM;
        }
}

/* Over a source that lends its bytes (a volume's decoded blocks), in pieces of any size: the same
 * entries read in place, and by copy between two read in place. */
TEST(entries_read_back_in_place) {
        Sample s[5];
        _cleanup_(yb_buf_done) YbBuf archive = YB_BUF_INIT;
        static const size_t src_chunks[] = { 1, 513, 0 };

        make_samples(s);
        write_archive(s, 5, 7, &archive);
        for (size_t i = 0; i < ELEMENTSOF(src_chunks); i++) {
                /* Declared first, freed last: the reader may hold its last loan until then. */
                _cleanup_(test_source_done) TestSource src =
                        TEST_SOURCE(archive.data, archive.size, src_chunks[i]);
                _cleanup_(yb_pax_reader_freep) YbPaxReader *r = NULL;
                const char *name;
                uint64_t size;

                ASSERT_OK(yb_pax_reader_new_peek(test_source_peek, &src, &r));
                for (size_t j = 0; j < 5; j++) {
                        _cleanup_(yb_buf_done) YbBuf data = YB_BUF_INIT;

                        ASSERT_EQ(yb_pax_next(r, &name, &size), 1);
                        ASSERT_STREQ(name, s[j].e.name);
                        if (j == 2)
                                ASSERT_OK(test_drain(pax_read_cb, r, 3, &data));
                        else
                                ASSERT_OK(drain_blocks(r, &data));
                        ASSERT_EQ(data.size, s[j].e.size);
                        ASSERT_MEMEQ(data.data, s[j].data, data.size);
                }
                ASSERT_EQ(yb_pax_next(r, &name, &size), 0);
                ASSERT_EQ(src.pos, src.size);
        }
        free_samples(s);
}

TEST(write_chunk_sizes_do_not_matter) {
        Sample s[5];
        _cleanup_(yb_buf_done) YbBuf a = YB_BUF_INIT, b = YB_BUF_INIT;

        make_samples(s);
        write_archive(s, 5, 1, &a);
        write_archive(s, 5, 100000, &b);
        ASSERT_EQ(a.size, b.size);
        ASSERT_MEMEQ(a.data, b.data, a.size);
        free_samples(s);
}

static bool has_xattr(struct archive_entry *ae, const YbXattr *want) {
        const char *name;
        const void *value;
        size_t size;

        archive_entry_xattr_reset(ae);
        while (archive_entry_xattr_next(ae, &name, &value, &size) == ARCHIVE_OK)
                if (streq(name, want->name) && size == want->size &&
                    memcmp(value, want->value, size) == 0)
                        return true;
        return false;
}

/* Metadata that yb_pax_reader does not expose, checked with libarchive directly. */
TEST(metadata_and_xattrs_recorded) {
        Sample s[5];
        _cleanup_(yb_buf_done) YbBuf archive = YB_BUF_INIT;
        struct archive *a = archive_read_new();
        struct archive_entry *ae;

        make_samples(s);
        write_archive(s, 5, 4096, &archive);
        ASSERT_TRUE(a);
        ASSERT_EQ(archive_read_support_format_tar(a), ARCHIVE_OK);
        ASSERT_EQ(archive_read_open_memory(a, archive.data, archive.size), ARCHIVE_OK);
        for (size_t i = 0; i < 5; i++) {
                ASSERT_GE(archive_read_next_header(a, &ae), ARCHIVE_WARN);
                ASSERT_STREQ(archive_entry_pathname(ae), s[i].e.name);
                ASSERT_EQ(archive_entry_filetype(ae), AE_IFREG);
                ASSERT_EQ(archive_entry_perm(ae), s[i].e.mode);
                ASSERT_EQ(archive_entry_uid(ae), s[i].e.uid);
                ASSERT_EQ(archive_entry_gid(ae), s[i].e.gid);
                ASSERT_EQ(archive_entry_mtime(ae), s[i].e.mtime_sec);
                ASSERT_EQ(archive_entry_mtime_nsec(ae), s[i].e.mtime_nsec);
                if (s[i].e.uname)
                        ASSERT_STREQ(archive_entry_uname(ae), s[i].e.uname);
                /* libarchive reads both SCHILY.xattr and LIBARCHIVE.xattr copies back. */
                ASSERT_EQ(archive_entry_xattr_count(ae) == 0, s[i].e.n_xattrs == 0);
                for (size_t x = 0; x < s[i].e.n_xattrs; x++)
                        if (!has_xattr(ae, &s[i].e.xattrs[x]))
                                fail_msg("xattr %s missing or changed", s[i].e.xattrs[x].name);
        }
        ASSERT_EQ(archive_read_next_header(a, &ae), ARCHIVE_EOF);
        archive_read_free(a);
        free_samples(s);
}

TEST(short_entry_padded_with_zeros) {
        _cleanup_(yb_buf_done) YbBuf archive = YB_BUF_INIT, data = YB_BUF_INIT;
        _cleanup_(yb_pax_writer_freep) YbPaxWriter *w = NULL;
        _cleanup_(yb_pax_reader_freep) YbPaxReader *r = NULL;
        YbPaxEntry torn = { .name = "tree/shrank", .mode = 0644, .size = 1000 };
        YbPaxEntry next = { .name = "tree/next", .mode = 0644, .size = 10 };
        uint8_t part[600], zeros[400] = { 0 };
        const char *name;
        uint64_t size;
        TestSource src;

        test_fill_random(part, sizeof(part), 1);
        ASSERT_OK(yb_pax_writer_new(test_buf_write, &archive, &w));
        ASSERT_OK(yb_pax_begin(w, &torn));
        ASSERT_OK(yb_pax_data(w, part, sizeof(part))); /* the file shrank: 400 bytes missing */
        ASSERT_OK(yb_pax_end(w));
        ASSERT_OK(yb_pax_begin(w, &next));
        ASSERT_OK(yb_pax_data(w, "0123456789", 10));
        ASSERT_OK(yb_pax_end(w));
        ASSERT_OK(yb_pax_finish(w));

        src = TEST_SOURCE(archive.data, archive.size, 0);
        ASSERT_OK(yb_pax_reader_new(test_source_read, &src, &r));
        ASSERT_EQ(yb_pax_next(r, &name, &size), 1);
        ASSERT_EQ(size, 1000);
        ASSERT_OK(test_drain(pax_read_cb, r, 4096, &data));
        ASSERT_EQ(data.size, 1000);
        ASSERT_MEMEQ(data.data, part, 600);
        ASSERT_MEMEQ(data.data + 600, zeros, 400);

        yb_buf_clear(&data);
        ASSERT_EQ(yb_pax_next(r, &name, &size), 1);
        ASSERT_STREQ(name, "tree/next");
        ASSERT_OK(test_drain(pax_read_cb, r, 4096, &data));
        ASSERT_EQ(data.size, 10);
        ASSERT_MEMEQ(data.data, "0123456789", 10);
        ASSERT_EQ(yb_pax_next(r, &name, &size), 0);
}

TEST(unread_data_is_skipped) {
        Sample s[5];
        _cleanup_(yb_buf_done) YbBuf archive = YB_BUF_INIT;
        _cleanup_(yb_pax_reader_freep) YbPaxReader *r = NULL;
        TestSource src;
        const char *name;
        uint64_t size;
        uint8_t buf[10];

        make_samples(s);
        write_archive(s, 5, 65536, &archive);
        src = TEST_SOURCE(archive.data, archive.size, 0);
        ASSERT_OK(yb_pax_reader_new(test_source_read, &src, &r));
        for (size_t i = 0; i < 5; i++) {
                ASSERT_EQ(yb_pax_next(r, &name, &size), 1);
                ASSERT_STREQ(name, s[i].e.name);
                if (i == 2) /* a partial read, then on to the next entry */
                        ASSERT_EQ(yb_pax_read(r, buf, sizeof(buf)), sizeof(buf));
        }
        ASSERT_EQ(yb_pax_next(r, &name, &size), 0);
        free_samples(s);
}

TEST(data_beyond_declared_size_refused) {
        _cleanup_(yb_buf_done) YbBuf archive = YB_BUF_INIT;
        _cleanup_(yb_pax_writer_freep) YbPaxWriter *w = NULL;
        YbPaxEntry e = { .name = "tree/grew", .mode = 0644, .size = 10 };

        ASSERT_OK(yb_pax_writer_new(test_buf_write, &archive, &w));
        ASSERT_OK(yb_pax_begin(w, &e));
        ASSERT_ERR(yb_pax_data(w, "01234567890", 11), EFBIG);
        ASSERT_OK(yb_pax_data(w, "0123456789", 10));
        ASSERT_ERR(yb_pax_data(w, "x", 1), EFBIG);
        ASSERT_OK(yb_pax_end(w));
        ASSERT_OK(yb_pax_finish(w));
}

TEST(damaged_archive_rejected) {
        Sample s[5];
        _cleanup_(yb_buf_done) YbBuf archive = YB_BUF_INIT;
        uint8_t junk[2048];
        const char *name;
        uint64_t size;

        make_samples(s);
        write_archive(s, 5, 65536, &archive);

        /* Cut inside the third entry's data: reading it must fail, not return short data. */
        {
                _cleanup_(yb_pax_reader_freep) YbPaxReader *r = NULL;
                _cleanup_(yb_buf_done) YbBuf data = YB_BUF_INIT;
                const uint8_t *third = memmem(archive.data, archive.size, s[2].data, 64);
                TestSource src;

                ASSERT_TRUE(third);
                src = TEST_SOURCE(archive.data, (size_t) (third - archive.data) + 30000, 0);
                ASSERT_OK(yb_pax_reader_new(test_source_read, &src, &r));
                ASSERT_EQ(yb_pax_next(r, &name, &size), 1);
                ASSERT_EQ(yb_pax_next(r, &name, &size), 1);
                ASSERT_EQ(yb_pax_next(r, &name, &size), 1);
                ASSERT_EQ(size, 70000);
                ASSERT_ERR(test_drain(pax_read_cb, r, 65536, &data), EBADMSG);
        }
        /* The same cut, read in place. */
        {
                const uint8_t *third = memmem(archive.data, archive.size, s[2].data, 64);
                _cleanup_(test_source_done) TestSource src = TEST_SOURCE(
                        archive.data, third ? (size_t) (third - archive.data) + 30000 : 0, 4096);
                _cleanup_(yb_pax_reader_freep) YbPaxReader *r = NULL;
                _cleanup_(yb_buf_done) YbBuf data = YB_BUF_INIT;

                ASSERT_TRUE(third);
                ASSERT_OK(yb_pax_reader_new_peek(test_source_peek, &src, &r));
                for (int i = 0; i < 3; i++)
                        ASSERT_EQ(yb_pax_next(r, &name, &size), 1);
                ASSERT_ERR(drain_blocks(r, &data), EBADMSG);
                ASSERT_LE(data.size, 30000);
        }

        /* Not a tar archive at all, or a header block whose checksum fails. */
        test_fill_random(junk, sizeof(junk), 77);
        ASSERT_ERR(open_first(junk, sizeof(junk)), EBADMSG);
        archive.data[100] ^= 0x01; /* the mode field of the first header */
        ASSERT_ERR(open_first(archive.data, archive.size), EBADMSG);
        free_samples(s);
}

/* A sparse entry (which volumes never hold) read in place: a hole, in the middle or at the
 * end, is damage, never data returned short as if whole. */
TEST(hole_read_in_place_rejected) {
        static uint8_t buf[65536], data[512];

        memset(data, 'd', sizeof(data));
        for (int at_end = 0; at_end < 2; at_end++) {
                struct archive *a = archive_write_new();
                struct archive_entry *ae = archive_entry_new();
                size_t used = 0;
                const char *name;
                uint64_t size;

                ASSERT_TRUE(a && ae);
                ASSERT_EQ(archive_write_set_format_pax(a), ARCHIVE_OK);
                ASSERT_EQ(archive_write_open_memory(a, buf, sizeof(buf), &used), ARCHIVE_OK);
                archive_entry_set_pathname(ae, "tree/sparse");
                archive_entry_set_filetype(ae, AE_IFREG);
                archive_entry_set_perm(ae, 0644);
                archive_entry_set_size(ae, 8192);
                /* 512 bytes of data, at the start (a hole after) or in the middle. */
                archive_entry_sparse_add_entry(ae, at_end ? 0 : 4096, sizeof(data));
                ASSERT_EQ(archive_write_header(a, ae), ARCHIVE_OK);
                ASSERT_EQ(archive_write_data(a, data, sizeof(data)), (la_ssize_t) sizeof(data));
                ASSERT_EQ(archive_write_close(a), ARCHIVE_OK);
                archive_write_free(a);
                archive_entry_free(ae);
                {
                        _cleanup_(test_source_done) TestSource src = TEST_SOURCE(buf, used, 0);
                        _cleanup_(yb_pax_reader_freep) YbPaxReader *r = NULL;
                        _cleanup_(yb_buf_done) YbBuf got = YB_BUF_INIT;

                        ASSERT_OK(yb_pax_reader_new_peek(test_source_peek, &src, &r));
                        ASSERT_EQ(yb_pax_next(r, &name, &size), 1);
                        ASSERT_EQ(size, 8192);
                        ASSERT_ERR(drain_blocks(r, &got), EBADMSG);
                        ASSERT_LE(got.size, sizeof(data));
                }
        }
}

/* Volumes hold regular files only; anything else is damage. */
TEST(non_regular_entry_rejected) {
        struct archive *a = archive_write_new();
        struct archive_entry *ae = archive_entry_new();
        static uint8_t buf[16384];
        size_t used = 0;

        ASSERT_TRUE(a && ae);
        ASSERT_EQ(archive_write_set_format_pax(a), ARCHIVE_OK);
        ASSERT_EQ(archive_write_open_memory(a, buf, sizeof(buf), &used), ARCHIVE_OK);
        archive_entry_set_pathname(ae, "tree/link");
        archive_entry_set_filetype(ae, AE_IFLNK);
        archive_entry_set_symlink(ae, "/etc/shadow");
        ASSERT_EQ(archive_write_header(a, ae), ARCHIVE_OK);
        ASSERT_EQ(archive_write_close(a), ARCHIVE_OK);
        archive_write_free(a);
        archive_entry_free(ae);

        ASSERT_ERR(open_first(buf, used), EBADMSG);
}

/* A write error surfaces by the time the archive is finished (libarchive may buffer). */
static int write_one_entry(YbPaxWriter *w) {
        YbPaxEntry e = { .name = "tree/x", .mode = 0644, .size = 3 };
        int k = yb_pax_begin(w, &e);

        if (k >= 0)
                k = yb_pax_data(w, "abc", 3);
        if (k >= 0)
                k = yb_pax_end(w);
        if (k >= 0)
                k = yb_pax_finish(w);
        return k;
}

TEST(callback_errors_propagate) {
        _cleanup_(yb_pax_writer_freep) YbPaxWriter *w = NULL;
        _cleanup_(yb_pax_reader_freep) YbPaxReader *r = NULL;
        const char *name;
        uint64_t size;
        int k;

        ASSERT_OK(yb_pax_writer_new(test_write_enospc, NULL, &w));
        ASSERT_ERR(write_one_entry(w), ENOSPC);
        (void) yb_pax_finish(w); /* see writer_leaks_after_write_error */

        k = yb_pax_reader_new(test_read_eio, NULL, &r);
        if (k >= 0)
                k = yb_pax_next(r, &name, &size);
        ASSERT_ERR(k, EIO);
}

/* A writer abandoned after a failed write frees everything (LeakSanitizer checks). */
TEST(writer_leaks_after_write_error) {
#ifdef HAVE_LSAN
        YbPaxWriter *w = NULL;

        ASSERT_EQ(__lsan_do_recoverable_leak_check(), 0); /* nothing leaked before */
        ASSERT_OK(yb_pax_writer_new(test_write_enospc, NULL, &w));
        ASSERT_ERR(write_one_entry(w), ENOSPC);
        yb_pax_writer_free(w);
        ASSERT_EQ(__lsan_do_recoverable_leak_check(), 0);
#else
        skip();
#endif
}
