/* restore/drill-pg-cluster.c: one throwaway PostgreSQL cluster of a restore drill
 * (drill-pg-internal.h). It listens on 127.0.0.1 at a free port and on a Unix socket in the
 * drill's own directory, nowhere else; its settings are the fewest that make a copy of a
 * production cluster safe to start beside it: small shared memory, no archiving, no
 * replication, no SSL, no hot standby (so that it accepts connections only once its recovery
 * has ended), its own pg_hba.conf; nothing the restored settings name out of the sandbox (a
 * data directory, a pid file, a library to preload, a command at the recovery's end). PostgreSQL
 * refuses to run as root: as root, its programs run as the cluster's user through setpriv, from the
 * drill's directory (PostgreSQL's programs look up the current directory first, which that user may
 * not reach). */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/base/buf.h"
#include "core/base/fileio.h"
#include "core/base/macro.h"
#include "core/base/timeutil.h"
#include "core/repo/pg.h"
#include "restore/drill-pg-internal.h"
#include "restore/pg-program.h"

#define PG_LIB "/usr/lib/postgresql"
#define PORT_TRIES 5
#define TAIL_MAX 1500
#define STOP_FAST_USEC (20 * YB_USEC_PER_SEC)
#define STOP_IMMEDIATE_USEC (5 * YB_USEC_PER_SEC)
#define POLL_MS 50

/* The drill's pg_hba.conf, in place of the cluster's own: the socket (in the drill's directory,
 * which only the cluster's user and root reach) without a password; 127.0.0.1 with the
 * restored roles' own passwords; nothing else. */
static const char hba[] = "# yunbak drill: the throwaway cluster's only rules\n"
                          "local all all trust\n"
                          "host all all 127.0.0.1/32 md5\n";

static int vstrdupf(char **ret, const char *fmt, ...) _printf_(2, 3);
static int vstrdupf(char **ret, const char *fmt, ...) {
        va_list ap;
        int k;

        va_start(ap, fmt);
        k = vasprintf(ret, fmt, ap);
        va_end(ap);
        if (k < 0) {
                *ret = NULL;
                return -ENOMEM;
        }
        return 0;
}

int restore_drill_pg_fail(char **ret_error, int r, const char *fmt, ...) {
        va_list ap;
        int k;

        free(*ret_error);
        va_start(ap, fmt);
        k = vasprintf(ret_error, fmt, ap);
        va_end(ap);
        if (k < 0) {
                *ret_error = NULL;
                return -ENOMEM;
        }
        return r;
}

static bool major_valid(const char *s) {
        return *s && strlen(s) < 8 && strspn(s, "0123456789") == strlen(s);
}

int restore_drill_pg_bindir(const char *major, const char *why, char **ret_bindir, char **ret_major,
                            char **ret_error) {
        _cleanup_free_ char *best = NULL, *path = NULL;
        long best_n = -1;
        DIR *d;
        struct dirent *e;

        if (major) {
                if (!major_valid(major))
                        return restore_drill_pg_fail(
                                ret_error, -EBADMSG,
                                "%s names PostgreSQL version '%s', which is not a version", why,
                                major);
                if (vstrdupf(&path, PG_LIB "/%s/bin", major) < 0)
                        return -ENOMEM;
                _cleanup_free_ char *postgres = NULL;
                if (vstrdupf(&postgres, "%s/postgres", path) < 0)
                        return -ENOMEM;
                if (access(postgres, X_OK) < 0) {
                        if (vstrdupf(ret_error,
                                     "%s is of PostgreSQL %s, and PostgreSQL %s's server is not "
                                     "installed here (no %s): install it (Debian: apt-get "
                                     "install postgresql-%s) and run the drill again",
                                     why, major, major, postgres, major) < 0)
                                return -ENOMEM;
                        return -ENOENT;
                }
                *ret_major = strdup(major);
                if (!*ret_major)
                        return -ENOMEM;
                *ret_bindir = TAKE_PTR(path);
                return 0;
        }
        d = opendir(PG_LIB);
        while (d && (e = readdir(d))) {
                _cleanup_free_ char *p = NULL;
                long n;

                if (!major_valid(e->d_name))
                        continue;
                n = strtol(e->d_name, NULL, 10);
                if (vstrdupf(&p, PG_LIB "/%s/bin/postgres", e->d_name) < 0) {
                        closedir(d);
                        return -ENOMEM;
                }
                if (n > best_n && access(p, X_OK) == 0) {
                        free(best);
                        best = strdup(e->d_name);
                        best_n = n;
                }
        }
        if (d)
                closedir(d);
        if (!best) {
                if (vstrdupf(ret_error,
                             "%s needs a PostgreSQL server, and none is installed here (no " PG_LIB
                             "/VERSION/bin/postgres): install one (Debian: apt-get "
                             "install postgresql) and run the drill again",
                             why) < 0)
                        return -ENOMEM;
                return -ENOENT;
        }
        if (vstrdupf(ret_bindir, PG_LIB "/%s/bin", best) < 0)
                return -ENOMEM;
        *ret_major = TAKE_PTR(best);
        return 0;
}

