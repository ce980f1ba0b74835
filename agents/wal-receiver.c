/* pg_receivewal, PostgreSQL's own WAL client, as the replicator's child: one per hook, on the
 * hook's physical replication slot, writing into the hook's spool and flushing every write
 * (--synchronous, so that the slot's restart_lsn says what is on disk). It is chosen from PATH,
 * else from the newest /usr/lib/postgresql/<N>/bin, with a major version at least the server's
 * (an older one cannot read a newer server's stream). When it ends (the server restarted, the
 * network failed, someone killed it) it is restarted with backoff, and its last lines say why. */
#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agents/agent.h"
#include "agents/replicate-wal.h"
#include "core/base/log.h"
#include "core/base/timeutil.h"

#define BACKOFF_MIN_USEC YB_USEC_PER_SEC
#define BACKOFF_MAX_USEC (30 * YB_USEC_PER_SEC)
#define STABLE_USEC YB_USEC_PER_MINUTE
#define COMMAND_TIMEOUT_USEC (60 * YB_USEC_PER_SEC)
#define LINE_MAX_BYTES 4096

void agent_wal_slot_name(const char *system, const char *hook, char ret[64]) {
        char s[160];
        size_t i;

        snprintf(s, sizeof(s), "yunbak_%s_%s", system, hook);
        for (i = 0; s[i] && i < 63; i++) {
                char c = s[i];

                if (c >= 'A' && c <= 'Z')
                        c = (char) (c - 'A' + 'a');
                else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
                        c = '_';
                ret[i] = c;
        }
        ret[i] = 0;
}

void agent_wal_receiver_init(AgentWalReceiver *r, const char *hook, const char *conninfo,
                             const char *slot, const char *spool) {
        *r = (AgentWalReceiver){ .hook = hook,
                                 .conninfo = conninfo,
                                 .slot = slot,
                                 .spool = spool,
                                 .child = YB_CHILD_NULL,
                                 .backoff_usec = BACKOFF_MIN_USEC,
                                 .err = YB_BUF_INIT };
}

void agent_wal_receiver_stop(AgentWalReceiver *r) {
        if (r->child.pid > 0)
                (void) yb_child_stop(&r->child, 10 * YB_NSEC_PER_SEC, NULL);
        yb_child_done(&r->child);
        yb_buf_clear(&r->err);
}

void agent_wal_receiver_done(AgentWalReceiver *r) {
        agent_wal_receiver_stop(r);
        yb_buf_done(&r->err);
        free(r->program);
        r->program = NULL;
}

/* Adds a line of its standard error to the tail, the oldest lines going when it is full. */
static void tail_add(AgentWalReceiver *r, const char *line, size_t n) {
        size_t cap = sizeof(r->tail) - 1, len = strlen(r->tail);

        while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\r'))
                n--;
        if (n == 0)
                return;
        n = MIN(n, cap / 2);
        while (len > 0 && len + n + 3 > cap) {
                char *sep = strstr(r->tail, " | ");
                size_t cut = sep ? (size_t) (sep - r->tail) + 3 : len;

                memmove(r->tail, r->tail + cut, len - cut + 1);
                len -= cut;
        }
        if (len > 0) {
                memcpy(r->tail + len, " | ", 3);
                len += 3;
        }
        for (size_t i = 0; i < n; i++)
                r->tail[len++] = line[i] == '\t' || (unsigned char) line[i] < 0x20 ? ' ' : line[i];
        r->tail[len] = 0;
}

/* Reads what fd has (non-blocking), logging and keeping each whole line. */
static void drain(AgentWalReceiver *r, int fd, bool at_end) {
        char buf[4096];
        ssize_t k;

        while (fd >= 0 && (k = read(fd, buf, sizeof(buf))) > 0)
                if (yb_buf_append(&r->err, buf, (size_t) k) < 0)
                        break;
        while (r->err.size > 0) {
                char *nl = memchr(r->err.data, '\n', r->err.size);
                size_t n = nl ? (size_t) (nl - (char *) r->err.data) : r->err.size;

                if (!nl && !(at_end || r->err.size > LINE_MAX_BYTES))
                        break;
                if (n == 0 && !nl)
                        break;
                log_notice("pg_receivewal of hook '%s': %.*s", r->hook, (int) n,
                           (const char *) r->err.data);
                tail_add(r, (const char *) r->err.data, n);
                n += nl ? 1 : 0;
                memmove(r->err.data, r->err.data + n, r->err.size - n);
                r->err.size -= n;
        }
}

/* Runs argv (program) to its end, at most COMMAND_TIMEOUT_USEC, with its standard output into
 * out (if non-NULL) and its standard error into r's tail. 0 and its status, or -errno. */
