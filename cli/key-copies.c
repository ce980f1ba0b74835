/* yunbak key register|copy|list|attest-destroyed, and what key init and key destroy share with
 * them (key-copies.h): every copy of a system's private key is registered with yunbakd, so that
 * a decommission destroys them all (docs/decommission.md, "Key copies"). A file copy is named by
 * this host's name and the file's absolute path; an offline copy (paper, removable media) by a
 * note. */
#include "cli/key-copies.h"

#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <pwd.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/output.h"
#include "core/base/buf.h"
#include "core/base/exitcode.h"
#include "core/base/fileio.h"
#include "core/base/log.h"

/* The largest key file read: they are well under 1 KiB. */
#define KEY_FILE_MAX (64 * 1024)

const char *cli_key_file_kind(mode_t mode) {
        return S_ISDIR(mode)    ? "directory"
               : S_ISFIFO(mode) ? "FIFO (named pipe)"
               : S_ISSOCK(mode) ? "socket"
               : S_ISCHR(mode)  ? "character device"
               : S_ISBLK(mode)  ? "block device"
               : S_ISLNK(mode)  ? "symbolic link"
               : S_ISREG(mode)  ? "regular file"
                                : "special file";
}

int cli_key_read(int dir_fd, const char *name, const char *path, int flags, const char *cmd,
                 YbBuf *b, struct stat *ret_st, int *ret_fd) {
        _cleanup_close_ int fd = -EBADF;
        uint8_t tmp[4096];
        struct stat st;
        int r;

        /* O_NONBLOCK: a FIFO put where a key file was expected does not hang the command. */
        fd = openat(dir_fd, name, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC | flags);
        if (fd < 0) {
                r = errno;
                if (r == ELOOP && (flags & O_NOFOLLOW))
                        log_error("'%s' is a symbolic link: give the key file itself; %s never "
                                  "follows a link, which could name another file.",
                                  path, cmd);
                else
                        log_error("Cannot open '%s': %s", path, strerror(r));
                return r == ELOOP ? YB_EXIT_USAGE : YB_EXIT_FAILED;
        }
        if (fstat(fd, &st) < 0) {
                log_error("Cannot examine '%s': %s", path, strerror(errno));
                return YB_EXIT_FAILED;
        }
        if (!S_ISREG(st.st_mode)) {
                log_error("'%s' is a %s, not a key file: %s takes a key file. Nothing was done.",
                          path, cli_key_file_kind(st.st_mode), cmd);
                return YB_EXIT_USAGE;
        }
        if (st.st_size > KEY_FILE_MAX) {
                log_error("'%s' is %" PRIu64 " bytes: not a yunbak key file (those are under 1 "
                          "KiB); %s takes a key file. Nothing was done.",
                          path, (uint64_t) st.st_size, cmd);
                return YB_EXIT_USAGE;
        }
        for (;;) {
                ssize_t k = read(fd, tmp, sizeof(tmp));

                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0) {
                        log_error("Cannot read '%s': %s", path, strerror(errno));
                        return YB_EXIT_FAILED;
                }
                if (k == 0)
                        break;
                if (b->size + (size_t) k > KEY_FILE_MAX) {
                        log_error("'%s' grew past %d KiB while it was read: not a yunbak private "
                                  "key file.",
                                  path, KEY_FILE_MAX / 1024);
                        return YB_EXIT_USAGE;
                }
                r = yb_buf_append(b, tmp, (size_t) k);
                if (r < 0)
                        return log_oom(), YB_EXIT_FAILED;
        }
        sodium_memzero(tmp, sizeof(tmp));
        *ret_st = st;
        if (ret_fd)
                *ret_fd = TAKE_FD(fd);
        return 0;
}