/* Whether uid:gid may search a directory of st. */
static bool can_search(const struct stat *st, uid_t uid, gid_t gid) {
        if (uid == 0)
                return true;
        if (st->st_uid == uid)
                return st->st_mode & S_IXUSR;
        if (st->st_gid == gid)
                return st->st_mode & S_IXGRP;
        return st->st_mode & S_IXOTH;
}

int restore_drill_pg_reach(const char *sandbox, const char *path, uid_t uid, gid_t gid,
                           char **ret_error) {
        _cleanup_free_ char *p = strdup(path);
        size_t sl = strlen(sandbox);

        if (!p)
                return -ENOMEM;
        for (char *slash = p; (slash = strchr(slash + 1, '/'));) {
                struct stat st;
                bool inside;

                *slash = 0;
                inside = strncmp(p, sandbox, sl) == 0 && (p[sl] == 0 || p[sl] == '/');
                if (stat(p, &st) < 0)
                        return -errno;
                if (!can_search(&st, uid, gid)) {
                        if (!inside) {
                                struct passwd *pw = getpwuid(uid);

                                if (vstrdupf(ret_error,
                                             "the user %s, which the drill's PostgreSQL runs "
                                             "as, cannot reach %s: the directory %s above the "
                                             "sandbox lets it not through (mode %04o); give "
                                             "--sandbox a directory it can reach (as under "
                                             "/var/tmp)",
                                             pw ? pw->pw_name : "?", path, p,
                                             (unsigned) (st.st_mode & 07777)) < 0)
                                        return -ENOMEM;
                                return -EACCES;
                        }
                        if (chmod(p, (st.st_mode & 07777) | S_IXOTH) < 0)
                                return -errno;
                }
                *slash = '/';
        }
        return 0;
}

/* The start of argv that runs c's program name as c's user from c->dir. */
typedef struct Head {
        char prog[PATH_MAX], reuid[32], regid[32];
} Head;

static size_t head(const DrillCluster *c, const char *name, Head *h, const char **argv) {
        size_t n = 0;

        snprintf(h->prog, sizeof(h->prog), "%s/%s", c->bindir, name);
        snprintf(h->reuid, sizeof(h->reuid), "--reuid=%u", (unsigned) c->uid);
        snprintf(h->regid, sizeof(h->regid), "--regid=%u", (unsigned) c->gid);
        if (c->switch_user) {
                argv[n++] = "setpriv";
                argv[n++] = h->reuid;
                argv[n++] = h->regid;
                argv[n++] = "--clear-groups";
                argv[n++] = "--";
        }
        argv[n++] = "/bin/sh";
        argv[n++] = "-c";
        argv[n++] = "cd \"$0\" && exec \"$@\"";
        argv[n++] = c->dir;
        argv[n++] = h->prog;
        return n;
}

int restore_drill_pg_program(const DrillCluster *c, const char *name, const char *const *args,
                             int out_fd, int err_fd, char *const *env, int64_t timeout_usec,
                             int *ret_status, bool *ret_timed_out) {
        Head h;
        const char *argv[64];
        size_t n = head(c, name, &h, argv);

        for (size_t i = 0; args[i]; i++) {
                if (n + 1 >= ELEMENTSOF(argv))
                        return -E2BIG;
                argv[n++] = args[i];
        }
        argv[n] = NULL;
        YbPgRun a = { .argv = argv,
                      .env = env,
                      .out_fd = out_fd,
                      .err_fd = err_fd,
                      .stop = c->stop,
                      .timeout_usec = timeout_usec };
        return yb_pg_run(&a, ret_status, ret_timed_out);
}

