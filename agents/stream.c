/* Streams: a command's standard output (a database dump) stored as a file of the snapshot. A pax
 * entry needs its size up front, so the output is first spooled to disk, encrypted under a key
 * that exists only in this process's memory, then read back through the normal whole-file path:
 * the host's disk never holds a readable dump. */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <sys/statvfs.h>
#include <sys/wait.h>

#include "agents/agent.h"
#include "core/base/fileio.h"
#include "core/base/log.h"
#include "core/base/pipeline.h"
#include "core/base/spawn.h"
#include "core/base/timeutil.h"

#define SPOOL_CHUNK_DEFAULT (1024 * 1024)
#define SPOOL_CHUNK_MAX (64 * 1024 * 1024)
#define SPOOL_DEPTH 4
/* Free space is checked again after at most this much, and more often as it runs out. */
#define SPOOL_CHECK_MAX (64ULL * 1024 * 1024)
#define SPOOL_RESERVE_MAX (1ULL << 30)
#define LEN_BYTES 4
#define ABYTES crypto_secretstream_xchacha20poly1305_ABYTES
#define PIPE_READ_SIZE (1024 * 1024)
#define STDERR_LINE_MAX 1024

/* The file is a sequence of sealed chunks: a 4-byte little-endian plaintext length (at most the
 * chunk size), then the secretstream ciphertext of that many bytes with the length as associated
 * data. Every chunk but the last has tag 0; the last (often empty) has TAG_FINAL. The
 * secretstream header and the key stay in memory. */
struct AgentSpool {
        int fd;
        size_t chunk;
        uint8_t *key;                                    /* sodium_malloc()ed */
        crypto_secretstream_xchacha20poly1305_state *st; /* sodium_malloc()ed: holds key material */
        uint8_t header[crypto_secretstream_xchacha20poly1305_HEADERBYTES];
        YbPipeline *pipe;
        uint8_t *out; /* one sealed chunk */
        YbHash hash;
        uint64_t size; /* plaintext bytes sealed */
        uint64_t end;  /* file bytes written */
        uint64_t next_check, reserve;
        bool finished;
};

static int spool_check_space(AgentSpool *s) {
        struct statvfs v;
        uint64_t avail, room;

        if (fstatvfs(s->fd, &v) < 0)
                return 0; /* cannot tell: the writes will say */
        avail = (uint64_t) v.f_bavail * v.f_frsize;
        s->reserve = MIN(SPOOL_RESERVE_MAX, (uint64_t) v.f_blocks * v.f_frsize / 50);
        if (avail < s->reserve + LEN_BYTES + s->chunk + ABYTES)
                return -ENOSPC;
        /* Half the room left: the checks come closer together as the space runs out, so the
         * reserve is kept to within one chunk without a statvfs() per chunk. */
        room = (avail - s->reserve) / 2;
        s->next_check = s->end + MAX((uint64_t) s->chunk, MIN(SPOOL_CHECK_MAX, room));
        return 0;
}

static int spool_seal(AgentSpool *s, const void *data, size_t n, uint8_t tag) {
        size_t len = LEN_BYTES + n + ABYTES;
        int r;

        assert(n <= s->chunk);
        if (s->end + len > s->next_check) {
                r = spool_check_space(s);
                if (r < 0)
                        return r;
        }
        s->out[0] = (uint8_t) n;
        s->out[1] = (uint8_t) (n >> 8);
        s->out[2] = (uint8_t) (n >> 16);
        s->out[3] = (uint8_t) (n >> 24);
        crypto_secretstream_xchacha20poly1305_push(s->st, s->out + LEN_BYTES, NULL, data, n, s->out,
                                                   LEN_BYTES, tag);
        r = yb_write_all(s->fd, s->out, len);
        if (r == -EDQUOT)
                r = -ENOSPC;
        if (r < 0)
                return r;
        s->end += len;
        s->size += n;
        return 0;
}

