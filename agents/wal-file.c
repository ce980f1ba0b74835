/* The file PostgreSQL hands archive_command (agents/wal-archive.h): what its name says it is,
 * its bytes' hash, and for a WAL file what its first page header says: a WAL file begins with
 * PostgreSQL's XLogLongPageHeaderData (access/xlog_internal.h), which names the cluster (its
 * system identifier), the segment size and the LSN the file starts at. The agent checks them
 * against the name, so that a file of another cluster, or one that is not WAL, never goes into a
 * chain as if it were. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agents/wal-archive.h"
#include "core/base/fileio.h"
#include "core/base/log.h"
#include "core/base/macro.h"

/* XLogLongPageHeaderData on a 64-bit host: xlp_magic (2 bytes), xlp_info (2), xlp_tli (4),
 * xlp_pageaddr (8), xlp_rem_len (4), padding to 24, xlp_sysid (8), xlp_seg_size (4),
 * xlp_xlog_blcksz (4). Written in the host's byte order, read here on the same host. */
#define LONG_HEADER_SIZE 40
#define XLP_LONG_HEADER 0x0002
#define READ_CHUNK (1024 * 1024)
#define HISTORY_MAX (16 * 1024 * 1024) /* a history file is a few lines per timeline */

static bool hex_upper(const char *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'F')))
                        return false;
        return true;
}

AgentWalKind agent_wal_kind(const char *name) {
        size_t n = strlen(name);
        uint32_t tli;

        if (n == YB_PG_WAL_NAME_LEN && hex_upper(name, n))
                return AGENT_WAL_SEGMENT;
        if (yb_pg_history_name_parse(name, &tli) >= 0)
                return AGENT_WAL_HISTORY;
        /* "<WAL>.<8 hex digits: the start offset>.backup" and "<WAL>.partial" */
        if (n == YB_PG_WAL_NAME_LEN + 16 && hex_upper(name, YB_PG_WAL_NAME_LEN) &&
            name[YB_PG_WAL_NAME_LEN] == '.' && hex_upper(name + YB_PG_WAL_NAME_LEN + 1, 8) &&
            streq(name + YB_PG_WAL_NAME_LEN + 9, ".backup"))
                return AGENT_WAL_BACKUP;
        if (n == YB_PG_WAL_NAME_LEN + 8 && hex_upper(name, YB_PG_WAL_NAME_LEN) &&
            streq(name + YB_PG_WAL_NAME_LEN, ".partial"))
                return AGENT_WAL_PARTIAL;
        return AGENT_WAL_OTHER;
}

static int check_header(const char *path, const char *name, AgentWalFile *f) {
        uint8_t h[LONG_HEADER_SIZE];
        uint16_t info;
        uint32_t timeline;
        uint64_t segno;
        ssize_t n;

        n = yb_pread_all(f->fd, h, sizeof(h), 0);
        if (n < 0)
                return log_error_errno((int) n, "Cannot read WAL file '%s': %m", path);
        if ((size_t) n < sizeof(h))
                return log_error_errno(EBADMSG,
                                       "'%s' is not a WAL file: it is too short (%zd bytes) for "
                                       "WAL file %s's first page header.",
                                       path, n, name);
        memcpy(&info, h + 2, 2);
        memcpy(&f->timeline, h + 4, 4);
        memcpy(&f->page_addr, h + 8, 8);
        memcpy(&f->system_identifier, h + 24, 8);
        memcpy(&f->segment_size, h + 32, 4);
        if (!(info & XLP_LONG_HEADER) ||
            yb_pg_wal_name_parse(name, f->segment_size, &timeline, &segno) < 0)
                return log_error_errno(EBADMSG,
                                       "'%s' is not WAL file %s: its first page has no valid "
                                       "header of a WAL file's first page.",
                                       path, name);
        /* The first file of a new timeline starts as a copy of the old timeline's: its first
         * page may name the older timeline. */
        if (f->page_addr != segno * f->segment_size || f->timeline > timeline)
                return log_error_errno(EBADMSG,
                                       "'%s' is not WAL file %s: its first page header says it "
                                       "starts at LSN %X/%X on timeline %u.",
                                       path, name, (unsigned) (f->page_addr >> 32),
                                       (unsigned) f->page_addr, f->timeline);
        if ((uint64_t) f->st.st_size != f->segment_size)
                return log_error_errno(EBADMSG,
                                       "'%s' is %lld bytes, but WAL file %s of this cluster must "
                                       "be %u bytes (its wal_segment_size): PostgreSQL archives "
                                       "only finished WAL files.",
                                       path, (long long) f->st.st_size, name, f->segment_size);
        return 0;
}

int agent_wal_file_open(const char *path, const char *name, bool segment, AgentWalFile *ret) {
        _cleanup_free_ uint8_t *buf = NULL;
        AgentWalFile f = { .fd = -EBADF };
        YbHash hash;
        int r;

        f.fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (f.fd < 0)
                return log_error_errno(errno, "Cannot open '%s' (%s) to archive it: %m", path,
                                       name);
        if (fstat(f.fd, &f.st) < 0)
                r = log_error_errno(errno, "Cannot read '%s' (%s): %m", path, name);
        else if (!S_ISREG(f.st.st_mode))
                r = log_error_errno(EINVAL, "'%s' (%s) is not a regular file: not archived.", path,
                                    name);
        else
                r = segment ? check_header(path, name, &f) : 0;
        if (r >= 0 && !segment && f.st.st_size > HISTORY_MAX)
                r = log_error_errno(EFBIG, "'%s' is %lld bytes: too large for a history file.",
                                    path, (long long) f.st.st_size);
        buf = r >= 0 ? malloc(READ_CHUNK) : NULL;
        if (r >= 0 && !buf)
                r = log_oom();
        yb_hash_init(&hash);
        for (uint64_t off = 0; r >= 0;) {
                ssize_t n = yb_pread_all(f.fd, buf, READ_CHUNK, off);

                if (n < 0)
                        r = log_error_errno((int) n, "Cannot read '%s': %m", path);
                else if (n == 0)
                        break;
                else {
                        yb_hash_update(&hash, buf, (size_t) n);
                        off += (uint64_t) n;
                }
        }
        if (r < 0) {
                safe_close(f.fd);
                return r;
        }
        yb_hash_final(&hash, f.hash);
        *ret = f;
        return 0;
}