char *restore_drill_pg_tail(const char *file) {
        _cleanup_close_ int fd = open(file, O_RDONLY | O_CLOEXEC);
        char buf[TAIL_MAX + 1];
        struct stat st;
        ssize_t k;
        off_t off;
        char *s;

        if (fd < 0 || fstat(fd, &st) < 0)
                return strdup("(no log)");
        off = st.st_size > TAIL_MAX ? st.st_size - TAIL_MAX : 0;
        k = yb_pread_all(fd, buf, TAIL_MAX, (uint64_t) off);
        if (k < 0)
                return strdup("(the log cannot be read)");
        while (k > 0 && (buf[k - 1] == '\n' || buf[k - 1] == '\r'))
                k--;
        buf[k] = 0;
        s = buf;
        if (off > 0 && strchr(s, '\n'))
                s = strchr(s, '\n') + 1; /* from a whole line */
        return strdup(k > 0 ? s : "(empty)");
}

char *restore_drill_pg_conninfo(const DrillCluster *c, const char *database) {
        YbBuf b = YB_BUF_INIT;
        char port[16];
        int r;

        snprintf(port, sizeof(port), "%d", c->port);
        r = yb_pg_conninfo_append(&b, "host", c->dir);
        if (r >= 0)
                r = yb_pg_conninfo_append(&b, "port", port);
        if (r >= 0)
                r = yb_pg_conninfo_append(&b, "user", c->user);
        if (r >= 0)
                r = yb_pg_conninfo_append(&b, "dbname", database);
        if (r >= 0)
                r = yb_buf_append(&b, "", 1);
        if (r < 0) {
                yb_buf_done(&b);
                return NULL;
        }
        return (char *) b.data;
}

/* A port of 127.0.0.1 that nothing listens on now (the kernel's pick), or -errno. */
static int free_port(void) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(a);
        _cleanup_close_ int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0 || bind(fd, (struct sockaddr *) &a, sizeof(a)) < 0 ||
            getsockname(fd, (struct sockaddr *) &a, &len) < 0)
                return -errno;
        return ntohs(a.sin_port);
}

/* The status line of datadir/postmaster.pid (its 8th line: "starting", "ready", "standby",
 * "stopping"), or "" while there is none. */
static void pm_status(const char *datadir, char ret[16]) {
        _cleanup_free_ char *path = NULL;
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;
        const char *s;
        int line = 1;

        ret[0] = 0;
        if (vstrdupf(&path, "%s/postmaster.pid", datadir) < 0 ||
            yb_read_file_at(AT_FDCWD, path, 64 * 1024, &b) < 0 || !b.data)
                return;
        (void) yb_buf_append(&b, "", 1);
        for (s = (const char *) b.data; *s && line < 8; s++)
                line += *s == '\n';
        if (line == 8)
                snprintf(ret, 16, "%.*s", (int) strcspn(s, " \n"), s);
}

/* Writes text into dir/name for the cluster to read. */
static int write_conf(const DrillCluster *c, const char *name, const char *text) {
        _cleanup_free_ char *path = NULL;

        if (vstrdupf(&path, "%s/%s", c->dir, name) < 0)
                return -ENOMEM;
        return yb_write_file_atomic_at(AT_FDCWD, path, text, strlen(text), 0644);
}

/* Waits a moment, or less if the postmaster ends meanwhile. */
static void tick(const DrillCluster *c) {
        struct pollfd p = { .fd = c->child.pidfd, .events = POLLIN };

        (void) poll(c->child.pidfd >= 0 ? &p : NULL, c->child.pidfd >= 0, POLL_MS);
}

/* One try on one port: starts the postmaster and waits. 1: ready; 0: the port was taken
 * meanwhile (try another); -errno with *ret_error. */