static int run_command(AgentWalReceiver *r, const char *program, char **argv, YbBuf *out,
                       int *ret_status) {
        _cleanup_(yb_child_done) YbChild c = YB_CHILD_NULL;
        YbSpawnArgs sa = { .argv = argv,
                           .program = program,
                           .fd = { YB_SPAWN_NULL, out ? YB_SPAWN_PIPE : YB_SPAWN_NULL,
                                   YB_SPAWN_PIPE },
                           .group = YB_SPAWN_GROUP_NEW };
        int64_t deadline = yb_monotonic_usec() + COMMAND_TIMEOUT_USEC;
        int k;

        r->tail[0] = 0;
        k = yb_spawn(&sa, &c);
        if (k < 0)
                return k;
        while (c.fd[1] >= 0 || c.fd[2] >= 0) {
                struct pollfd p[2] = { { c.fd[1], POLLIN, 0 }, { c.fd[2], POLLIN, 0 } };
                int64_t left = deadline - yb_monotonic_usec();
                char buf[4096];
                ssize_t n;

                if (left <= 0) {
                        (void) yb_child_stop(&c, 0, NULL);
                        return -ETIMEDOUT;
                }
                (void) poll(p, 2, yb_usec_to_ms_ceil(left));
                if (p[0].revents) {
                        n = read(c.fd[1], buf, sizeof(buf));
                        if (n > 0 && yb_buf_append(out, buf, (size_t) n) < 0)
                                return -ENOMEM;
                        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
                                c.fd[1] = safe_close(c.fd[1]);
                }
                if (p[1].revents) {
                        n = read(c.fd[2], buf, sizeof(buf));
                        if (n > 0 && yb_buf_append(&r->err, buf, (size_t) n) < 0)
                                return -ENOMEM;
                        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
                                c.fd[2] = safe_close(c.fd[2]);
                }
                drain(r, -EBADF, false);
        }
        drain(r, -EBADF, true);
        return yb_child_wait(&c, ret_status);
}

/* The major version of program ("pg_receivewal (PostgreSQL) 15.18 ..."), or -errno. */
static int program_major(AgentWalReceiver *r, const char *program) {
        char *argv[] = { (char *) "pg_receivewal", (char *) "--version", NULL };
        YbBuf out = YB_BUF_INIT;
        const char *p;
        int status = 0, k, major = -ENOEXEC;

        k = run_command(r, program, argv, &out, &status);
        if (k >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
            yb_buf_append_u8(&out, 0) >= 0 &&
            (p = strstr((const char *) out.data, "(PostgreSQL) ")))
                major = atoi(p + strlen("(PostgreSQL) "));
        yb_buf_done(&out);
        if (k < 0)
                return k;
        return major > 0 ? major : -ENOEXEC;
}

/* The newest /usr/lib/postgresql/<N>/bin/pg_receivewal, or NULL. */
static char *newest_installed(void) {
        DIR *d = opendir("/usr/lib/postgresql");
        struct dirent *de;
        char *best = NULL;
        long best_v = -1;

        if (!d)
                return NULL;
        while ((de = readdir(d))) {
                char *end, *path = NULL;
                long v = strtol(de->d_name, &end, 10);

                if (end == de->d_name || *end || v <= best_v)
                        continue;
                if (asprintf(&path, "/usr/lib/postgresql/%s/bin/pg_receivewal", de->d_name) < 0)
                        continue;
                if (access(path, X_OK) == 0) {
                        free(best);
                        best = path;
                        best_v = v;
                } else
                        free(path);
        }
        closedir(d);
        return best;
}

int agent_wal_receiver_find(AgentWalReceiver *r, int server_major, char **ret_error) {
        char *candidates[2] = { strdup("pg_receivewal"), newest_installed() };
        int found[2] = { -ENOENT, -ENOENT };
        int k = -ENOENT;

        for (size_t i = 0; i < 2; i++) {
                if (!candidates[i])
                        continue;
                found[i] = program_major(r, candidates[i]);
                if (found[i] >= server_major) {
                        free(r->program);
                        r->program = TAKE_PTR(candidates[i]);
                        r->major = found[i];
                        k = 0;
                        break;
                }
        }
        if (k < 0) {
                if (found[0] < 0 && found[1] < 0) {
                        if (asprintf(ret_error,
                                     "pg_receivewal is not installed (neither on PATH nor in "
                                     "/usr/lib/postgresql/*/bin): install PostgreSQL %d's client "
                                     "programs (Debian: postgresql-client-%d)",
                                     server_major, server_major) < 0)
                                *ret_error = NULL;
                        k = -ENOENT;
                } else {
                        if (asprintf(ret_error,
                                     "pg_receivewal is version %d, older than the server's %d: "
                                     "install PostgreSQL %d's client programs (Debian: "
                                     "postgresql-client-%d)",
                                     MAX(found[0], found[1]), server_major, server_major,
                                     server_major) < 0)
                                *ret_error = NULL;
                        k = -EPROTONOSUPPORT;
                }
        }
        free(candidates[0]);
        free(candidates[1]);
        return k;
}

