/* Change capture for the replicator: a thread reads fanotify or inotify events and marks dirty
 * the path each names, with the directory holding it (whose mtime moved), at the time it was
 * first noticed. Events are hints: whatever they miss, a reconciliation scan finds, and an
 * overflowed queue asks for one.
 *
 * fanotify (root): one mark per file system of the sources (FAN_MARK_FILESYSTEM), events naming
 * their directory and name (FAN_REPORT_DFID_NAME), filtered to the sources
 * (agents/replicate-fanotify.c). inotify (anyone): a watch per directory, added as directories
 * appear; a directory created or moved in is walked for its subdirectories, and marked for a
 * rescan (what was made in it before its watch is found by that). */
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>

#include "agents/replicate.h"
#include "core/base/fileio.h"
#include "core/base/log.h"
#include "core/base/timeutil.h"

#define INOTIFY_MASK                                                                               \
        (IN_CREATE | IN_DELETE | IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_FROM |          \
         IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_DONT_FOLLOW | IN_EXCL_UNLINK |           \
         IN_ONLYDIR)

struct AgentCapture {
        bool fanotify;
        int fd;      /* the inotify or fanotify fd */
        int stop_fd; /* an eventfd: the thread ends when it is readable */
        const AgentSource *sources;
        size_t n_sources;
        char *const *excludes;
        size_t n_excludes;
        AgentDirty *dirty;
        AgentOut *out;
        int *mount_fds;  /* fanotify: per source, an fd on its file system */
        char **wd_paths; /* inotify: a watch's directory (host path) by wd */
        size_t n_wd_paths;
        atomic_size_t watches; /* the loop reads it while the thread adds watches */
        size_t unwatched;      /* directories of the current walk left unwatched (no watches) */
        char *first_unwatched; /* the first of them */
        atomic_bool overflow;
        pthread_t thread;
        bool running;
};

static int wd_set(AgentCapture *c, int wd, const char *abs) {
        char *copy = strdup(abs);

        if (!copy)
                return -ENOMEM;
        if ((size_t) wd >= c->n_wd_paths) {
                size_t n = MAX((size_t) wd + 1, 2 * c->n_wd_paths);
                char **p = realloc(c->wd_paths, n * sizeof(char *));

                if (!p) {
                        free(copy);
                        return -ENOMEM;
                }
                memset(p + c->n_wd_paths, 0, (n - c->n_wd_paths) * sizeof(char *));
                c->wd_paths = p;
                c->n_wd_paths = n;
        }
        if (!c->wd_paths[wd])
                c->watches++;
        free(c->wd_paths[wd]);
        c->wd_paths[wd] = copy;
        return 0;
}

/* Says how many directories could not be watched for want of inotify watches, and how to raise
 * the limit; once per walk that met the limit (the first: at start). */
static void say_watch_limit(AgentCapture *c, const char *first) {
        YbBuf b = YB_BUF_INIT;
        unsigned long limit = 0;

        if (c->unwatched == 0)
                return;
        if (yb_read_file_at(AT_FDCWD, "/proc/sys/fs/inotify/max_user_watches", 64, &b) >= 0 &&
            yb_buf_append_u8(&b, 0) >= 0)
                limit = strtoul((char *) b.data, NULL, 10);
        yb_buf_done(&b);
        agent_out_error(c->out,
                        "inotify cannot watch %zu directories (the first: '%s'): this user's "
                        "inotify watches are used up (/proc/sys/fs/inotify/max_user_watches is "
                        "%lu; the replicator watches %zu, other programs of the user the rest). "
                        "Changes below unwatched directories are found only by the hourly scan. "
                        "Raise the limit by at least %zu (sysctl fs.inotify.max_user_watches=%lu), "
                        "or run the replicator as root (fanotify).",
                        c->unwatched, first, limit, atomic_load(&c->watches), c->unwatched,
                        limit + 2 * c->unwatched);
        c->unwatched = 0;
}