static int start_once(DrillCluster *c, int64_t deadline, char **ret_error) {
        _cleanup_free_ char *port = NULL, *sock = NULL, *hba_file = NULL, *ident_file = NULL,
                            *data = NULL, *pidfile = NULL, *config = NULL, *tail = NULL;
        Head h;
        _cleanup_close_ int fd = -EBADF;
        char status[16];
        const char *argv[96];
        size_t n = 0;
        int r;

        r = free_port();
        if (r < 0)
                return restore_drill_pg_fail(ret_error, r, "no free port of 127.0.0.1 for %s: %s",
                                             c->label, strerror(-r));
        c->port = r;
        if (vstrdupf(&port, "port=%d", c->port) < 0 ||
            vstrdupf(&sock, "unix_socket_directories=%s", c->dir) < 0 ||
            vstrdupf(&hba_file, "hba_file=%s/pg_hba.conf", c->dir) < 0 ||
            vstrdupf(&ident_file, "ident_file=%s/pg_ident.conf", c->dir) < 0 ||
            vstrdupf(&data, "data_directory=%s", c->datadir) < 0 ||
            vstrdupf(&pidfile, "external_pid_file=%s/postmaster.pid", c->dir) < 0 ||
            (c->config_file && vstrdupf(&config, "config_file=%s", c->config_file) < 0))
                return -ENOMEM;
        fd = open(c->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK,
                  0644);
        if (fd < 0)
                return restore_drill_pg_fail(ret_error, -EIO, "cannot create the log %s of %s: %s",
                                             c->log, c->label, strerror(errno));
        n = head(c, "postgres", &h, argv);
        argv[n++] = "-D";
        argv[n++] = c->datadir;
        static const char *const settings[] = {
                "listen_addresses=127.0.0.1",
                "unix_socket_permissions=0700",
                "shared_buffers=16MB",
                "max_connections=20",
                "huge_pages=off",
                "archive_mode=off",
                "archive_command=",
                "primary_conninfo=",
                "primary_slot_name=",
                "max_wal_senders=0",
                "hot_standby=off",
                "ssl=off",
                "logging_collector=off",
                "log_destination=stderr",
                "fsync=off",
                "synchronous_commit=off",
                "synchronous_standby_names=",
                "cluster_name=yunbak-drill",
                /* What the restored settings could point out of the sandbox: given here, on
                 * the command line, they win over postgresql.conf, postgresql.auto.conf and
                 * what they include. A library named by a path is loaded and run. (Below:
                 * the data directory, and the pid file in the drill's directory.) */
                "shared_preload_libraries=",
                "session_preload_libraries=",
                "local_preload_libraries=",
                "dynamic_library_path=$libdir",
                "jit=off",
                "jit_provider=llvmjit",
                "recovery_end_command=",
                "archive_cleanup_command=",
        };
        const char *own[] = { port, sock, hba_file, ident_file, data, pidfile, config };
        for (size_t i = 0; i < ELEMENTSOF(settings); i++) {
                argv[n++] = "-c";
                argv[n++] = settings[i];
        }
        for (size_t i = 0; i < ELEMENTSOF(own) && own[i]; i++) {
                argv[n++] = "-c";
                argv[n++] = own[i];
        }
        argv[n] = NULL;
        assert(n < ELEMENTSOF(argv));

        YbSpawnArgs a = { .argv = (char *const *) argv,
                          .fd = { YB_SPAWN_NULL, fd, fd },
                          .group = YB_SPAWN_SESSION_NEW,
                          .pidfd = true };
        r = yb_spawn(&a, &c->child);
        if (r < 0)
                return restore_drill_pg_fail(ret_error, r, "cannot start %s: %s", c->label,
                                             strerror(-r));
        for (;;) {
                int64_t now = yb_monotonic_usec();

                pm_status(c->datadir, status);
                if (streq(status, "ready"))
                        return 1;
                r = yb_child_ended(&c->child);
                if (r != 0) {
                        int st = 0;
                        char how[64];

                        (void) yb_child_wait(&c->child, &st);
                        yb_child_done(&c->child);
                        tail = restore_drill_pg_tail(c->log);
                        if (tail && (strstr(tail, "could not bind IPv4 address") ||
                                     strstr(tail, "could not create any TCP/IP sockets") ||
                                     strstr(tail, "could not create lock file \"/") ||
                                     strstr(tail, "Address already in use")))
                                return 0;
                        return restore_drill_pg_fail(
                                ret_error, -EIO,
                                "%s (PostgreSQL %s, data directory %s) did not start: "
                                "postgres %s and said: %s (its log: %s)",
                                c->label, c->major, c->datadir, yb_pg_status_text(st, how),
                                tail ? tail : "?", c->log);
                }
                if (c->stop && *c->stop)
                        return restore_drill_pg_fail(
                                ret_error, -EINTR,
                                "%s (data directory %s) was stopped before it accepted "
                                "connections: the drill was interrupted (its log: %s)",
                                c->label, c->datadir, c->log);
                if (now >= deadline) {
                        char t[32];

                        snprintf(t, sizeof(t), "%llds",
                                 (long long) (c->timeout_usec / YB_USEC_PER_SEC));
                        tail = restore_drill_pg_tail(c->log);
                        return restore_drill_pg_fail(
                                ret_error, -ETIMEDOUT,
                                "%s (data directory %s) did not accept connections with "
                                "its recovery ended within drill.timeout (%s); its log "
                                "ends: %s (the whole log: %s)",
                                c->label, c->datadir, t, tail ? tail : "?", c->log);
                }
                tick(c);
        }
}

