/* WAL archive chains (core/repo/walarchive.h): which base a WAL file or a timeline history file
 * goes with, on headers made here (the newest base that starts at or before it, of the same
 * cluster, on its timeline or an earlier one); which segment headers are WAL archive segments;
 * and the names and paths of history files (core/repo/pg.h). Pruning with these chains is in
 * test-retention.c. */
#include <stdlib.h>

#include "core/repo/walarchive.h"
#include "tests/unit/test.h"

#define MIB (UINT32_C(1) << 20)
#define SYSID UINT64_C(7300000000000000001)

/* A snapshot header holding one base of hook: its timeline and start LSN. */
static YbSnapshotHeader *base(const char *id, const char *hook, uint64_t sysid, uint32_t timeline,
                              uint64_t start_lsn, uint32_t segment_size) {
        YbSnapshotHeader *h = new0(YbSnapshotHeader, 1);

        ASSERT_TRUE(h);
        snprintf(h->id, sizeof(h->id), "%s", id);
        h->pg = new0(YbPgBackup, 1);
        ASSERT_TRUE(h->pg);
        h->n_pg = 1;
        snprintf(h->pg->name, sizeof(h->pg->name), "%s", hook);
        h->pg->system_identifier = sysid;
        h->pg->timeline = timeline;
        h->pg->start_lsn = start_lsn;
        h->pg->stop_lsn = start_lsn + 0x1000;
        h->pg->wal_segment_size = segment_size;
        return h;
}

/* A header without any base (a file backup). */
static YbSnapshotHeader *plain(const char *id) {
        YbSnapshotHeader *h = new0(YbSnapshotHeader, 1);

        ASSERT_TRUE(h);
        snprintf(h->id, sizeof(h->id), "%s", id);
        return h;
}

static const char *root_id(const YbSnapshotList *l, const char *hook, const char *wal,
                           uint64_t sysid) {
        const YbSnapshotHeader *h = yb_walarchive_root(l, hook, wal, sysid);

        return h ? h->id : "none";
}

TEST(wal_goes_with_the_newest_base_that_starts_before_it) {
        YbSnapshotHeader *items[] = {
                /* start WAL 000000010000000000000003 */
                base("20261201T010000Z-000001", "hr-db", SYSID, 1, UINT64_C(0x3000028), 16 * MIB),
                plain("20261201T020000Z-000002"),
                /* start WAL 000000010000000000000009 */
                base("20261202T010000Z-000003", "hr-db", SYSID, 1, UINT64_C(0x9000060), 16 * MIB),
                /* another hook's newer base: never chosen for hr-db */
                base("20261202T020000Z-000004", "crm-db", SYSID + 1, 1, UINT64_C(0x1000028),
                     16 * MIB),
        };
        YbSnapshotList l = { .items = items, .n = ELEMENTSOF(items) };

        /* Before the first base: nothing needs it. */
        ASSERT_STREQ(root_id(&l, "hr-db", "000000010000000000000002", SYSID), "none");
        /* The base's own start WAL file and those after it, up to the next base's start. */
        ASSERT_STREQ(root_id(&l, "hr-db", "000000010000000000000003", SYSID), items[0]->id);
        ASSERT_STREQ(root_id(&l, "hr-db", "000000010000000000000008", SYSID), items[0]->id);
        ASSERT_STREQ(root_id(&l, "hr-db", "000000010000000000000009", SYSID), items[2]->id);
        ASSERT_STREQ(root_id(&l, "hr-db", "0000000100000001000000A0", SYSID), items[2]->id);
        /* Any system identifier (0), or another cluster's: that cluster has no base here. */
        ASSERT_STREQ(root_id(&l, "hr-db", "000000010000000000000009", 0), items[2]->id);
        ASSERT_STREQ(root_id(&l, "hr-db", "000000010000000000000009", SYSID + 7), "none");
        ASSERT_STREQ(root_id(&l, "crm-db", "000000010000000000000001", SYSID + 1), items[3]->id);
        ASSERT_STREQ(root_id(&l, "crm-db", "000000010000000000000001", SYSID), "none");
        ASSERT_STREQ(root_id(&l, "no-such", "000000010000000000000009", SYSID), "none");
        /* Not a WAL file name. */
        ASSERT_STREQ(root_id(&l, "hr-db", "00000001000000000000000G", SYSID), "none");
        ASSERT_STREQ(root_id(&l, "hr-db", "00000001000000000000009", SYSID), "none");
        for (size_t i = 0; i < ELEMENTSOF(items); i++)
                yb_header_free(items[i]);
}

TEST(wal_of_a_later_timeline_goes_with_a_base_of_an_earlier_one) {
        YbSnapshotHeader *items[] = {
                base("20261201T010000Z-000001", "hr-db", SYSID, 1, UINT64_C(0x3000028), 16 * MIB),
                /* after a promotion: timeline 2, start WAL 00000002000000000000000C */
                base("20261203T010000Z-000002", "hr-db", SYSID, 2, UINT64_C(0xC000028), 16 * MIB),
        };
        YbSnapshotList l = { .items = items, .n = ELEMENTSOF(items) };

        /* Timeline 2's first files, before its first base: the timeline-1 base's chain. */
        ASSERT_STREQ(root_id(&l, "hr-db", "000000020000000000000007", SYSID), items[0]->id);
        ASSERT_STREQ(root_id(&l, "hr-db", "00000002000000000000000C", SYSID), items[1]->id);
        /* Timeline 1's WAL archived late, after the timeline-2 base: still timeline 1's. */
        ASSERT_STREQ(root_id(&l, "hr-db", "00000001000000000000000D", SYSID), items[0]->id);
        /* History files: the newest base on that timeline or an earlier one. */
        ASSERT_STREQ(yb_walarchive_root_history(&l, "hr-db", 2)->id, items[1]->id);
        ASSERT_STREQ(yb_walarchive_root_history(&l, "hr-db", 3)->id, items[1]->id);
        ASSERT_TRUE(yb_walarchive_root_history(&l, "crm-db", 2) == NULL);
        for (size_t i = 0; i < ELEMENTSOF(items); i++)
                yb_header_free(items[i]);
        /* A base on timeline 2 needs nothing of timeline 1's history. */
        YbSnapshotHeader *only[] = { base("20261203T010000Z-000002", "hr-db", SYSID, 2,
                                          UINT64_C(0xC000028), 16 * MIB) };
        YbSnapshotList l2 = { .items = only, .n = 1 };
        ASSERT_TRUE(yb_walarchive_root_history(&l2, "hr-db", 1) == NULL);
        yb_header_free(only[0]);
}

