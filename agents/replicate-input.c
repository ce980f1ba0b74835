/* The replicator's input: commands on standard input ({"cmd":"checkpoint"}, {"cmd":"stop"}, one
 * JSON object a line; its end means stop) and SIGTERM or SIGINT through a signalfd, polled by the
 * loop and by whatever waits (a root being made, a backoff). */
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/signalfd.h>

#include "agents/replicate.h"
#include "core/base/timeutil.h"

/* Handles one line of standard input. Returns why to stop, or NULL. */
static const char *command(AgentReplicator *rp, const char *line, bool *ret_checkpoint) {
        json_t *j = json_loads(line, 0, NULL);
        const char *cmd = json_string_value(json_object_get(j, "cmd"));
        const char *stop = NULL;

        if (cmd && streq(cmd, "checkpoint"))
                *ret_checkpoint = true;
        else if (cmd && streq(cmd, "stop"))
                stop = "stop command";
        else if (line[strspn(line, " \t\r")])
                agent_out_error(&rp->out,
                                "Unknown command on standard input: %.200s (send "
                                "{\"cmd\":\"checkpoint\"} or {\"cmd\":\"stop\"}).",
                                line);
        json_decref(j);
        return stop;
}

static const char *read_stdin(AgentReplicator *rp, bool *ret_checkpoint) {
        char buf[4096];
        ssize_t k = read(STDIN_FILENO, buf, sizeof(buf));
        const char *stop = NULL;
        char *nl;

        if (k < 0 && (errno == EAGAIN || errno == EINTR))
                return NULL;
        if (k <= 0)
                rp->in_eof = true;
        else if (yb_buf_append(&rp->in, buf, (size_t) k) < 0 || rp->in.size > 64 * 1024)
                yb_buf_clear(&rp->in); /* a line that long is no command */
        while (!stop && rp->in.size > 0 && (nl = memchr(rp->in.data, '\n', rp->in.size))) {
                size_t n = (size_t) (nl - (char *) rp->in.data);

                *nl = 0;
                stop = command(rp, (const char *) rp->in.data, ret_checkpoint);
                memmove(rp->in.data, nl + 1, rp->in.size - n - 1);
                rp->in.size -= n + 1;
        }
        if (!stop && rp->in_eof)
                stop = "standard input closed";
        return stop;
}

const char *agent_replicate_poll(AgentReplicator *rp, int extra_fd, int timeout_ms,
                                 bool *ret_checkpoint) {
        struct pollfd p[3] = { { rp->in_eof ? -1 : STDIN_FILENO, POLLIN, 0 },
                               { rp->sig_fd, POLLIN, 0 },
                               { extra_fd, POLLIN, 0 } };

        if (poll(p, 3, timeout_ms) <= 0)
                return NULL;
        if (p[1].revents) {
                struct signalfd_siginfo si;

                if (read(rp->sig_fd, &si, sizeof(si)) == sizeof(si))
                        return si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM";
        }
        if (p[0].revents)
                return read_stdin(rp, ret_checkpoint);
        return NULL;
}

/* Waits for usec (monotonic) while answering commands. Returns why to stop, or NULL. */
const char *agent_replicate_wait(AgentReplicator *rp, int64_t usec, bool *ret_checkpoint) {
        int64_t until = yb_monotonic_usec() + usec;

        for (int64_t now; (now = yb_monotonic_usec()) < until;) {
                const char *stop = agent_replicate_poll(rp, -1, yb_usec_to_ms_ceil(until - now),
                                                        ret_checkpoint);

                if (stop)
                        return stop;
        }
        return NULL;
}