int restore_drill_pg_cluster_start(DrillCluster *c, int64_t deadline, char **ret_error) {
        struct sockaddr_un un;
        int r;

        if (strlen(c->dir) + strlen("/.s.PGSQL.65535") >= sizeof(un.sun_path))
                return restore_drill_pg_fail(
                        ret_error, -ENAMETOOLONG,
                        "the drill's directory %s is too long a path for a Unix socket "
                        "(at most %zu bytes with the socket's name): give --sandbox a "
                        "shorter path",
                        c->dir, sizeof(un.sun_path) - strlen("/.s.PGSQL.65535") - 1);
        r = write_conf(c, "pg_hba.conf", hba);
        if (r >= 0)
                r = write_conf(c, "pg_ident.conf", "# yunbak drill: no user name maps\n");
        if (r < 0)
                return restore_drill_pg_fail(ret_error, r,
                                             "cannot write the settings of %s in %s: %s", c->label,
                                             c->dir, strerror(-r));
        for (int i = 0; i < PORT_TRIES; i++) {
                r = start_once(c, deadline, ret_error);
                if (r != 0)
                        return r < 0 ? r : 0;
        }
        return restore_drill_pg_fail(
                ret_error, -EADDRINUSE,
                "%s did not start: each of %d free ports of 127.0.0.1 was taken before "
                "it could listen there (its log: %s)",
                c->label, PORT_TRIES, c->log);
}

/* Waits up to usec for the postmaster to end. Whether it ended. */
static bool ended_within(DrillCluster *c, int64_t usec) {
        int64_t deadline = yb_monotonic_usec() + usec;

        for (;;) {
                if (yb_child_ended(&c->child) != 0)
                        return true;
                if (yb_monotonic_usec() >= deadline)
                        return false;
                tick(c);
        }
}

void restore_drill_pg_cluster_stop(DrillCluster *c) {
        if (c->child.pid <= 0)
                return;
        /* SIGINT: fast shutdown; SIGQUIT: immediate; then every process of its session. */
        (void) kill(c->child.pid, SIGINT);
        if (!ended_within(c, STOP_FAST_USEC)) {
                (void) kill(c->child.pid, SIGQUIT);
                if (!ended_within(c, STOP_IMMEDIATE_USEC))
                        (void) yb_child_kill(&c->child, SIGKILL);
        }
        /* Its backends, and a restore_command its startup process left when it exited, may
         * outlive the postmaster: they are of its session, which is killed and waited for
         * until none of it is alive. */
        (void) yb_child_stop(&c->child, 0, NULL);
        yb_child_done(&c->child);
}

void restore_drill_pg_cluster_done(DrillCluster *c) {
        restore_drill_pg_cluster_stop(c);
        free(c->hook);
        free(c->label);
        free(c->datadir);
        free(c->bindir);
        free(c->major);
        free(c->dir);
        free(c->log);
        free(c->config_file);
        free(c->user);
        *c = (DrillCluster){ .child = YB_CHILD_NULL };
}
