/* The WAL spool of a hook, <state-dir>/wal/<system>/<hook>/, as pg_receivewal writes it: a
 * completed WAL file under its own name, the one being written as "<name>.partial" (padded with
 * zeros to the segment size from its start, so its size says nothing of what was written: the
 * replicator learns that from the slot). The replicator lists it, reads it, and removes the
 * completed files whose bytes its chain holds. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "agents/replicate-wal.h"

static int file_cmp(const void *a, const void *b) {
        const AgentWalFile *x = a, *y = b;

        if (x->segno != y->segno)
                return x->segno < y->segno ? -1 : 1;
        if (x->timeline != y->timeline)
                return x->timeline < y->timeline ? -1 : 1;
        return (int) x->partial - (int) y->partial;
}

int agent_wal_spool_list(const char *dir, uint32_t segment_size, AgentWalFile **ret,
                         size_t *ret_n) {
        _cleanup_free_ AgentWalFile *files = NULL;
        size_t n = 0, alloc = 0;
        DIR *d = opendir(dir);
        struct dirent *de;

        if (!d) {
                if (errno != ENOENT)
                        return negative_errno();
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        while ((de = readdir(d))) {
                size_t len = strlen(de->d_name);
                AgentWalFile f = { 0 };

                if (len == YB_PG_WAL_NAME_LEN + 8 &&
                    streq(de->d_name + YB_PG_WAL_NAME_LEN, ".partial"))
                        f.partial = true;
                else if (len != YB_PG_WAL_NAME_LEN)
                        continue;
                memcpy(f.name, de->d_name, YB_PG_WAL_NAME_LEN);
                f.name[YB_PG_WAL_NAME_LEN] = 0;
                if (yb_pg_wal_name_parse(f.name, segment_size, &f.timeline, &f.segno) < 0)
                        continue;
                if (n == alloc) {
                        size_t a = alloc ? 2 * alloc : 16;
                        AgentWalFile *p = realloc(files, a * sizeof(*p));

                        if (!p) {
                                closedir(d);
                                return -ENOMEM;
                        }
                        files = p;
                        alloc = a;
                }
                files[n++] = f;
        }
        closedir(d);
        if (n > 0)
                qsort(files, n, sizeof(*files), file_cmp);
        *ret = TAKE_PTR(files);
        *ret_n = n;
        return 0;
}

int agent_wal_spool_open(const char *dir, const AgentWalFile *f) {
        char path[PATH_MAX];
        int fd;

        snprintf(path, sizeof(path), "%s/%s%s", dir, f->name, f->partial ? ".partial" : "");
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT && f->partial) {
                /* Completed since the listing: pg_receivewal renamed it. */
                snprintf(path, sizeof(path), "%s/%s", dir, f->name);
                fd = open(path, O_RDONLY | O_CLOEXEC);
        }
        return fd < 0 ? negative_errno() : fd;
}

int agent_wal_spool_remove(const char *dir, const AgentWalFile *f) {
        char path[PATH_MAX];

        snprintf(path, sizeof(path), "%s/%s%s", dir, f->name, f->partial ? ".partial" : "");
        if (unlink(path) < 0 && errno != ENOENT)
                return negative_errno();
        return 0;
}

int agent_wal_spool_clear(const char *dir, uint32_t segment_size) {
        _cleanup_free_ AgentWalFile *files = NULL;
        size_t n;
        int r = agent_wal_spool_list(dir, segment_size, &files, &n);

        for (size_t i = 0; r >= 0 && i < n; i++)
                r = agent_wal_spool_remove(dir, &files[i]);
        return r;
}
