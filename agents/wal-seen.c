/* The agent's memory of the files it archived (agents/wal-archive.h): PostgreSQL may hand
 * archive_command a file again (after a crash before it noted the archiving); it must then
 * succeed if the same bytes were archived, and fail if other bytes were, so that a file is never
 * silently replaced. The agent cannot read the store's manifests (it has no key), so it keeps one
 * small file per archived name in its state directory: "<BLAKE2b-256 in hex> <segment id>\n". */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agents/wal-archive.h"
#include "core/base/fileio.h"
#include "core/base/log.h"
#include "core/base/macro.h"
#include "core/crypto/keys.h"

/* Records of WAL files older than this many segments before the newest are removed; the check
 * runs when a WAL file's segment number is a multiple of PRUNE_EVERY. */
#define KEEP_SEGMENTS 4096
#define PRUNE_EVERY 64

/* "<state>/wal-archive/<system>/<hook>" */
static char *seen_dir(const char *state_dir, const char *system, const char *hook) {
        char *p;

        if (asprintf(&p, "%s/wal-archive/%s/%s", state_dir, system, hook) < 0)
                return NULL;
        return p;
}

int agent_wal_seen_get(const char *state_dir, const char *system, const char *hook,
                       const char *name, AgentWalSeen *ret) {
        _cleanup_free_ char *dir = seen_dir(state_dir, system, hook), *path = NULL;
        YbBuf b = YB_BUF_INIT;
        AgentWalSeen s = { 0 };
        char *line, *sp;
        int r;

        if (!dir || asprintf(&path, "%s/%s", dir, name) < 0)
                return -ENOMEM;
        r = yb_read_file_at(AT_FDCWD, path, 256, &b);
        if (r == -ENOENT) {
                *ret = s;
                return 0;
        }
        if (r >= 0)
                r = yb_buf_append_u8(&b, 0);
        if (r < 0) {
                yb_buf_done(&b);
                return r;
        }
        line = (char *) b.data;
        sp = strchr(line, ' ');
        if (sp && sp - line == 2 * YB_HASH_SIZE)
                *sp = 0;
        if (!sp || sp - line != 2 * YB_HASH_SIZE || yb_hex_decode(line, s.hash, YB_HASH_SIZE) < 0) {
                yb_buf_done(&b);
                return -EBADMSG;
        }
        snprintf(s.segment, sizeof(s.segment), "%.*s", (int) strcspn(sp + 1, "\n"), sp + 1);
        yb_buf_done(&b);
        s.found = true;
        *ret = s;
        return 0;
}

/* Removes the records of WAL files more than KEEP_SEGMENTS before name, on name's timeline or an
 * earlier one (history files stay: a few per timeline). Best effort. */
static void prune_old(const char *dir, const char *name) {
        unsigned long long tli, hi, lo, segno;
        DIR *d;
        struct dirent *de;

        if (sscanf(name, "%8llx%8llx%8llx", &tli, &hi, &lo) != 3)
                return;
        /* Any segment size: the log and segment parts read as one number, which grows with the
         * WAL; 4096 steps of the low part are at least 4096 segments. */
        segno = (hi << 32) | lo;
        if (segno % PRUNE_EVERY != 0 || segno < KEEP_SEGMENTS)
                return;
        d = opendir(dir);
        if (!d)
                return;
        while ((de = readdir(d))) {
                unsigned long long t, h, l;

                if (agent_wal_kind(de->d_name) != AGENT_WAL_SEGMENT ||
                    sscanf(de->d_name, "%8llx%8llx%8llx", &t, &h, &l) != 3)
                        continue;
                if (t <= tli && ((h << 32) | l) + KEEP_SEGMENTS < segno)
                        (void) unlinkat(dirfd(d), de->d_name, 0);
        }
        closedir(d);
}

int agent_wal_seen_put(const char *state_dir, const char *system, const char *hook,
                       const char *name, const uint8_t hash[YB_HASH_SIZE], const char *segment) {
        _cleanup_free_ char *dir = seen_dir(state_dir, system, hook), *path = NULL;
        char hex[2 * YB_HASH_SIZE + 1], line[2 * YB_HASH_SIZE + 80];
        int r;

        if (!dir || asprintf(&path, "%s/%s", dir, name) < 0)
                return -ENOMEM;
        r = yb_mkdir_p_at(AT_FDCWD, dir, 0700);
        if (r < 0)
                return r;
        yb_hex_encode(hash, YB_HASH_SIZE, hex);
        snprintf(line, sizeof(line), "%s %s\n", hex, segment);
        r = yb_write_file_atomic_at(AT_FDCWD, path, line, strlen(line), 0600);
        if (r < 0)
                return r;
        if (agent_wal_kind(name) == AGENT_WAL_SEGMENT)
                prune_old(dir, name);
        return 0;
}