int agent_wal_receiver_slot(AgentWalReceiver *r, bool drop, char **ret_error) {
        char *argv[] = { (char *) "pg_receivewal",
                         (char *) (drop ? "--drop-slot" : "--create-slot"),
                         (char *) "--slot",
                         (char *) r->slot,
                         (char *) "--no-password",
                         (char *) "--dbname",
                         (char *) r->conninfo,
                         drop ? NULL : (char *) "--if-not-exists",
                         NULL };
        char how[128];
        int status = 0, k;

        k = run_command(r, r->program, argv, NULL, &status);
        if (k < 0) {
                if (asprintf(ret_error, "cannot run '%s': %s", r->program, strerror(-k)) < 0)
                        *ret_error = NULL;
                return k;
        }
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return 0;
        agent_stream_status_text(status, how, sizeof(how));
        if (asprintf(ret_error, "'pg_receivewal %s --slot %s' %s (it said: \"%s\")",
                     drop ? "--drop-slot" : "--create-slot --if-not-exists", r->slot, how,
                     r->tail) < 0)
                *ret_error = NULL;
        return -EIO;
}

int agent_wal_receiver_run(AgentWalReceiver *r, char **ret_error) {
        char *argv[] = { (char *) "pg_receivewal",
                         (char *) "--directory",
                         (char *) r->spool,
                         (char *) "--slot",
                         (char *) r->slot,
                         (char *) "--synchronous",
                         (char *) "--no-loop",
                         (char *) "--no-password",
                         (char *) "--dbname",
                         (char *) r->conninfo,
                         NULL };
        YbSpawnArgs sa = { .argv = argv,
                           .program = r->program,
                           .fd = { YB_SPAWN_NULL, YB_SPAWN_NULL, YB_SPAWN_PIPE },
                           .group = YB_SPAWN_GROUP_NEW,
                           /* A replicator killed takes its receivers with it: the next one
                            * starts its own on the same slot. */
                           .parent_death_signal = SIGTERM };
        int k;

        if (r->child.pid > 0 || yb_monotonic_usec() < r->restart_at_usec)
                return 0;
        r->tail[0] = 0;
        yb_buf_clear(&r->err);
        k = yb_spawn(&sa, &r->child);
        if (k < 0) {
                r->restart_at_usec = yb_monotonic_usec() + r->backoff_usec;
                r->backoff_usec = MIN(2 * r->backoff_usec, BACKOFF_MAX_USEC);
                if (asprintf(ret_error, "cannot start '%s': %s", r->program, strerror(-k)) < 0)
                        *ret_error = NULL;
                return k;
        }
        r->started_usec = yb_monotonic_usec();
        log_info("pg_receivewal of hook '%s' started (pid %d) on slot '%s' into '%s'.", r->hook,
                 (int) r->child.pid, r->slot, r->spool);
        return 0;
}

int agent_wal_receiver_check(AgentWalReceiver *r, char **ret_error) {
        int64_t now = yb_monotonic_usec();
        char how[128];
        int status = 0, k;

        if (r->child.pid <= 0)
                return 0;
        drain(r, r->child.fd[2], false);
        k = yb_child_ended(&r->child);
        if (k == 0)
                return 0;
        drain(r, r->child.fd[2], true);
        (void) yb_child_wait(&r->child, &status);
        yb_child_done(&r->child);
        if (now - r->started_usec >= STABLE_USEC)
                r->backoff_usec = BACKOFF_MIN_USEC;
        r->restart_at_usec = now + r->backoff_usec;
        agent_stream_status_text(status, how, sizeof(how));
        if (asprintf(ret_error, "pg_receivewal %s%s%s%s; it is restarted in %lld s", how,
                     r->tail[0] ? " (it said: \"" : "", r->tail, r->tail[0] ? "\")" : "",
                     (long long) (r->backoff_usec / YB_USEC_PER_SEC)) < 0)
                *ret_error = NULL;
        r->backoff_usec = MIN(2 * r->backoff_usec, BACKOFF_MAX_USEC);
        return 1;
}

int64_t agent_wal_receiver_restart_in_usec(const AgentWalReceiver *r) {
        int64_t left = r->restart_at_usec - yb_monotonic_usec();

        return r->child.pid > 0 || left < 0 ? 0 : left;
}
