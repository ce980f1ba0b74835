#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>

#include "agents/agent.h"
#include "core/base/buf.h"
#include "core/base/log.h"

typedef struct Walk {
        char *const *excludes;
        size_t n_excludes;
        AgentWalkFn fn;
        AgentWalkErrorFn err;
        void *userdata;
} Walk;

static bool excluded(const Walk *w, const char *name, const char *path, const char *abs) {
        for (size_t i = 0; i < w->n_excludes; i++) {
                const char *p = w->excludes[i];
                const char *subject = p[0] == '/' ? abs : strchr(p, '/') ? path : name;

                if (fnmatch(p, subject, 0) == 0)
                        return true;
        }
        return false;
}

static int name_cmp(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static int walk_entry(Walk *w, int dir_fd, const char *name, YbBuf *path, YbBuf *abs, bool root);

/* Reads a directory's names, sorted, so that snapshots list entries in a stable order. */
static int read_names(int fd, char ***ret, size_t *ret_n) {
        char **v = NULL;
        size_t n = 0, alloc = 0;
        struct dirent *de;
        int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        DIR *d;

        if (dfd < 0)
                return negative_errno();
        d = fdopendir(dfd);
        if (!d) {
                safe_close(dfd);
                return negative_errno();
        }
        errno = 0;
        while ((de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (n == alloc) {
                        size_t a = alloc ? alloc * 2 : 32;
                        char **p = realloc(v, a * sizeof(char *));

                        if (!p)
                                goto oom;
                        v = p;
                        alloc = a;
                }
                v[n] = strdup(de->d_name);
                if (!v[n])
                        goto oom;
                n++;
                errno = 0;
        }
        if (errno != 0) {
                int r = negative_errno();

                closedir(d);
                for (size_t i = 0; i < n; i++)
                        free(v[i]);
                free(v);
                return r;
        }
        closedir(d);
        if (n > 1)
                qsort(v, n, sizeof(char *), name_cmp);
        *ret = v;
        *ret_n = n;
        return 0;
oom:
        closedir(d);
        for (size_t i = 0; i < n; i++)
                free(v[i]);
        free(v);
        return -ENOMEM;
}

static int walk_children(Walk *w, int fd, YbBuf *path, YbBuf *abs) {
        char **names = NULL;
        size_t n = 0;
        int r;

        r = read_names(fd, &names, &n);
        if (r < 0) {
                w->err(w->userdata, (const char *) abs->data, r);
                return 0;
        }
        for (size_t i = 0; i < n; i++) {
                size_t plen = path->size, alen = abs->size;

                if (r >= 0) {
                        /* path and abs are NUL-terminated; replace the NUL by "/name\0". */
                        path->size--;
                        abs->size--;
                        if (yb_buf_printf(path, "/%s", names[i]) < 0 ||
                            yb_buf_printf(abs, "%s%s",
                                          abs->size > 0 && abs->data[abs->size - 1] == '/' ? ""
                                                                                           : "/",
                                          names[i]) < 0 ||
                            yb_buf_append_u8(path, 0) < 0 || yb_buf_append_u8(abs, 0) < 0)
                                r = -ENOMEM;
                        else
                                r = walk_entry(w, fd, names[i], path, abs, false);
                        path->size = plen;
                        abs->size = alen;
                        path->data[plen - 1] = 0;
                        abs->data[alen - 1] = 0;
                }
                free(names[i]);
        }
        free(names);
        return r;
}

static int walk_entry(Walk *w, int dir_fd, const char *name, YbBuf *path, YbBuf *abs, bool root) {
        AgentWalkEntry e;
        struct stat st;
        int r;

        /* The root itself is never excluded: it was asked for by name. */
        if (!root && excluded(w, name, (const char *) path->data, (const char *) abs->data))
                return 0;
        if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                if (root)
                        return negative_errno();
                if (errno != ENOENT) /* vanished since the directory was read: not an error */
                        w->err(w->userdata, (const char *) abs->data, negative_errno());
                return 0;
        }
        e = (AgentWalkEntry){
                .dir_fd = dir_fd,
                .name = name,
                .path = (const char *) path->data,
                .abs = (const char *) abs->data,
                .st = &st,
        };
        r = w->fn(w->userdata, &e);
        if (r < 0)
                return r;
        if (r == 1 || !S_ISDIR(st.st_mode))
                return 0;
        {
                _cleanup_close_ int fd =
                        openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                struct stat st2;

                if (fd < 0) {
                        if (errno != ENOENT)
                                w->err(w->userdata, (const char *) abs->data, negative_errno());
                        return 0;
                }
                /* Replaced by something else between the stat and the open: its contents are not
                 * what was recorded; report it (the snapshot becomes partial), never follow. */
                if (fstat(fd, &st2) < 0 || st2.st_ino != st.st_ino || st2.st_dev != st.st_dev) {
                        w->err(w->userdata, (const char *) abs->data, -ESTALE);
                        return 0;
                }
                return walk_children(w, fd, path, abs);
        }
}

int agent_walk(const char *source, const char *root_name, char *const *excludes, size_t n_excludes,
               AgentWalkFn fn, AgentWalkErrorFn err, void *userdata) {
        Walk w = { excludes, n_excludes, fn, err, userdata };
        _cleanup_free_ char *copy = strdup(source);
        _cleanup_close_ int parent_fd = -EBADF;
        YbBuf path = YB_BUF_INIT, abs = YB_BUF_INIT;
        char *slash, *name;
        int r;

        if (!copy)
                return -ENOMEM;
        /* Drop trailing slashes; split into parent directory and name. */
        for (size_t n = strlen(copy); n > 1 && copy[n - 1] == '/'; n--)
                copy[n - 1] = 0;
        slash = strrchr(copy, '/');
        if (slash) {
                *slash = 0;
                name = slash + 1;
                parent_fd = open(slash == copy ? "/" : copy,
                                 O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_PATH);
        } else {
                name = copy;
                parent_fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_PATH);
        }
        if (parent_fd < 0)
                return negative_errno();
        if (!*name || streq(name, ".") || streq(name, ".."))
                return -EINVAL;
        r = yb_buf_printf(&path, "%s", root_name);
        if (r >= 0)
                r = yb_buf_printf(&abs, "%s", source);
        if (r >= 0)
                r = yb_buf_append_u8(&path, 0);
        if (r >= 0)
                r = yb_buf_append_u8(&abs, 0);
        if (r >= 0)
                r = walk_entry(&w, parent_fd, name, &path, &abs, true);
        yb_buf_done(&path);
        yb_buf_done(&abs);
        return r;
}
