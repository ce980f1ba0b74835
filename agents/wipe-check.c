/* Which paths `yunbak-agent wipe` may clear (agents/wipe.c), decided before anything is touched.
 *
 * Refused: a relative path, one with "." or ".." in it, "/" and the top-level system directories
 * themselves (/bin /boot /dev /etc /lib* /proc /run /sbin /sys /usr /var, /home and /root: below
 * them is fine), as written or as resolved through symlinks above it (/srv/link/bin with link ->
 * / is /bin); the agent's state directory, anything inside it or above it (the agent's key lives
 * there: the state of the system is removed by name, nothing else of it); something that is not
 * a directory (a symlink to one included: its target is not ours to clear); and a path holding,
 * or lying inside, the data directory of a running PostgreSQL server (stop the cluster first: a
 * cluster wiped under a running server is neither gone nor consistent). A path that does not
 * exist is already absent, not an error. */
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "agents/agent.h"
#include "core/base/log.h"
#include "core/base/pathutil.h"

/* path with repeated and trailing slashes dropped (the caller frees it); NULL when it has a "."
 * or ".." component, or when memory runs out. */
static char *clean_path(const char *path) {
        char *p = malloc(strlen(path) + 2), *w = p;

        if (!p)
                return NULL;
        for (const char *r = path; *r;) {
                const char *end;
                size_t n;

                if (*r == '/') {
                        while (*r == '/')
                                r++;
                        if (*r)
                                *w++ = '/';
                        continue;
                }
                end = strchrnul(r, '/');
                n = (size_t) (end - r);
                if ((n == 1 && r[0] == '.') || (n == 2 && r[0] == '.' && r[1] == '.')) {
                        free(p);
                        return NULL;
                }
                memcpy(w, r, n);
                w += n;
                r = end;
        }
        if (w == p)
                *w++ = '/';
        *w = 0;
        return p;
}

/* "/" or a top-level system directory itself. */
static bool protected_dir(const char *p) {
        static const char *const names[] = { "bin", "boot", "dev", "etc",  "proc", "run", "sbin",
                                             "sys", "usr",  "var", "home", "root", NULL };
        const char *name = p + 1;

        if (streq(p, "/"))
                return true;
        if (strchr(name, '/'))
                return false;
        for (size_t i = 0; names[i]; i++)
                if (streq(name, names[i]))
                        return true;
        return strncmp(name, "lib", 3) == 0;
}

/* /proc, /sys, /dev or below: the kernel's trees, never a system's data. */
static bool kernel_tree(const char *p) {
        return yb_path_startswith(p, "/proc") || yb_path_startswith(p, "/sys") ||
               yb_path_startswith(p, "/dev");
}

#ifndef CONFIGFS_MAGIC
#define CONFIGFS_MAGIC 0x62656570
#endif
#ifndef MQUEUE_MAGIC
#define MQUEUE_MAGIC 0x19800202
#endif
#ifndef FUSECTL_SUPER_MAGIC
#define FUSECTL_SUPER_MAGIC 0x65735543
#endif

/* The name of the kernel pseudo filesystem f_type is, or NULL when it is none. */
static const char *pseudo_fs(long f_type) {
        static const struct {
                long magic;
                const char *name;
        } fs[] = {
                { PROC_SUPER_MAGIC, "proc" },       { SYSFS_MAGIC, "sysfs" },
                { DEVPTS_SUPER_MAGIC, "devpts" },   { CGROUP_SUPER_MAGIC, "cgroup" },
                { CGROUP2_SUPER_MAGIC, "cgroup2" }, { DEBUGFS_MAGIC, "debugfs" },
                { TRACEFS_MAGIC, "tracefs" },       { SECURITYFS_MAGIC, "securityfs" },
                { PSTOREFS_MAGIC, "pstore" },       { BPF_FS_MAGIC, "bpf" },
                { EFIVARFS_MAGIC, "efivarfs" },     { BINFMTFS_MAGIC, "binfmt_misc" },
                { SELINUX_MAGIC, "selinuxfs" },     { NSFS_MAGIC, "nsfs" },
                { CONFIGFS_MAGIC, "configfs" },     { MQUEUE_MAGIC, "mqueue" },
                { FUSECTL_SUPER_MAGIC, "fusectl" },
        };

        for (size_t i = 0; i < ELEMENTSOF(fs); i++)
                if ((uint32_t) f_type == (uint32_t) fs[i].magic)
                        return fs[i].name;
        return NULL;
}

typedef struct PgFind {
        dev_t dev;
        long pid;
        char *where;
} PgFind;

static int pg_entry(void *userdata, const AgentWalkEntry *e) {
        PgFind *f = userdata;
        long pid;

        if (!S_ISDIR(e->st->st_mode))
                return 0;
        if (e->st->st_dev != f->dev)
                return 1; /* another filesystem: the wipe does not enter it either */
        pid = agent_pg_live_pid(e->dir_fd, e->name);
        if (pid == 0)
                return 0;
        f->pid = pid;
        f->where = strdup(e->abs);
        return -ECANCELED;
}

static void pg_error(void *userdata, const char *abs, int error) {
        (void) userdata;
        log_debug_errno(error, "Cannot look into '%s' for a running PostgreSQL server: %m", abs);
}

/* A running PostgreSQL server whose data directory is real, lies above it, or lies below it:
 * its pid (where: its data directory, for the caller to free), else 0. */