/* Runs in the pipeline's thread, for each block of at most one chunk, in order. */
static int spool_block(void *userdata, const void *data, size_t n) {
        return spool_seal(userdata, data, n, 0);
}

AgentSpool *agent_spool_free(AgentSpool *s) {
        if (!s)
                return NULL;
        yb_pipeline_free(s->pipe); /* first: its thread uses the rest */
        sodium_free(s->key);
        sodium_free(s->st);
        free(s->out);
        safe_close(s->fd);
        free(s);
        return NULL;
}

/* An unnamed file in dir: O_TMPFILE (with O_EXCL, so it can never be linked into the tree), or
 * where the file system lacks it, a file that is unlinked as soon as it is made. */
static int spool_open(const char *dir) {
        _cleanup_free_ char *tmpl = NULL;
        int fd;

        fd = open(dir, O_TMPFILE | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
        if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
                return fd >= 0 ? fd : negative_errno();
        if (asprintf(&tmpl, "%s/.stream-spool-XXXXXX", dir) < 0)
                return -ENOMEM;
        fd = mkostemp(tmpl, O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        if (unlink(tmpl) < 0) {
                int r = negative_errno();

                safe_close(fd);
                return r;
        }
        return fd;
}

int agent_spool_new(const char *dir, size_t chunk, AgentSpool **ret) {
        _cleanup_(agent_spool_freep) AgentSpool *s = new0(AgentSpool, 1);
        int r;

        if (!s)
                return -ENOMEM;
        s->fd = -EBADF;
        s->chunk = chunk ? chunk : SPOOL_CHUNK_DEFAULT;
        if (s->chunk > SPOOL_CHUNK_MAX)
                return -EINVAL;
        s->fd = spool_open(dir);
        if (s->fd < 0)
                return s->fd;
        s->key = sodium_malloc(crypto_secretstream_xchacha20poly1305_KEYBYTES);
        s->st = sodium_malloc(sizeof(*s->st));
        s->out = malloc(LEN_BYTES + s->chunk + ABYTES);
        if (!s->key || !s->st || !s->out)
                return -ENOMEM;
        crypto_secretstream_xchacha20poly1305_keygen(s->key);
        if (crypto_secretstream_xchacha20poly1305_init_push(s->st, s->header, s->key) != 0)
                return -EIO;
        yb_hash_init(&s->hash);
        r = spool_check_space(s);
        if (r < 0)
                return r;
        r = yb_pipeline_new(spool_block, s, s->chunk, SPOOL_DEPTH, &s->pipe);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

int agent_spool_write(AgentSpool *s, const void *data, size_t n) {
        assert(!s->finished);
        /* Hashing here and sealing in the pipeline's thread keeps two cores busy. */
        yb_hash_update(&s->hash, data, n);
        return yb_pipeline_write(s->pipe, data, n);
}

int agent_spool_finish(AgentSpool *s, uint64_t *ret_size, uint8_t ret_hash[YB_HASH_SIZE]) {
        int r;

        assert(!s->finished);
        r = yb_pipeline_finish(s->pipe);
        s->pipe = yb_pipeline_free(s->pipe);
        if (r < 0)
                return r;
        r = spool_seal(s, NULL, 0, crypto_secretstream_xchacha20poly1305_TAG_FINAL);
        if (r < 0)
                return r;
        s->finished = true;
        *ret_size = s->size;
        yb_hash_final(&s->hash, ret_hash);
        return 0;
}

uint64_t agent_spool_reserve(const AgentSpool *s) {
        return s->reserve;
}

uint64_t agent_spool_disk_bytes(const AgentSpool *s) {
        return s->end;
}

static void sodium_freep(void *p) {
        sodium_free(*(void **) p);
}

int agent_spool_replay(AgentSpool *s, int (*fn)(void *userdata, const void *data, size_t n),
                       void *userdata) {
        __attribute__((cleanup(sodium_freep))) crypto_secretstream_xchacha20poly1305_state *st =
                NULL;
        _cleanup_free_ uint8_t *in = NULL, *plain = NULL;
        size_t cap = LEN_BYTES + s->chunk + ABYTES;
        uint64_t off = 0, total = 0;
        unsigned char tag = 0;
        int r = 0;

        assert(s->finished);
        st = sodium_malloc(sizeof(*st));
        in = malloc(cap);
        plain = malloc(s->chunk);
        if (!st || !in || !plain)
                return -ENOMEM;
        if (crypto_secretstream_xchacha20poly1305_init_pull(st, s->header, s->key) != 0)
                return -EBADMSG;
        (void) posix_fadvise(s->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
        while (tag != crypto_secretstream_xchacha20poly1305_TAG_FINAL) {
                unsigned long long got;
                uint32_t n;
                ssize_t k;

                if (off >= s->end) {
                        r = -EBADMSG; /* no final chunk */
                        break;
                }
                k = yb_pread_all(s->fd, in, (size_t) MIN((uint64_t) cap, s->end - off), off);
                if (k < 0) {
                        r = (int) k;
                        break;
                }
                n = (uint32_t) in[0] | (uint32_t) in[1] << 8 | (uint32_t) in[2] << 16 |
                    (uint32_t) in[3] << 24;
                if (k < LEN_BYTES || n > s->chunk || (size_t) k < LEN_BYTES + n + ABYTES ||
                    crypto_secretstream_xchacha20poly1305_pull(st, plain, &got, &tag,
                                                               in + LEN_BYTES, n + ABYTES, in,
                                                               LEN_BYTES) != 0 ||
                    got != n ||
                    (tag != 0 && tag != crypto_secretstream_xchacha20poly1305_TAG_FINAL)) {
                        r = -EBADMSG;
                        break;
                }
                off += LEN_BYTES + n + ABYTES;
                total += n;
                if (n > 0) {
                        r = fn(userdata, plain, n);
                        if (r < 0)
                                break;
                }
        }
        if (r >= 0 && (off != s->end || total != s->size))
                r = -EBADMSG;
        sodium_memzero(plain, s->chunk);
        return r;
}

void agent_stream_status_text(int status, char *buf, size_t size) {
        if (WIFEXITED(status)) {
                int c = WEXITSTATUS(status);

                if (c == 127)
                        snprintf(buf, size, "exited with status 127 (command not found)");
                else if (c == 126)
                        snprintf(buf, size, "exited with status 126 (command not executable)");
                else if (c > 128 && c < 128 + NSIG)
                        /* The shell's way of saying that a command it ran was killed. */
                        snprintf(buf, size,
                                 "exited with status %d (a command it ran was killed by signal "
                                 "%d, %s)",
                                 c, c - 128, strsignal(c - 128));
                else
                        snprintf(buf, size, "exited with status %d", c);
        } else if (WIFSIGNALED(status))
                snprintf(buf, size, "was killed by signal %d (%s)", WTERMSIG(status),
                         strsignal(WTERMSIG(status)));
        else
                snprintf(buf, size, "ended with wait status %d", status);
}

/* The command's standard error, line by line, to ours with the stream's name before each line.
 * Control characters other than tabs become '?'; a line longer than the buffer is cut into
 * pieces. The lines are also kept, joined by " | " with the whitespace around each trimmed, for
 * the failure's message: a tool such as pg_dump says what went wrong over several lines (the
 * error, a detail, a hint, and libpq indents a continuation with a tab), and its last line alone
 * is often just the hint. When they take more than the message holds, the oldest go. */
typedef struct Lines {
        const char *name;
        char buf[STDERR_LINE_MAX + 1];
        size_t n;
        char message[sizeof(((AgentStreamResult *) 0)->message)];
        size_t message_len;
        bool dropped; /* lines were dropped from the start of message */
} Lines;

static void message_add(Lines *l, const char *line, size_t n) {
        const size_t cap = sizeof(l->message) - 1 - strlen("... | ");
        size_t need;

        while (n > 0 && (*line == ' ' || *line == '\t')) {
                line++;
                n--;
        }
        while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t'))
                n--;
        if (n == 0)
                return;
        n = MIN(n, cap - 3); /* the start of a line says what it is */
        need = n + (l->message_len > 0 ? 3 : 0);
        while (l->message_len > 0 && l->message_len + need > cap) {
                /* Drop the oldest line and its separator. */
                char *sep = memmem(l->message, l->message_len, " | ", 3);
                size_t cut = sep ? (size_t) (sep - l->message) + 3 : l->message_len;

                memmove(l->message, l->message + cut, l->message_len - cut);
                l->message_len -= cut;
                l->dropped = true;
                need = n + (l->message_len > 0 ? 3 : 0);
        }
        if (l->message_len > 0) {
                memcpy(l->message + l->message_len, " | ", 3);
                l->message_len += 3;
        }
        for (size_t i = 0; i < n; i++) /* tabs inside a line: spaces, as a terminal shows them */
                l->message[l->message_len++] = line[i] == '\t' ? ' ' : line[i];
        l->message[l->message_len] = 0;
}

static void lines_emit(Lines *l) {
        while (l->n > 0 && l->buf[l->n - 1] == '\r')
                l->n--;
        l->buf[l->n] = 0;
        for (size_t i = 0; i < l->n; i++)
                if (((unsigned char) l->buf[i] < 0x20 && l->buf[i] != '\t') || l->buf[i] == 0x7f)
                        l->buf[i] = '?';
        if (l->n > 0) {
                log_notice("%s: %s", l->name, l->buf);
                message_add(l, l->buf, l->n);
        }
        l->n = 0;
}

static void lines_feed(Lines *l, const char *data, size_t n) {
        for (size_t i = 0; i < n; i++) {
                if (data[i] == '\n') {
                        lines_emit(l);
                        continue;
                }
                if (l->n == STDERR_LINE_MAX)
                        lines_emit(l);
                l->buf[l->n++] = data[i];
        }
}

/* While a stream's command runs, an agent that is told to stop (yunbakd's timeout, Ctrl-C) takes
 * the command's whole session with it: without this, the shell would go (PR_SET_PDEATHSIG) but
 * a pg_dump it started would live on, holding its locks, until its next write. */
static volatile sig_atomic_t running_pgid;
static const int stop_signals[] = { SIGTERM, SIGINT, SIGHUP };

static void stop_handler(int sig) {
        pid_t p = running_pgid;

        if (p > 0)
                (void) kill(-p, SIGTERM);
        (void) signal(sig, SIG_DFL);
        (void) raise(sig);
}

static void handlers_restore(struct sigaction (*old)[ELEMENTSOF(stop_signals)]) {
        running_pgid = 0;
        for (size_t i = 0; i < ELEMENTSOF(stop_signals); i++)
                (void) sigaction(stop_signals[i], &(*old)[i], NULL);
}

int agent_stream_run(const AgentStream *stream, AgentSpool *spool, AgentStreamResult *ret) {
        _cleanup_(yb_child_done) YbChild c = YB_CHILD_NULL;
        _cleanup_free_ uint8_t *buf = malloc(PIPE_READ_SIZE);
        struct sigaction stop = { .sa_handler = stop_handler };
        _cleanup_(handlers_restore) struct sigaction old[ELEMENTSOF(stop_signals)] = {};
        char *argv[] = { (char *) "sh", (char *) "-c", (char *) stream->command, NULL };
        /* A session of its own: no controlling terminal, so a dump cannot stop to ask for a
         * password on it, and the agent can stop the whole group, pg_dump too when it runs
         * under `timeout --foreground` (yunbakd's postgresql hook; timeout without it would move
         * pg_dump into a group of its own). The shell goes when the agent does. */
        YbSpawnArgs a = {
                .argv = argv,
                .program = "/bin/sh",
                .fd = { YB_SPAWN_NULL, YB_SPAWN_PIPE, YB_SPAWN_PIPE },
                .group = YB_SPAWN_SESSION_NEW,
                .parent_death_signal = SIGTERM,
                /* Known to the stop handler from the fork on: a stop that comes while yb_spawn
                 * waits for the exec still takes the whole session with it. */
                .announce_pid = &running_pgid,
        };
        AgentStreamResult res = { 0 };
        Lines lines = { .name = stream->name };
        struct pollfd p[2];
        int r, k;

        /* A signal that someone chose to ignore (nohup) stays ignored. */
        for (size_t i = 0; i < ELEMENTSOF(stop_signals); i++)
                if (sigaction(stop_signals[i], NULL, &old[i]) == 0 && old[i].sa_handler != SIG_IGN)
                        (void) sigaction(stop_signals[i], &stop, NULL);
        if (!buf)
                return -ENOMEM;
        res.started_ns = yb_now_ns();
        r = yb_spawn(&a, &c);
        if (r < 0)
                return r;
        assert(running_pgid == c.pid); /* its session's process group */
        /* A bigger pipe, fewer wake-ups; the default is kept if the limit says no. */
        (void) fcntl(c.fd[STDOUT_FILENO], F_SETPIPE_SZ, PIPE_READ_SIZE);
        p[0] = (struct pollfd){ .fd = c.fd[STDOUT_FILENO], .events = POLLIN };
        p[1] = (struct pollfd){ .fd = c.fd[STDERR_FILENO], .events = POLLIN };
        while (r >= 0 && (p[0].fd >= 0 || p[1].fd >= 0)) {
                ssize_t n;

                if (poll(p, 2, -1) < 0) {
                        if (errno != EINTR)
                                r = negative_errno();
                        continue;
                }
                if (p[0].revents) {
                        n = read(p[0].fd, buf, PIPE_READ_SIZE);
                        if (n < 0 && errno != EINTR && errno != EAGAIN)
                                r = negative_errno();
                        else if (n == 0)
                                p[0].fd = -1;
                        else if (n > 0)
                                r = agent_spool_write(spool, buf, (size_t) n);
                }
                if (p[1].revents && r >= 0) {
                        char eb[4096];

                        n = read(p[1].fd, eb, sizeof(eb));
                        if (n < 0 && errno != EINTR && errno != EAGAIN)
                                p[1].fd = -1; /* messages lost; the output still counts */
                        else if (n == 0)
                                p[1].fd = -1;
                        else if (n > 0)
                                lines_feed(&lines, eb, (size_t) n);
                }
        }
        lines_emit(&lines);
        if (r < 0) {
                /* The output cannot be kept: stop the command and everything it started. Closing
                 * our ends first makes anything still writing get SIGPIPE. No SIGKILL after a
                 * grace: what stops the agent (yunbakd's timeout, a cancel) bounds the wait. */
                c.fd[STDOUT_FILENO] = safe_close(c.fd[STDOUT_FILENO]);
                c.fd[STDERR_FILENO] = safe_close(c.fd[STDERR_FILENO]);
                (void) yb_child_kill(&c, SIGTERM);
        }
        /* The stop handler may signal the group until the child is reaped, and not a moment
         * after: once reaped, its number may be someone else's group. So wait for it to end
         * without reaping it (a zombie keeps its number), forget it, and only then reap it. */
        (void) yb_child_wait_ended(&c);
        running_pgid = 0;
        if (r < 0)
                k = yb_child_stop(&c, INT64_MAX, &res.status);
        else
                k = yb_child_wait(&c, &res.status);
        res.finished_ns = yb_now_ns();
        if (r < 0)
                return r;
        if (k < 0)
                return k;
        r = agent_spool_finish(spool, &res.size, res.hash);
        if (r < 0)
                return r;
        snprintf(res.message, sizeof(res.message), "%s%.*s", lines.dropped ? "... | " : "",
                 (int) lines.message_len, lines.message);
        *ret = res;
        return 0;
}