int cli_key_bytes_public(const char *path, const void *data, size_t size, const char *cmd,
                         YbPublicKey *ret) {
        json_t *o;
        const char *type;
        json_error_t e;
        int r = yb_secret_key_parse_public(data, size, ret);

        if (r >= 0)
                return 0;
        if (r == -ENOKEY) {
                log_error("'%s' is the public half of a key pair (safe to hand out, nothing "
                          "secret in it): %s takes the private key file (ID.key).",
                          path, cmd);
                return YB_EXIT_USAGE;
        }
        if (r != -EBADMSG) {
                log_error("Cannot read '%s': %s", path, strerror(-r));
                return r == -EPROTONOSUPPORT ? YB_EXIT_DAMAGED : YB_EXIT_FAILED;
        }
        /* Say what it is instead. */
        o = json_loadb(data, size, 0, &e);
        type = json_string_value(json_object_get(o, "type"));
        if (type && streq(type, "yunbak-agent-key"))
                log_error("'%s' is an agent's own key (agent.key), not a system's private key: "
                          "%s takes a yunbak private key file (ID.key).",
                          path, cmd);
        else if (type && streq(type, "yunbak-secret-key"))
                log_error("'%s' says it is a yunbak private key file, but its public fields are "
                          "damaged (the key id does not match the key): %s refuses it.",
                          path, cmd);
        else {
                _cleanup_free_ char *t = type ? cli_sanitize(type) : NULL;

                log_error("'%s' is not a yunbak private key file (%s): %s takes private key files "
                          "(ID.key, as 'yunbak key init' writes them) only.",
                          path,
                          t   ? t
                          : o ? "JSON of another kind"
                              : "not JSON",
                          cmd);
        }
        json_decref(o);
        return YB_EXIT_USAGE;
}

int cli_key_file_public(const char *path, const char *cmd, YbPublicKey *ret) {
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;
        struct stat st;
        int r = cli_key_read(AT_FDCWD, path, path, 0, cmd, &b, &st, NULL);

        if (r == 0)
                r = cli_key_bytes_public(path, b.data, b.size, cmd, ret);
        sodium_memzero(b.data, b.size);
        return r;
}

int cli_key_post(const CliCtl *ctl, const char *path, json_t *body, json_t **ret, char *why,
                 size_t why_size) {
        CliCtl quiet = *ctl;
        json_t *answer = NULL;
        int status = 0, r;

        quiet.quiet = true;
        r = cli_ctl_request(&quiet, "POST", path, body, &status, &answer);
        if (r != 0) {
                snprintf(why, why_size, "yunbakd did not answer at %s%s", ctl->socket,
                         r == YB_EXIT_UNREACHABLE ? " (is it running? --socket PATH or "
                                                    "YUNBAK_SOCKET name another socket)"
                                                  : "");
                return r;
        }
        if (status >= 300) {
                _cleanup_free_ char *s = cli_sanitize(cli_json_str(answer, "error") ?: "");

                snprintf(why, why_size, "yunbakd refused it (HTTP %d): %s", status, s ? s : "");
                json_decref(answer);
                return cli_ctl_exit_code(status);
        }
        *ret = answer;
        return 0;
}

bool cli_key_host_and_path(const char *path, char *host, char *abs, char *why, size_t why_size) {
        if (gethostname(host, 256) < 0) {
                snprintf(why, why_size, "cannot read this host's name: %s", strerror(errno));
                return false;
        }
        host[255] = 0;
        if (!realpath(path, abs)) {
                snprintf(why, why_size, "cannot resolve '%s': %s", path, strerror(errno));
                return false;
        }
        return true;
}

/* The path of the system's key copies in the API. */
static char *copies_path(const char *system, const char *tail) {
        char *p = NULL;

        /* A system id is [a-z0-9-]: nothing to escape. */
        if (asprintf(&p, "/v1/systems/%s/key-copies%s", system, tail) < 0)
                return NULL;
        return p;
}

int cli_key_register_file(const CliCtl *ctl, const char *path, const char *holder, json_t **ret,
                          char *why, size_t why_size) {
        _cleanup_(json_decrefp) json_t *body = NULL;
        _cleanup_free_ char *api = NULL;
        char host[256], abs[PATH_MAX], kid[2 * YB_KEY_ID_SIZE + 1];
        YbPublicKey pub;
        int r;

        r = yb_secret_key_read_public(path, &pub);
        if (r < 0) {
                snprintf(why, why_size, "'%s' is not a readable private key file: %s", path,
                         strerror(-r));
                return YB_EXIT_FAILED;
        }
        if (!cli_key_host_and_path(path, host, abs, why, why_size))
                return YB_EXIT_FAILED;
        yb_key_id_hex(pub.id, kid);
        body = json_pack("{s:s, s:s, s:s, s:s, s:s?}", "key_id", kid, "kind", "file", "host", host,
                         "path", abs, "holder", holder);
        api = copies_path(pub.system, "");
        if (!body || !api) {
                snprintf(why, why_size, "out of memory");
                return YB_EXIT_FAILED;
        }
        return cli_key_post(ctl, api, body, ret, why, why_size);
}