static long live_cluster(const char *real, const struct stat *st, char **where) {
        _cleanup_free_ char *up = strdup(real);
        PgFind f = { .dev = st->st_dev };

        /* real itself and everything above it */
        while (up) {
                long pid = agent_pg_live_pid(AT_FDCWD, up);
                char *slash = strrchr(up, '/');

                if (pid > 0) {
                        *where = TAKE_PTR(up);
                        return pid;
                }
                if (!slash || slash == up)
                        break;
                *slash = 0;
        }
        (void) agent_walk(real, "wipe", NULL, 0, pg_entry, pg_error, &f);
        *where = f.where;
        return f.pid;
}

/* Whether a and b are the same directory, or one lies inside the other. */
static bool overlaps(const char *a, const char *b) {
        return yb_path_startswith(a, b) || yb_path_startswith(b, a);
}

int agent_wipe_check(const char *path, const char *state_dir, AgentWipeTarget *ret, char *why,
                     size_t why_size) {
        _cleanup_free_ char *clean = NULL, *real = NULL, *state = NULL, *pg = NULL;
        _cleanup_free_ char *esc = yb_path_escape(path), *esc_real = NULL, *esc_state = NULL;
        struct statfs sf;
        struct statx sx;
        struct stat st;
        const char *pseudo;
        long pid;
        int r;

        if (!esc)
                return -ENOMEM;
        if (path[0] != '/') {
                snprintf(why, why_size,
                         "'%s' is relative: give the absolute path of the directory to clear", esc);
                return -EINVAL;
        }
        clean = clean_path(path);
        if (!clean) {
                snprintf(why, why_size,
                         "'%s' has a '.' or '..' in it: give the directory's path without them",
                         esc);
                return -EINVAL;
        }
        free(esc);
        esc = yb_path_escape(clean);
        if (!esc)
                return -ENOMEM;
        if (protected_dir(clean)) {
                snprintf(why, why_size,
                         "%s is %s: name the system's own directories below it instead", esc,
                         streq(clean, "/") ? "the root directory" : "a top-level system directory");
                return -EPERM;
        }
        if (kernel_tree(clean)) {
                snprintf(why, why_size,
                         "%s is in the kernel's own tree (/proc, /sys, /dev): it holds no system's "
                         "data, and removing there deletes processes' views, cgroups or device "
                         "nodes; name the system's data directories instead",
                         esc);
                return -EPERM;
        }
        state = realpath(state_dir, NULL);
        if (!state)
                state = clean_path(state_dir);
        esc_state = state ? yb_path_escape(state) : NULL;
        if (state && overlaps(clean, state)) {
                snprintf(why, why_size,
                         "%s overlaps the agent's state directory %s, which holds the agent's key: "
                         "the system's state there is removed by name, never as a path",
                         esc, esc_state ? esc_state : "?");
                return -EPERM;
        }
        if (lstat(clean, &st) < 0) {
                r = -errno;
                if (r == -ENOENT) {
                        *ret = (AgentWipeTarget){ .clean = TAKE_PTR(clean) };
                        return 1; /* already absent */
                }
                snprintf(why, why_size, "cannot examine %s: %s", esc, strerror(-r));
                return r;
        }
        if (!S_ISDIR(st.st_mode)) {
                snprintf(why, why_size,
                         "%s is not a directory (%s): wipe clears directories, and never follows "
                         "a symlink",
                         esc, S_ISLNK(st.st_mode) ? "a symbolic link" : "a file or device");
                return -ENOTDIR;
        }
        real = realpath(clean, NULL);
        if (!real) {
                r = -errno;
                snprintf(why, why_size, "cannot resolve %s: %s", esc, strerror(-r));
                return r;
        }
        esc_real = yb_path_escape(real);
        if (protected_dir(real) || kernel_tree(real) || (state && overlaps(real, state))) {
                snprintf(why, why_size,
                         "%s is %s through a symbolic link above it, %s: name the directory "
                         "itself instead",
                         esc, esc_real ? esc_real : "?",
                         protected_dir(real) ? "a system directory"
                         : kernel_tree(real) ? "in the kernel's own tree"
                                             : "overlapping the agent's state directory");
                return -EPERM;
        }
        if (statfs(real, &sf) == 0 && (pseudo = pseudo_fs(sf.f_type))) {
                snprintf(why, why_size,
                         "%s is on a %s filesystem, one of the kernel's pseudo filesystems: it "
                         "holds no system's data, and removing there changes the kernel's state; "
                         "name the system's data directories instead",
                         esc, pseudo);
                return -EPERM;
        }
        pid = live_cluster(real, &st, &pg);
        if (pid > 0) {
                _cleanup_free_ char *esc_pg = yb_path_escape(pg ? pg : real);

                snprintf(why, why_size,
                         "%s %s the data directory %s of a running PostgreSQL server (pid %ld, "
                         "postmaster.pid): stop the cluster first",
                         esc, yb_path_startswith(pg ? pg : real, real) ? "holds" : "lies inside",
                         esc_pg ? esc_pg : "?", pid);
                return -EBUSY;
        }
        if (statx(AT_FDCWD, real, 0, STATX_BASIC_STATS | STATX_MNT_ID, &sx) < 0) {
                r = -errno;
                snprintf(why, why_size, "cannot examine %s: %s", esc_real ? esc_real : "?",
                         strerror(-r));
                return r;
        }
        *ret = (AgentWipeTarget){
                .clean = TAKE_PTR(clean),
                .real = TAKE_PTR(real),
                .dev = makedev(sx.stx_dev_major, sx.stx_dev_minor),
                .ino = sx.stx_ino,
                .mnt_id = (sx.stx_mask & STATX_MNT_ID) ? sx.stx_mnt_id : 0,
        };
        return 0;
}