static int add_watch_entry(void *userdata, const AgentWalkEntry *e) {
        AgentCapture *c = userdata;
        int wd;

        if (!S_ISDIR(e->st->st_mode))
                return 0;
        wd = inotify_add_watch(c->fd, e->abs, INOTIFY_MASK);
        if (wd < 0 && errno == ENOSPC) {
                /* Counted, and the walk goes on to count the rest. */
                if (c->unwatched++ == 0 && !(c->first_unwatched = strdup(e->abs)))
                        return -ENOMEM;
                return 0;
        }
        if (wd < 0) {
                if (errno != ENOENT && errno != ENOTDIR)
                        log_warning_errno(errno,
                                          "Cannot watch '%s' (%m); changes below it are found "
                                          "only by the hourly scan.",
                                          e->abs);
                return 1;
        }
        return wd_set(c, wd, e->abs) < 0 ? -ENOMEM : 0;
}

static void walk_error(void *userdata, const char *abs, int error) {
        log_debug_errno(error, "Cannot read '%s' to watch it: %m", abs);
}

/* Watches dir (a host path) and every directory below it; says what could not be watched. */
static int watch_tree(AgentCapture *c, const char *abs) {
        int r = agent_walk(abs, "x", c->excludes, c->n_excludes, add_watch_entry, walk_error, c);

        if (c->first_unwatched)
                say_watch_limit(c, c->first_unwatched);
        free(c->first_unwatched);
        c->first_unwatched = NULL;
        return r == -ENOENT || r == -ENOTDIR ? 0 : r;
}

static void inotify_handle(AgentCapture *c, const uint8_t *buf, size_t len) {
        int64_t now = yb_now_ns();

        for (size_t off = 0; off + sizeof(struct inotify_event) <= len;) {
                const struct inotify_event *ev = (const void *) (buf + off);
                const char *dir;
                _cleanup_free_ char *abs = NULL;

                off += sizeof(*ev) + ev->len;
                if (ev->mask & IN_Q_OVERFLOW) {
                        atomic_store(&c->overflow, true);
                        continue;
                }
                if (ev->wd < 0 || (size_t) ev->wd >= c->n_wd_paths || !c->wd_paths[ev->wd])
                        continue;
                dir = c->wd_paths[ev->wd];
                if (ev->mask & IN_IGNORED) {
                        free(c->wd_paths[ev->wd]);
                        c->wd_paths[ev->wd] = NULL;
                        c->watches--;
                        continue;
                }
                if (ev->len > 0 && ev->name[0]) {
                        if (asprintf(&abs, "%s/%s", dir, ev->name) < 0)
                                continue;
                } else if (!(abs = strdup(dir)))
                        continue;
                if ((ev->mask & IN_ISDIR) && (ev->mask & (IN_CREATE | IN_MOVED_TO))) {
                        (void) watch_tree(c, abs);
                        agent_capture_mark(c->sources, c->n_sources, c->excludes, c->n_excludes,
                                           c->dirty, abs, now, AGENT_DIRTY_RESCAN);
                } else
                        agent_capture_mark(c->sources, c->n_sources, c->excludes, c->n_excludes,
                                           c->dirty, abs, now, 0);
        }
}

static void *capture_thread(void *userdata) {
        AgentCapture *c = userdata;
        static _Alignas(8) uint8_t buf[256 * 1024];

        for (;;) {
                struct pollfd p[2] = { { c->fd, POLLIN, 0 }, { c->stop_fd, POLLIN, 0 } };
                ssize_t k;

                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                if (p[1].revents)
                        break;
                k = read(c->fd, buf, sizeof(buf));
                if (k < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        agent_out_error(c->out, "Change capture stopped: cannot read %s events: %s",
                                        c->fanotify ? "fanotify" : "inotify", strerror(errno));
                        atomic_store(&c->overflow, true);
                        break;
                }
                if (c->fanotify) {
                        bool overflow = false;

                        agent_fanotify_handle(buf, (size_t) k, c->mount_fds, c->sources,
                                              c->n_sources, c->excludes, c->n_excludes, c->dirty,
                                              &overflow);
                        if (overflow)
                                atomic_store(&c->overflow, true);
                } else
                        inotify_handle(c, buf, (size_t) k);
        }
        return NULL;
}