const char *cli_key_copy_where(json_t *copy, char *buf, size_t size) {
        if (streq(cli_json_str(copy, "kind") ?: "", "offline"))
                snprintf(buf, size, "offline (%s)", cli_json_str(copy, "note") ?: "no note");
        else
                snprintf(buf, size, "%s:%s", cli_json_str(copy, "host") ?: "?",
                         cli_json_str(copy, "path") ?: "?");
        return buf;
}

/* Prints a copy registered (201) or known already (200). */
static void print_registered(json_t *copy, bool json) {
        _cleanup_free_ char *where = NULL;
        char buf[4500];
        int64_t id = 0;

        if (json) {
                cli_json_print(copy);
                return;
        }
        (void) cli_json_int(copy, "id", &id);
        where = cli_sanitize(cli_key_copy_where(copy, buf, sizeof(buf)));
        printf("Key copy %" PRId64 " of system '%s' (key id %s) registered: %s, held by %s.\n", id,
               cli_json_str(copy, "system") ?: "?", cli_json_str(copy, "key_id") ?: "?",
               where ?: "?", cli_json_str(copy, "holder") ?: "?");
}

/* The options of register, copy and list. */
typedef struct Opts {
        const char *socket, *holder, *to, *note, *system;
        bool json, offline;
} Opts;

/* Parses argv (argv[0] the subcommand) into o; the subcommand's name for messages. Returns -1
 * when parsing went through, else the exit code to return. */
static int parse(int argc, char **argv, Opts *o, void (*usage)(FILE *f)) {
        static const struct option opts[] = {
                { "holder", required_argument, NULL, 'H' },
                { "to", required_argument, NULL, 't' },
                { "offline", no_argument, NULL, 'o' },
                { "note", required_argument, NULL, 'n' },
                { "system", required_argument, NULL, 'S' },
                CLI_CTL_OPTIONS,
                {},
        };
        int c, r;

        optind = 1;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                switch (c) {
                case 'H':
                        o->holder = optarg;
                        break;
                case 't':
                        o->to = optarg;
                        break;
                case 'o':
                        o->offline = true;
                        break;
                case 'n':
                        o->note = optarg;
                        break;
                case 'S':
                        o->system = optarg;
                        break;
                default:
                        r = cli_ctl_option(c, &o->socket, &o->json, usage, "key");
                        if (r >= 0)
                                return r;
                }
        }
        return -1;
}

static void usage_copies(FILE *f) {
        fputs("Usage: yunbak key register FILE [--holder NAME]\n"
              "       yunbak key copy FILE --to PATH [--holder NAME]\n"
              "       yunbak key copy FILE --offline --note TEXT [--holder NAME]\n"
              "       yunbak key list --system ID\n"
              "       (each also takes --socket PATH and --json)\n"
              "\n"
              "Every copy of a system's private key is registered with yunbakd, so that a\n"
              "decommission destroys them all. register: the private key file FILE on this host\n"
              "(registered once: a second time answers the same copy). copy --to: copies FILE to\n"
              "PATH (a new file, 0600; into PATH when it is a directory) and registers the copy.\n"
              "copy --offline: registers a copy kept off any host (paper, removable media), which\n"
              "its holder attests destroyed ('yunbak key attest-destroyed'); --note says what\n"
              "and where it is. list: the copies of a system, with their state.\n"
              "\n"
              "Options:\n"
              "  --holder NAME   who holds the copy (default: you)\n"
              "  --to PATH       where to copy the key file\n"
              "  --offline       an offline copy\n"
              "  --note TEXT     what the offline copy is and where it is kept\n"
              "  --system ID     the system whose copies to list\n" CLI_CTL_OPTIONS_HELP,
              f);
}