TEST(segment_size_names_the_segment) {
        /* 64 MiB segments: 4 segments per 256 MiB, so WAL file ...00000003 starts at 0xC000000. */
        YbSnapshotHeader *items[] = { base("20261201T010000Z-000001", "hr-db", SYSID, 1,
                                           UINT64_C(0xC000028), 64 * MIB) };
        YbSnapshotList l = { .items = items, .n = 1 };

        ASSERT_STREQ(root_id(&l, "hr-db", "000000010000000000000003", SYSID), items[0]->id);
        ASSERT_STREQ(root_id(&l, "hr-db", "000000010000000000000002", SYSID), "none");
        /* Not a segment of a 64 MiB cluster (only 64 per 4 GiB log file). */
        ASSERT_STREQ(root_id(&l, "hr-db", "000000010000000000000040", SYSID), "none");
        yb_header_free(items[0]);
}

TEST(archive_segments_name_one_wal_directory) {
        char *wal[] = { (char *) "_pg/hr-db/wal" };
        char *host[] = { (char *) "/srv/hr-portal" };
        char *two[] = { (char *) "_pg/hr-db/wal", (char *) "_pg/crm-db/wal" };
        char *deeper[] = { (char *) "_pg/hr-db/wal/x" };
        char *data[] = { (char *) "_pg/hr-db/data" };
        YbSnapshotHeader h = {
                .level = YB_LEVEL_SEGMENT, .seq = 1, .sources = wal, .n_sources = 1
        };
        char hook[YB_PG_NAME_MAX + 1] = "";

        ASSERT_TRUE(yb_walarchive_is_archive_segment(&h, hook));
        ASSERT_STREQ(hook, "hr-db");
        h.sources = host;
        ASSERT_FALSE(yb_walarchive_is_archive_segment(&h, NULL));
        h.sources = two;
        h.n_sources = 2;
        ASSERT_FALSE(yb_walarchive_is_archive_segment(&h, NULL));
        h.n_sources = 1;
        h.sources = deeper;
        ASSERT_FALSE(yb_walarchive_is_archive_segment(&h, NULL));
        h.sources = data;
        ASSERT_FALSE(yb_walarchive_is_archive_segment(&h, NULL));
        /* Only a segment is one. */
        h.sources = wal;
        h.level = YB_LEVEL_FULL;
        ASSERT_FALSE(yb_walarchive_is_archive_segment(&h, NULL));
}

TEST(history_file_names_and_paths) {
        _cleanup_free_ char *p = yb_pg_path_history("hr-db", 0x2A),
                            *d = yb_pg_path_wal_dir("hr-db");
        char hook[YB_PG_NAME_MAX + 1];
        uint32_t tli = 0;

        ASSERT_OK(yb_pg_history_name_parse("00000002.history", &tli));
        ASSERT_EQ(tli, 2);
        ASSERT_OK(yb_pg_history_name_parse("0000002A.history", &tli));
        ASSERT_EQ(tli, 0x2A);
        ASSERT_ERR(yb_pg_history_name_parse("00000000.history", &tli), EINVAL);
        ASSERT_ERR(yb_pg_history_name_parse("0000002a.history", &tli), EINVAL);
        ASSERT_ERR(yb_pg_history_name_parse("00000002.histor", &tli), EINVAL);
        ASSERT_ERR(yb_pg_history_name_parse("000000020000000000000003", &tli), EINVAL);
        ASSERT_STREQ(p, "_pg/hr-db/wal/0000002A.history");
        ASSERT_STREQ(d, "_pg/hr-db/wal");
        tli = 0;
        ASSERT_EQ(yb_pg_path_history_parse(p, hook, &tli), 1);
        ASSERT_STREQ(hook, "hr-db");
        ASSERT_EQ(tli, 0x2A);
        ASSERT_EQ(yb_pg_path_history_parse("_pg/hr-db/wal/000000020000000000000003", hook, &tli),
                  0);
        ASSERT_EQ(yb_pg_path_history_parse("_pg/hr-db/data/0000002A.history", hook, &tli), 0);
        ASSERT_EQ(yb_pg_path_history_parse("hr-db/wal/0000002A.history", hook, &tli), 0);
        /* WAL paths still read as before, and a history path is not one. */
        char wal[YB_PG_WAL_NAME_LEN + 1];
        int64_t off;
        ASSERT_EQ(yb_pg_path_wal_parse(p, hook, wal, &off), 0);
        ASSERT_EQ(yb_pg_path_wal_parse("_pg/hr-db/wal/000000020000000000000003.00001000", hook, wal,
                                       &off),
                  1);
        ASSERT_STREQ(wal, "000000020000000000000003");
        ASSERT_EQ(off, 0x1000);
}