static int start_inotify(AgentCapture *c) {
        c->fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        if (c->fd < 0)
                return negative_errno();
        for (size_t i = 0; i < c->n_sources; i++) {
                struct stat st;
                _cleanup_free_ char *parent = NULL;
                int r;

                if (stat(c->sources[i].real, &st) < 0)
                        continue; /* the scan says it cannot be read */
                if (S_ISDIR(st.st_mode))
                        r = watch_tree(c, c->sources[i].real);
                else {
                        /* A file: its directory's events about it (others are filtered out). */
                        int wd;

                        parent = strdup(c->sources[i].real);
                        if (!parent)
                                return -ENOMEM;
                        *strrchr(parent, '/') = 0;
                        wd = inotify_add_watch(c->fd, *parent ? parent : "/", INOTIFY_MASK);
                        r = wd < 0 ? negative_errno() : wd_set(c, wd, parent);
                }
                if (r == -ENOMEM)
                        return r;
        }
        return 0;
}

static int start_fanotify(AgentCapture *c) {
        int fd = agent_fanotify_open(c->sources, c->n_sources);

        if (fd < 0)
                return fd;
        c->fd = fd;
        c->fanotify = true;
        c->mount_fds = new0(int, c->n_sources + 1);
        if (!c->mount_fds)
                return -ENOMEM;
        /* open_by_handle_at needs a real fd (not O_PATH) on the file system. */
        for (size_t i = 0; i < c->n_sources; i++) {
                _cleanup_free_ char *dir = strdup(c->sources[i].real);

                c->mount_fds[i] = open(c->sources[i].real, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (c->mount_fds[i] < 0 && dir && strrchr(dir, '/')) {
                        *strrchr(dir, '/') = 0;
                        c->mount_fds[i] =
                                open(*dir ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                }
        }
        return 0;
}

int agent_capture_start(AgentCaptureKind kind, const AgentSource *sources, size_t n,
                        char *const *excludes, size_t n_excludes, AgentDirty *dirty, AgentOut *out,
                        AgentCapture **ret) {
        _cleanup_(agent_capture_freep) AgentCapture *c = new0(AgentCapture, 1);
        int r = -EPERM;

        if (!c)
                return -ENOMEM;
        *c = (AgentCapture){ .fd = -EBADF,
                             .stop_fd = -EBADF,
                             .sources = sources,
                             .n_sources = n,
                             .excludes = excludes,
                             .n_excludes = n_excludes,
                             .dirty = dirty,
                             .out = out };
        c->stop_fd = eventfd(0, EFD_CLOEXEC);
        if (c->stop_fd < 0)
                return negative_errno();
        if (kind != AGENT_CAPTURE_INOTIFY) {
                r = start_fanotify(c);
                if (r < 0 && kind == AGENT_CAPTURE_FANOTIFY)
                        return log_error_errno(r,
                                               "Cannot capture changes with fanotify (%m)%s; "
                                               "use --capture inotify or auto.",
                                               r == -EPERM ? ": it needs root" : "");
                if (r < 0)
                        log_info("fanotify is not available (%s); capturing changes with "
                                 "inotify.",
                                 strerror(-r));
        }
        if (r < 0) {
                r = start_inotify(c);
                if (r < 0)
                        return log_error_errno(r, "Cannot capture changes with inotify: %m");
        }
        r = pthread_create(&c->thread, NULL, capture_thread, c);
        if (r != 0)
                return log_error_errno(-r, "Cannot start the capture thread: %m");
        c->running = true;
        *ret = TAKE_PTR(c);
        return 0;
}

AgentCapture *agent_capture_free(AgentCapture *c) {
        if (!c)
                return NULL;
        if (c->running) {
                uint64_t one = 1;

                if (write(c->stop_fd, &one, sizeof(one)) == sizeof(one))
                        pthread_join(c->thread, NULL);
        }
        safe_close(c->fd);
        safe_close(c->stop_fd);
        for (size_t i = 0; c->mount_fds && i < c->n_sources; i++)
                safe_close(c->mount_fds[i]);
        free(c->mount_fds);
        for (size_t i = 0; i < c->n_wd_paths; i++)
                free(c->wd_paths[i]);
        free(c->wd_paths);
        free(c->first_unwatched);
        free(c);
        return NULL;
}

const char *agent_capture_name(const AgentCapture *c) {
        return c->fanotify ? "fanotify" : "inotify";
}

size_t agent_capture_watches(const AgentCapture *c) {
        return c->fanotify ? c->n_sources : atomic_load(&c->watches);
}

bool agent_capture_take_overflow(AgentCapture *c) {
        return atomic_exchange(&c->overflow, false);
}