int cli_key_register(int argc, char **argv) {
        _cleanup_(json_decrefp) json_t *copy = NULL;
        Opts o = {};
        char why[1200];
        CliCtl ctl;
        int r = parse(argc, argv, &o, usage_copies);
        YbPublicKey pub;

        if (r >= 0)
                return r;
        if (optind + 1 != argc || o.to || o.offline || o.note || o.system) {
                log_error("key register takes one private key file, and --holder.");
                return cli_usage_error("key");
        }
        r = cli_key_file_public(argv[optind], "key register", &pub);
        if (r != 0)
                return r;
        cli_ctl_init(&ctl, o.socket);
        r = cli_key_register_file(&ctl, argv[optind], o.holder, &copy, why, sizeof(why));
        if (r != 0) {
                log_error("Key file '%s' of system '%s' is not registered: %s", argv[optind],
                          pub.system, why);
                return r;
        }
        print_registered(copy, o.json);
        return YB_EXIT_OK;
}

/* Copies the key file src to a new file dst (0600, never replacing one), fsynced with its
 * directory. Returns 0 or an exit code having printed why. */
static int copy_file(const char *src, const char *dst) {
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *dir = strdup(dst);
        int r;

        if (!dir)
                return log_oom(), YB_EXIT_FAILED;
        r = yb_read_file_at(AT_FDCWD, src, KEY_FILE_MAX, &b);
        if (r < 0) {
                log_error("Cannot read '%s': %s", src, strerror(-r));
                return YB_EXIT_FAILED;
        }
        fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0) {
                log_error("Cannot create '%s': %s%s", dst, strerror(errno),
                          errno == EEXIST ? " (a key copy never replaces a file: name another)"
                                          : "");
                return YB_EXIT_FAILED;
        }
        r = yb_write_all(fd, b.data, b.size);
        if (r >= 0)
                r = yb_fsync(fd);
        if (r >= 0)
                r = yb_fsync_dir_at(AT_FDCWD, dirname(dir));
        if (r < 0) {
                (void) unlink(dst);
                log_error("Cannot write the copy '%s': %s (nothing was left there)", dst,
                          strerror(-r));
                return YB_EXIT_NOSPACE;
        }
        return 0;
}

/* key copy FILE --offline --note TEXT: registers the offline copy. */
static int copy_offline(const CliCtl *ctl, const Opts *o, const YbPublicKey *pub) {
        _cleanup_(json_decrefp) json_t *body = NULL, *copy = NULL;
        _cleanup_free_ char *api = copies_path(pub->system, "");
        char kid[2 * YB_KEY_ID_SIZE + 1], why[1200];
        int r;

        yb_key_id_hex(pub->id, kid);
        body = json_pack("{s:s, s:s, s:s, s:s?}", "key_id", kid, "kind", "offline", "note", o->note,
                         "holder", o->holder);
        if (!body || !api)
                return log_oom(), YB_EXIT_FAILED;
        r = cli_key_post(ctl, api, body, &copy, why, sizeof(why));
        if (r != 0) {
                log_error("The offline copy of system '%s''s key is not registered: %s",
                          pub->system, why);
                return r;
        }
        print_registered(copy, o->json);
        return YB_EXIT_OK;
}

int cli_key_copy(int argc, char **argv) {
        _cleanup_(json_decrefp) json_t *copy = NULL;
        _cleanup_free_ char *dst = NULL, *base = NULL;
        Opts o = {};
        char why[1200];
        struct stat st;
        CliCtl ctl;
        YbPublicKey pub;
        int r = parse(argc, argv, &o, usage_copies);

        if (r >= 0)
                return r;
        if (optind + 1 != argc || o.system || !!o.to == o.offline || (o.to && o.note) ||
            (o.offline && !o.note)) {
                log_error("key copy takes one private key file and either --to PATH, or "
                          "--offline --note TEXT (what the copy is and where it is kept).");
                return cli_usage_error("key");
        }
        r = cli_key_file_public(argv[optind], "key copy", &pub);
        if (r != 0)
                return r;
        cli_ctl_init(&ctl, o.socket);
        if (o.offline)
                return copy_offline(&ctl, &o, &pub);
        base = strdup(argv[optind]);
        if (!base)
                return log_oom(), YB_EXIT_FAILED;
        if (stat(o.to, &st) >= 0 && S_ISDIR(st.st_mode)) {
                if (asprintf(&dst, "%s/%s", o.to, basename(base)) < 0)
                        return log_oom(), YB_EXIT_FAILED;
        } else if (!(dst = strdup(o.to)))
                return log_oom(), YB_EXIT_FAILED;
        r = copy_file(argv[optind], dst);
        if (r != 0)
                return r;
        r = cli_key_register_file(&ctl, dst, o.holder, &copy, why, sizeof(why));
        if (r != 0) {
                log_error("Copied to '%s', but the copy is NOT registered: %s. Register it with "
                          "'yunbak key register %s', or destroy it with 'yunbak key destroy %s "
                          "--no-daemon'.",
                          dst, why, dst, dst);
                return r;
        }
        print_registered(copy, o.json);
        return YB_EXIT_OK;
}

