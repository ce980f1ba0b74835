/* Extended attributes of the entries backed up, POSIX ACLs included (they are
 * system.posix_acl_*): read into the manifest record without following a symlink and without
 * opening the entry, through /proc/self/fd/<dir>/<name>, so the path stays short however deep the
 * entry is. Without /proc they could not be read at all, which the backup says once. */
#include <stdio.h>
#include <sys/xattr.h>

#include "agents/backup-internal.h"
#include "core/base/log.h"
#include "core/base/timeutil.h"

void agent_xattrs_free(YbXattr *x, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(x[i].name);
                free(x[i].value);
        }
        free(x);
}

static int read_xattrs(int dir_fd, const char *name, YbXattr **ret, size_t *ret_n) {
        _cleanup_free_ char *names = NULL, *path = NULL;
        YbXattr *v = NULL;
        size_t n = 0;
        ssize_t len;

        *ret = NULL;
        *ret_n = 0;
        if (asprintf(&path, "/proc/self/fd/%d/%s", dir_fd, name) < 0)
                return -ENOMEM;
        for (;;) {
                len = llistxattr(path, NULL, 0);
                if (len < 0)
                        return errno == ENOTSUP ? 0 : negative_errno();
                if (len == 0)
                        return 0;
                free(names);
                names = malloc((size_t) len);
                if (!names)
                        return -ENOMEM;
                len = llistxattr(path, names, (size_t) len);
                if (len >= 0)
                        break;
                if (errno != ERANGE)
                        return negative_errno();
        }
        for (char *p = names; p < names + len; p += strlen(p) + 1) {
                ssize_t vlen = lgetxattr(path, p, NULL, 0);
                YbXattr *nv;
                void *val;

                if (vlen < 0) {
                        if (errno == ENODATA)
                                continue;
                        agent_xattrs_free(v, n);
                        return negative_errno();
                }
                val = malloc((size_t) vlen + 1);
                nv = realloc(v, (n + 1) * sizeof(YbXattr));
                if (!val || !nv) {
                        free(val);
                        agent_xattrs_free(nv ? nv : v, n);
                        return -ENOMEM;
                }
                v = nv;
                vlen = lgetxattr(path, p, val, (size_t) vlen);
                if (vlen < 0) {
                        free(val);
                        continue; /* removed meanwhile */
                }
                v[n].name = strdup(p);
                v[n].value = val;
                v[n].size = (size_t) vlen;
                if (!v[n].name) {
                        free(val);
                        agent_xattrs_free(v, n);
                        return -ENOMEM;
                }
                n++;
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

int agent_xattrs_read(AgentBackup *b, const AgentWalkEntry *e, YbEntry *me) {
        int r;

        b->xattrs_none = false;
        if (S_ISSOCK(e->st->st_mode) || b->no_proc)
                return 0;
        r = read_xattrs(e->dir_fd, e->name, &me->xattrs, &me->n_xattrs);
        if (r == -ENOMEM)
                return r;
        /* A change of them in the clock tick of a ctime this recent could leave the ctime as it
         * is: only an older one vouches that there are none (racily clean, agents/file.c). */
        b->xattrs_none =
                r >= 0 && me->n_xattrs == 0 &&
                (int64_t) e->st->st_ctim.tv_sec * YB_NSEC_PER_SEC + e->st->st_ctim.tv_nsec <=
                        yb_now_ns() - YB_NSEC_PER_SEC;
        if (r < 0 && r != -ENOENT)
                log_warning_errno(r, "Cannot read the extended attributes of '%s': %m", e->abs);
        return 0;
}

void agent_xattrs_check(AgentBackup *b) {
        /* Extended attributes (and ACLs) are read through /proc/self/fd: without /proc they would
         * be lost in silence. Say so once, and mark the snapshot partial. */
        if (access("/proc/self/fd", F_OK) < 0) {
                b->no_proc = true;
                log_warning("/proc is not mounted: extended attributes and ACLs are NOT backed "
                            "up; the snapshot is marked partial.");
                b->hdr.partial = true;
                b->hdr.counts.errors++;
        }
}
