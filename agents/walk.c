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
        AgentWalkListedFn listed;
        AgentWalkDeferFn defer;
        AgentWalkErrorFn err;
        void *userdata;
        uint64_t serial; /* of the last directory opened */
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

/* Reads a directory's entries (the tests give one that fails on demand). */
#ifdef WALK_GETDENTS
ssize_t WALK_GETDENTS(int fd, void *buf, size_t n);
#else
#define WALK_GETDENTS getdents64
#endif

/* Reads a directory's names, sorted, so that snapshots list entries in a stable order: in one
 * block (*ret_block), each name after its type byte (DT_*, from the listing), and an array of
 * pointers to them (*ret). Reads with getdents64 on fd itself (not through a DIR, which would
 * cost a descriptor, a stat and a 32 KiB buffer per directory): fd's offset is left at the end,
 * and the walk's users only open, stat and read attributes relative to it. */
static int read_names(int fd, char ***ret, char **ret_block, size_t *ret_n) {
        _cleanup_(yb_buf_done) YbBuf block = YB_BUF_INIT;
        _cleanup_free_ size_t *at = NULL;
        size_t n = 0, alloc = 0;
        _Alignas(struct dirent64) char buf[16384];
        ssize_t got;
        char **v;

        while ((got = WALK_GETDENTS(fd, buf, sizeof(buf))) > 0)
                for (ssize_t off = 0; off < got;) {
                        const struct dirent64 *de = (const struct dirent64 *) (buf + off);

                        off += de->d_reclen;
                        if (de->d_name[0] == '.' &&
                            (de->d_name[1] == 0 || (de->d_name[1] == '.' && de->d_name[2] == 0)))
                                continue;
                        if (n == alloc) {
                                size_t a = alloc ? alloc * 2 : 32;
                                size_t *p = realloc(at, a * sizeof(size_t));

                                if (!p)
                                        return -ENOMEM;
                                at = p;
                                alloc = a;
                        }
                        at[n++] = block.size + 1;
                        if (yb_buf_append_u8(&block, de->d_type) < 0 ||
                            yb_buf_append(&block, de->d_name, strlen(de->d_name) + 1) < 0)
                                return -ENOMEM;
                }
        if (got < 0)
                return negative_errno();
        v = malloc(MAX(n, (size_t) 1) * sizeof(char *));
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                v[i] = (char *) block.data + at[i];
        if (n > 1)
                qsort(v, n, sizeof(char *), name_cmp);
        *ret = v;
        *ret_block = (char *) TAKE_PTR(block.data);
        *ret_n = n;
        return 0;
}

/* Appends "/name" to p, which stays NUL-terminated; with slash_once, no slash after one that is
 * already there. */
static int append_name(YbBuf *p, const char *name, size_t n, bool slash_once) {
        p->size--;
        if ((!slash_once || p->size == 0 || p->data[p->size - 1] != '/') &&
            yb_buf_append_u8(p, '/') < 0)
                return -ENOMEM;
        return yb_buf_append(p, name, n + 1);
}

/* Appends "/name" to path and abs (once per entry walked: no formatting). */
static int push_name(YbBuf *path, YbBuf *abs, const char *name) {
        size_t n = strlen(name);

        if (append_name(path, name, n, false) < 0 || append_name(abs, name, n, true) < 0)
                return -ENOMEM;
        return 0;
}

/* Cuts path and abs back to the lengths they had (each including its NUL). */
static void pop_name(YbBuf *path, YbBuf *abs, size_t plen, size_t alen) {
        path->size = plen;
        abs->size = alen;
        path->data[plen - 1] = 0;
        abs->data[alen - 1] = 0;
}

/* Stats one entry and gives it to the callback. A directory to go into is opened and read:
 * returns 1 with *ret_fd and *ret_st set; 0 when there is nothing to go into; <0 to stop.
 * type is the entry's in its directory's listing (DT_*; DT_UNKNOWN for the root). */
static int visit(Walk *w, int dir_fd, uint64_t dir_serial, const char *name, unsigned char type,
                 const char *path, const char *abs, bool root, int *ret_fd, struct stat *ret_st) {
        AgentWalkEntry e;
        struct stat st, st2;
        bool deferred;
        int r;

        /* The root itself is never excluded: it was asked for by name. */
        if (!root && excluded(w, name, path, abs))
                return 0;
        /* Not a directory by its listing, and the caller will stat it: st holds the type only,
         * and there is nothing to go into. */
        deferred = type != DT_DIR && type != DT_UNKNOWN && w->defer && w->defer(w->userdata);
        if (deferred)
                st = (struct stat){ .st_mode = DTTOIF(type) };
        else if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                if (root)
                        return negative_errno();
                if (errno != ENOENT) /* vanished since the directory was read: not an error */
                        w->err(w->userdata, abs, negative_errno());
                return 0;
        }
        e = (AgentWalkEntry){ .dir_fd = dir_fd,
                              .name = name,
                              .path = path,
                              .abs = abs,
                              .st = &st,
                              .dir_serial = dir_serial,
                              .unstatted = deferred };
        r = w->fn(w->userdata, &e);
        if (r < 0)
                return r;
        if (r == 1 || !S_ISDIR(st.st_mode))
                return 0;
        _cleanup_close_ int fd =
                openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
                if (errno != ENOENT)
                        w->err(w->userdata, abs, negative_errno());
                return 0;
        }
        /* Replaced by something else between the stat and the open: its contents are not what
         * was recorded; report it (the snapshot becomes partial), never follow. */
        if (fstat(fd, &st2) < 0 || st2.st_ino != st.st_ino || st2.st_dev != st.st_dev) {
                w->err(w->userdata, abs, -ESTALE);
                return 0;
        }
        *ret_fd = TAKE_FD(fd);
        *ret_st = st;
        return 1;
}

