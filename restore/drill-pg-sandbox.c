/* restore/drill-pg-sandbox.c: what a restored point cannot choose for the drill's PostgreSQL
 * (docs/drills.md, "What the point cannot choose"). The point holds whatever the host held,
 * under any name: a dump or a data directory reached through a symlink of the sandbox, a name
 * the drill uses for its own directories, a symlink out of the sandbox or a device node in a
 * data directory are refused, naming them, before anything runs on them. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/buf.h"
#include "core/base/fileio.h"
#include "core/base/macro.h"
#include "restore/drill-pg-internal.h"

/* Whether rel (a path in the sandbox) is reached without a symlink or a mount point on the
 * way: what the restored point holds there is used only when it is in the sandbox itself, not
 * (through a symlink it holds) the host's. 0, or -errno with *ret_error saying so. */
int restore_drill_pg_in_sandbox(const char *sandbox, const char *rel, char **ret_error) {
        _cleanup_close_ int dfd = open(sandbox, O_PATH | O_DIRECTORY | O_CLOEXEC);
        _cleanup_close_ int fd = -EBADF;

        if (dfd < 0)
                return restore_drill_pg_fail(ret_error, -errno,
                                             "the sandbox %s cannot be opened: %s", sandbox,
                                             strerror(errno));
        fd = yb_open_beneath(dfd, rel, O_PATH);
        if (fd == -ELOOP || fd == -EXDEV)
                return restore_drill_pg_fail(
                        ret_error, fd,
                        "the restored point's %s/%s is reached through a %s in the sandbox: the "
                        "drill uses only what was restored there, never what a symlink of the "
                        "backup points at (drill another point, or look at it in a kept "
                        "sandbox)",
                        sandbox, rel, fd == -ELOOP ? "symlink" : "mount point");
        return 0; /* missing: said by the caller */
}

/* Makes a directory of the drill's own, path (in the sandbox), which the restored point must not
 * hold: what it holds there (a symlink to /etc, a directory with a symlink in it) is never
 * used. which: "the drill's own directory", "a directory of the drill's own". */
int restore_drill_pg_own_dir(const char *path, mode_t mode, const char *which, char **ret_error) {
        if (mkdir(path, mode) == 0)
                return 0;
        if (errno == EEXIST)
                return restore_drill_pg_fail(
                        ret_error, -EEXIST,
                        "the restored point holds %s, the name of %s: the drill cannot put its "
                        "PostgreSQL there (rename it in the source, or drill another point)",
                        path, which);
        return restore_drill_pg_fail(ret_error, -errno, "cannot make %s, %s: %s", path, which,
                                     strerror(errno));
}

/* The drill's directory, SANDBOX/.yunbak-drill-pg: made now, or one an earlier start in this
 * sandbox made (a directory of ours, mode 0711; its clusters' directories are gone, its logs
 * stay); anything else there came with the point and is refused. */
int restore_drill_pg_drill_dir(const char *dir, char **ret_error) {
        struct stat st;

        if (mkdir(dir, 0711) == 0)
                return 0;
        if (errno == EEXIST && lstat(dir, &st) == 0 && S_ISDIR(st.st_mode) &&
            st.st_uid == geteuid() && (st.st_mode & 07777) == 0711)
                return 0;
        return restore_drill_pg_own_dir(dir, 0711, "the drill's own directory", ret_error);
}

/* What walk_datadir looks at (nftw's callback takes no data of ours). */
static struct {
        const char *sandbox_real; /* the sandbox's real path */
        const char *map;          /* the data directory's tablespace_map, or NULL */
        size_t datadir_len;
        char *bad; /* the first entry refused, malloc'd */
        char *why; /* why, malloc'd */
} walk;

/* Whether pg_tblspc/OID is in the tablespace_map (PostgreSQL makes that link anew from it). */
static bool in_map(const char *rel) {
        const char *oid = rel + strlen("pg_tblspc/");
        size_t n = strlen(oid);

        if (strncmp(rel, "pg_tblspc/", strlen("pg_tblspc/")) != 0 || n == 0 || strchr(oid, '/') ||
            !walk.map)
                return false;
        for (const char *l = walk.map; l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
                if (strncmp(l, oid, n) == 0 && l[n] == ' ')
                        return true;
        return false;
}

static int walk_one(const char *path, const struct stat *st, int type, struct FTW *f) {
        const char *rel = path + MIN(strlen(path), walk.datadir_len + 1);
        _cleanup_free_ char *real = NULL;
        size_t n = strlen(walk.sandbox_real);

        (void) f;
        if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) {
                walk.bad = strdup(path);
                walk.why = strdup("a device node, which the cluster's user would own");
                return 1;
        }
        if (type != FTW_SL && type != FTW_SLN)
                return 0;
        if (in_map(rel))
                return 0;
        real = realpath(path, NULL);
        if (real && strncmp(real, walk.sandbox_real, n) == 0 && (real[n] == '/' || !real[n]))
                return 0;
        walk.bad = strdup(path);
        if (!real)
                walk.why = strdup("a symlink to nothing in the sandbox");
        else if (asprintf(&walk.why, "a symlink out of the sandbox (to %s)", real) < 0)
                walk.why = NULL;
        return 1;
}

/* The restored data directory of c holds nothing that reaches out of the sandbox: no symlink
 * whose target is out of it (but the pg_tblspc links that PostgreSQL makes anew from the
 * tablespace_map, which points at the restored tablespaces), no device node. PostgreSQL
 * would write through such a symlink, and its user own such a node. */
int restore_drill_pg_datadir_checked(const char *sandbox, const DrillCluster *c, char **ret_error) {
        _cleanup_free_ char *sandbox_real = realpath(sandbox, NULL), *map_path = NULL;
        _cleanup_(yb_buf_done) YbBuf map = YB_BUF_INIT;
        int r;

        if (!sandbox_real || asprintf(&map_path, "%s/tablespace_map", c->datadir) < 0)
                return -ENOMEM;
        r = yb_read_file_at(AT_FDCWD, map_path, 1024 * 1024, &map);
        if (r >= 0)
                r = yb_buf_append(&map, "", 1);
        walk.sandbox_real = sandbox_real;
        walk.map = r >= 0 ? (const char *) map.data : NULL;
        walk.datadir_len = strlen(c->datadir);
        walk.bad = walk.why = NULL;
        r = nftw(c->datadir, walk_one, 16, FTW_PHYS | FTW_MOUNT);
        if (r > 0 && walk.bad && walk.why)
                r = restore_drill_pg_fail(ret_error, -EPERM,
                                          "the base backup _pg/%s holds %s, %s: the drill starts "
                                          "no PostgreSQL on it (look at it in a kept sandbox)",
                                          c->hook, walk.bad, walk.why);
        else if (r > 0)
                r = -ENOMEM;
        else if (r < 0)
                r = restore_drill_pg_fail(ret_error, -errno,
                                          "the restored data directory %s cannot be read: %s",
                                          c->datadir, strerror(errno));
        free(walk.bad);
        free(walk.why);
        walk = (typeof(walk)){ 0 };
        return r;
}