/* The STATE and SINCE cells of a copy: a withdrawn one since its confirmation, a held one
 * whose withdrawal was asked says by whom. */
static void state_cells(json_t *copy, char state[300], char since[32]) {
        const char *s = cli_json_str(copy, "state") ?: "?";
        json_t *w = json_object_get(copy, "withdrawal");
        const char *t = streq(s, "withdrawn") ? cli_json_str(w, "confirmed")
                        : streq(s, "held")    ? cli_json_str(copy, "registered")
                                              : cli_json_str(copy, "destroyed");
        const char *asker = streq(s, "held") ? cli_json_str(w, "asked_by") : NULL;

        snprintf(state, 300, "%s%s%s%s", s,
                 json_is_true(json_object_get(copy, "found")) ? " (found unregistered)" : "",
                 asker ? ", withdrawal asked by " : "", asker ?: "");
        snprintf(since, 32, "%s", t ? t : "-");
}

int cli_key_list(int argc, char **argv) {
        _cleanup_(json_decrefp) json_t *answer = NULL;
        _cleanup_(cli_table_freep) CliTable *t = NULL;
        _cleanup_free_ char *api = NULL;
        Opts o = {};
        CliCtl ctl;
        json_t *copies, *copy;
        size_t i;
        int r = parse(argc, argv, &o, usage_copies);

        if (r >= 0)
                return r;
        if (optind != argc || o.to || o.offline || o.note || o.holder) {
                log_error("key list takes --system ID only.");
                return cli_usage_error("key");
        }
        if (cli_need_options("key list", "--system ID", o.system, NULL) != 0)
                return YB_EXIT_USAGE;
        if (cli_check_system_id(o.system) != 0)
                return YB_EXIT_USAGE;
        cli_ctl_init(&ctl, o.socket);
        api = copies_path(o.system, "");
        if (!api)
                return log_oom(), YB_EXIT_FAILED;
        r = cli_ctl_call(&ctl, "GET", api, NULL, &answer);
        if (r != 0)
                return r;
        if (o.json) {
                cli_json_print(answer);
                return YB_EXIT_OK;
        }
        copies = json_object_get(answer, "copies");
        if (json_array_size(copies) == 0) {
                printf("No copies of system '%s''s key are registered ('yunbak key register "
                       "FILE').\n",
                       o.system);
                return YB_EXIT_OK;
        }
        t = cli_table_new(5, "ID", "HOLDER", "WHERE", "STATE", "SINCE (UTC)");
        if (!t)
                return log_oom(), YB_EXIT_FAILED;
        json_array_foreach(copies, i, copy) {
                char id[24], where[4500], state[300], since[32];
                int64_t n = 0;

                (void) cli_json_int(copy, "id", &n);
                snprintf(id, sizeof(id), "%" PRId64, n);
                state_cells(copy, state, since);
                if (cli_table_add(t, id, cli_json_str(copy, "holder"),
                                  cli_key_copy_where(copy, where, sizeof(where)), state, since) < 0)
                        return log_oom(), YB_EXIT_FAILED;
        }
        cli_table_print(t, stdout);
        return YB_EXIT_OK;
}

static void usage_attest(FILE *f) {
        fputs("Usage: yunbak key attest-destroyed --copy ID --method TEXT [--witness NAME]\n"
              "                                   [--statement TEXT] [--yes] [--socket PATH]\n"
              "                                   [--json]\n"
              "\n"
              "Attests that you destroyed an offline copy of a system's private key (paper,\n"
              "removable media) that you hold: yunbakd records it as attested (on your word,\n"
              "never as verified) and signs your statement. Only the copy's holder may; a key\n"
              "file is destroyed with 'yunbak key destroy FILE' instead, which checks it is gone.\n"
              "The statement is shown and must be confirmed on a terminal, or given --yes.\n"
              "\n"
              "Options:\n"
              "  --copy ID          the copy ('yunbak key list --system ID')\n"
              "  --method TEXT      how it was destroyed (\"shredded, DIN 66399 P-4\")\n"
              "  --witness NAME     who saw it done\n"
              "  --statement TEXT   your statement (default: one naming the copy and method)\n"
              "  --yes              do not ask\n" CLI_CTL_OPTIONS_HELP,
              f);
}