/* A directory being walked: its sorted names, the next one to visit, and the lengths of path
 * and abs before its name was appended. */
typedef struct Frame {
        int fd;          /* -EBADF while closed to stay within the limit on open files */
        uint64_t serial; /* AgentWalkEntry.dir_serial of its entries */
        dev_t dev;
        ino_t ino;
        char **names, *block; /* read_names' */
        size_t n, next;
        size_t plen, alen;
} Frame;

/* At most this many directories of the current path are held open; the others are opened
 * again through ".." of their child when the walk comes back up, and believed only when they
 * are the same directory (device and inode) as before. So depth is limited neither by the
 * stack nor by RLIMIT_NOFILE. */
#define OPEN_FRAMES 64

typedef struct Stack {
        Frame *v;
        size_t n, alloc;
        size_t first_open; /* frames below it are closed */
} Stack;

static void frame_done(Frame *f) {
        free(f->names);
        free(f->block);
        safe_close(f->fd);
}

/* Goes into directory fd: reads its names and pushes it. Takes fd. 1 when pushed; 0 when it could
 * not be read (reported); -ENOMEM. */
static int push_dir(Walk *w, Stack *s, int fd, const struct stat *st, size_t plen, size_t alen,
                    const char *abs) {
        Frame f = { .fd = fd,
                    .serial = ++w->serial,
                    .dev = st->st_dev,
                    .ino = st->st_ino,
                    .plen = plen,
                    .alen = alen };
        int r;

        r = read_names(fd, &f.names, &f.block, &f.n);
        if (r < 0) {
                safe_close(fd);
                w->err(w->userdata, abs, r);
                return r == -ENOMEM ? r : 0;
        }
        if (s->n == s->alloc) {
                size_t a = s->alloc ? s->alloc * 2 : 64;
                Frame *p = realloc(s->v, a * sizeof(Frame));

                if (!p) {
                        frame_done(&f);
                        return -ENOMEM;
                }
                s->v = p;
                s->alloc = a;
        }
        s->v[s->n++] = f;
        if (w->listed)
                w->listed(w->userdata, fd, f.names, f.n);
        if (s->n - s->first_open > OPEN_FRAMES) {
                s->v[s->first_open].fd = safe_close(s->v[s->first_open].fd);
                s->first_open++;
        }
        return 1;
}

/* Leaves the top directory, opening its parent again if it was closed. */
static void pop_dir(Stack *s) {
        Frame *f = &s->v[s->n - 1];

        if (s->n >= 2 && s->first_open == s->n - 1) {
                Frame *up = &s->v[s->n - 2];
                struct stat st;

                if (f->fd >= 0) {
                        up->fd = openat(f->fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                        if (up->fd >= 0 && (fstat(up->fd, &st) < 0 || st.st_dev != up->dev ||
                                            st.st_ino != up->ino))
                                up->fd = safe_close(up->fd);
                }
                s->first_open--;
        }
        frame_done(f);
        s->n--;
}

static int walk_tree(Walk *w, int parent_fd, const char *name, YbBuf *path, YbBuf *abs) {
        Stack s = { 0 };
        struct stat st;
        int fd = -EBADF, r;

        r = visit(w, parent_fd, 0, name, DT_UNKNOWN, (const char *) path->data,
                  (const char *) abs->data, true, &fd, &st);
        if (r > 0)
                r = push_dir(w, &s, fd, &st, path->size, abs->size, (const char *) abs->data);
        r = MIN(r, 0);
        /* Depth first, each directory's names in order: the order the recursion had. */
        while (r >= 0 && s.n > 0) {
                Frame *f = &s.v[s.n - 1];
                size_t plen = path->size, alen = abs->size;
                const char *child;
                bool into;

                if (f->next == f->n) {
                        pop_name(path, abs, f->plen, f->alen);
                        pop_dir(&s);
                        continue;
                }
                if (f->fd < 0) {
                        /* Moved while we were below it: what it holds now is not what was
                         * walked into; report it (the snapshot becomes partial). */
                        w->err(w->userdata, (const char *) abs->data, -ESTALE);
                        f->next = f->n;
                        continue;
                }
                child = f->names[f->next++];
                r = push_name(path, abs, child);
                if (r < 0)
                        break;
                r = visit(w, f->fd, f->serial, child, (unsigned char) child[-1],
                          (const char *) path->data, (const char *) abs->data, false, &fd, &st);
                into = false;
                if (r > 0) {
                        r = push_dir(w, &s, fd, &st, plen, alen, (const char *) abs->data);
                        into = r > 0;
                }
                /* Not gone into (nothing to, or it could not be read): the next name replaces
                 * this one. */
                if (r >= 0 && !into)
                        pop_name(path, abs, plen, alen);
                r = MIN(r, 0);
        }
        while (s.n > 0)
                frame_done(&s.v[--s.n]);
        free(s.v);
        return r;
}

int agent_walk(const char *source, const char *root_name, char *const *excludes, size_t n_excludes,
               AgentWalkFn fn, AgentWalkErrorFn err, void *userdata) {
        return agent_walk_listed(source, root_name, excludes, n_excludes, fn, NULL, NULL, err,
                                 userdata);
}

int agent_walk_listed(const char *source, const char *root_name, char *const *excludes,
                      size_t n_excludes, AgentWalkFn fn, AgentWalkListedFn listed,
                      AgentWalkDeferFn defer, AgentWalkErrorFn err, void *userdata) {
        Walk w = { excludes, n_excludes, fn, listed, defer, err, userdata, 0 };
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
                r = walk_tree(&w, parent_fd, name, &path, &abs);
        yb_buf_done(&path);
        yb_buf_done(&abs);
        return r;
}