/* Asks on the terminal; true for "yes". */
static bool confirmed(void) {
        char line[16];

        fputs("Type 'yes' to attest this: ", stdout);
        fflush(stdout);
        if (!fgets(line, sizeof(line), stdin))
                return false;
        line[strcspn(line, "\n")] = 0;
        return streq(line, "yes");
}

int cli_key_attest(int argc, char **argv) {
        static const struct option opts[] = {
                { "copy", required_argument, NULL, 'c' },
                { "method", required_argument, NULL, 'm' },
                { "witness", required_argument, NULL, 'w' },
                { "statement", required_argument, NULL, 's' },
                { "yes", no_argument, NULL, 'y' },
                CLI_CTL_OPTIONS,
                {},
        };
        _cleanup_(json_decrefp) json_t *body = NULL, *copy = NULL;
        _cleanup_free_ char *made = NULL, *api = NULL;
        const char *socket = NULL, *copy_s = NULL, *method = NULL, *witness = NULL,
                   *statement = NULL;
        struct passwd *pw = getpwuid(getuid());
        bool json = false, yes = false;
        char why[1200];
        int64_t id;
        CliCtl ctl;
        int c, r;

        optind = 1;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                switch (c) {
                case 'c':
                        copy_s = optarg;
                        break;
                case 'm':
                        method = optarg;
                        break;
                case 'w':
                        witness = optarg;
                        break;
                case 's':
                        statement = optarg;
                        break;
                case 'y':
                        yes = true;
                        break;
                default:
                        r = cli_ctl_option(c, &socket, &json, usage_attest, "key");
                        if (r >= 0)
                                return r;
                }
        }
        if (optind != argc) {
                log_error("key attest-destroyed takes options only: '%s' is one too many.",
                          argv[optind]);
                return cli_usage_error("key");
        }
        if (cli_need_options("key attest-destroyed", "--copy ID", copy_s, "--method TEXT", method,
                             NULL) != 0)
                return YB_EXIT_USAGE;
        if (cli_parse_int(copy_s, 1, INT64_MAX, &id) < 0) {
                log_error("--copy '%s' is not a key copy id (a number, as 'yunbak key list "
                          "--system ID' shows).",
                          copy_s);
                return YB_EXIT_USAGE;
        }
        if (!statement) {
                if (asprintf(&made,
                             "I, %s, destroyed key copy %" PRId64 " (an offline copy of a "
                             "system's private key that I held), every part of it, by: %s.%s%s",
                             pw ? pw->pw_name : "?", id, method, witness ? " Witness: " : "",
                             witness ?: "") < 0)
                        return log_oom(), YB_EXIT_FAILED;
                statement = made;
        }
        printf("Statement, to be signed by yunbakd and kept as the copy's evidence:\n  %s\n",
               statement);
        if (!yes) {
                if (!isatty(STDIN_FILENO)) {
                        log_error("Not on a terminal: confirm the statement with --yes.");
                        return YB_EXIT_USAGE;
                }
                if (!confirmed()) {
                        log_error("Not attested: the statement was not confirmed.");
                        return YB_EXIT_FAILED;
                }
        }
        body = json_pack("{s:s, s:s, s:s?}", "statement", statement, "method", method, "witness",
                         witness);
        if (!body || asprintf(&api, "/v1/key-copies/%" PRId64 "/attest", id) < 0)
                return log_oom(), YB_EXIT_FAILED;
        cli_ctl_init(&ctl, socket);
        r = cli_key_post(&ctl, api, body, &copy, why, sizeof(why));
        if (r != 0) {
                log_error("Key copy %" PRId64 " is not attested, and the statement above was "
                          "not recorded: %s",
                          id, why);
                return r;
        }
        if (json)
                cli_json_print(copy);
        else
                printf("Key copy %" PRId64 " of system '%s' (key id %s) is recorded as attested "
                       "destroyed by you, on your word: an attestation, not a verification. "
                       "yunbakd signed it.\n",
                       id, cli_json_str(copy, "system") ?: "?",
                       cli_json_str(copy, "key_id") ?: "?");
        return YB_EXIT_OK;
}
