#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <termios.h>

#include "cli/cli.h"
#include "core/base/exitcode.h"
#include "core/base/fileio.h"
#include "core/base/log.h"
#include "core/base/pathutil.h"
#include "core/base/timeutil.h"
#include "policies/schema.h"

#define PASSPHRASE_MAX 1024

int cli_usage_error(const char *cmd) {
        fprintf(stderr, "Try 'yunbak %s --help'.\n", cmd);
        return YB_EXIT_USAGE;
}

void cli_passphrase_free(char *p) {
        sodium_free(p);
}

static int read_tty_line(int fd, const char *prompt, char *buf, size_t size) {
        struct termios old, quiet;
        size_t n = 0;
        int r = 0;

        /* Echo goes off before the prompt appears, and nothing typed is flushed: a passphrase
         * pasted the moment the prompt shows must not be lost (or shown). */
        if (tcgetattr(fd, &old) < 0)
                return negative_errno();
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t) ECHO;
        quiet.c_lflag |= ECHONL;
        if (tcsetattr(fd, TCSANOW, &quiet) < 0)
                return negative_errno();
        if (write(fd, prompt, strlen(prompt)) < 0)
                r = negative_errno();
        while (r >= 0) {
                char c;
                ssize_t k = read(fd, &c, 1);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0) {
                        r = -EIO;
                        break;
                }
                if (c == '\n' || c == '\r')
                        break;
                if (n + 1 >= size) {
                        r = -E2BIG;
                        break;
                }
                buf[n++] = c;
        }
        buf[n] = 0;
        (void) tcsetattr(fd, TCSANOW, &old);
        return r;
}

int cli_get_passphrase(const char *file, bool confirm, char **ret) {
        char *p = sodium_malloc(PASSPHRASE_MAX), *again = NULL;
        _cleanup_close_ int tty = -EBADF;
        int r;

        if (!p)
                return YB_EXIT_FAILED;
        if (!file) {
                const char *e = getenv("YUNBAK_PASSPHRASE_FILE");

                file = e && *e ? e : NULL;
        }
        if (file) {
                _cleanup_free_ char *s = NULL;

                r = yb_read_secret_file(file, &s);
                if (r < 0) {
                        sodium_free(p);
                        log_error("Cannot read passphrase file '%s': %s", file, strerror(-r));
                        return YB_EXIT_FAILED;
                }
                if (strlen(s) >= PASSPHRASE_MAX || !*s) {
                        sodium_memzero(s, strlen(s));
                        sodium_free(p);
                        log_error("Passphrase file '%s' is empty or longer than %d bytes.", file,
                                  PASSPHRASE_MAX - 1);
                        return YB_EXIT_FAILED;
                }
                strcpy(p, s);
                sodium_memzero(s, strlen(s));
                *ret = p;
                return 0;
        }
        tty = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
        if (tty < 0 || !isatty(tty)) {
                sodium_free(p);
                log_error("No passphrase: give --passphrase-file FILE or set "
                          "YUNBAK_PASSPHRASE_FILE (there is no terminal to ask on).");
                return YB_EXIT_USAGE;
        }
        r = read_tty_line(tty, "Passphrase: ", p, PASSPHRASE_MAX);
        if (r >= 0 && !*p)
                r = -EINVAL;
        if (r >= 0 && confirm) {
                again = sodium_malloc(PASSPHRASE_MAX);
                if (!again)
                        r = -ENOMEM;
                else
                        r = read_tty_line(tty, "Passphrase (again): ", again, PASSPHRASE_MAX);
                if (r >= 0 && !streq(p, again)) {
                        sodium_free(again);
                        sodium_free(p);
                        log_error("The passphrases differ; nothing was written.");
                        return YB_EXIT_FAILED;
                }
                sodium_free(again);
        }
        if (r < 0) {
                sodium_free(p);
                log_error("No passphrase was entered.");
                return YB_EXIT_FAILED;
        }
        *ret = p;
        return 0;
}

int cli_load_secret_key(const char *path, const char *passphrase_file, YbSecretKey **ret) {
        char *pass = NULL;
        int r;

        if (access(path, R_OK) < 0) {
                log_error("Cannot read key file '%s': %s", path, strerror(errno));
                return errno == ENOENT ? YB_EXIT_KEY : YB_EXIT_FAILED;
        }
        r = cli_get_passphrase(passphrase_file, false, &pass);
        if (r != 0)
                return r;
        r = yb_secret_key_read(path, pass, ret);
        cli_passphrase_free(pass);
        switch (r) {
        case 0:
                return 0;
        case -EKEYREJECTED:
                log_error("Wrong passphrase for key file '%s'.", path);
                return YB_EXIT_KEY;
        case -ENOKEY:
                log_error("'%s' is a public key; restoring and decrypting need the private key "
                          "(ID.key).",
                          path);
                return YB_EXIT_KEY;
        case -EBADMSG:
                log_error("'%s' is not a yunbak private key file, or it is damaged.", path);
                return YB_EXIT_KEY;
        case -EPROTONOSUPPORT:
                log_error("Key file '%s' is of a version this program does not know.", path);
                return YB_EXIT_KEY;
        default:
                log_error("Cannot read key file '%s': %s", path, strerror(-r));
                return YB_EXIT_FAILED;
        }
}

static YbStoreOptions store_options;
static bool s3_style_given; /* --s3-style was given (its default is a value too) */

int cli_store_option(int c, const char *arg) {
        int64_t usec;

        if (c == CLI_OPT_SSH_KEY)
                store_options.ssh_key = arg;
        else if (c == CLI_OPT_KNOWN_HOSTS)
                store_options.known_hosts = arg;
        else if (c == CLI_OPT_STORE_TIMEOUT) {
                if (yb_duration_parse(arg, &usec) < 0 || usec <= 0) {
                        log_error("--store-timeout '%s' is not a duration: write one such as 30s "
                                  "or 2min.",
                                  arg);
                        return -1;
                }
                store_options.timeout_ns = yb_usec_to_ns(usec);
        } else if (c == CLI_OPT_S3 + YB_S3_OPT_RETENTION) {
                if (yb_duration_parse(arg, &usec) < 0) {
                        log_error("--s3-retention '%s' is not a duration: write one such as 90d "
                                  "or 1y.",
                                  arg);
                        return -1;
                }
                if (yb_s3_retention_set(&store_options.s3, yb_usec_to_ns(usec)) < 0) {
                        log_error("--s3-retention '%s' is shorter than %s: %s. Write one much "
                                  "longer than a backup takes, such as 90d or 1y.",
                                  arg, yb_s3_retention_min_text(), YB_S3_RETENTION_WHY);
                        return -1;
                }
        } else if (c >= CLI_OPT_S3 && c < CLI_OPT_S3 + _YB_S3_OPT_MAX) {
                char err[300];

                s3_style_given |= c == CLI_OPT_S3 + YB_S3_OPT_STYLE;

                if (yb_s3_option_set(&store_options.s3, c - CLI_OPT_S3, arg, err, sizeof(err)) <
                    0) {
                        log_error("--%s %s.", yb_s3_option_name(c - CLI_OPT_S3), err);
                        return -1;
                }
        } else
                return 0;
        return 1;
}

void cli_store_s3_defaults(const char *endpoint, const char *style, const char *region,
                           const char *ca_file) {
        YbS3Options *o = &store_options.s3;
        char err[300];

        if (endpoint && !o->endpoint)
                o->endpoint = endpoint;
        /* yunbakd checked it when it read yunbakd.yaml; one this yunbak does not know is left
         * as it is. */
        if (style && !s3_style_given)
                (void) yb_s3_option_set(o, YB_S3_OPT_STYLE, style, err, sizeof(err));
        if (region && !o->region)
                o->region = region;
        if (ca_file && !o->ca_file)
                o->ca_file = ca_file;
}

int cli_open_store(const char *location, YbStore **ret) {
        int kind = yb_location_kind(location), which;
        char why[1024] = "";
        int r;

        if (kind == YB_LOCATION_S3) {
                /* The environment stands in for what the command line leaves out. */
                yb_s3_options_from_env(&store_options.s3);
                if (yb_s3_options_check(&store_options.s3, &which) < 0) {
                        log_error("Store '%s' needs %s.", location, yb_s3_option_need_text(which));
                        return YB_EXIT_USAGE;
                }
        }
        r = yb_store_open_ex(location, &store_options, ret, why, sizeof(why));
        /* A remote store says why for people: the host or bucket, what was refused, what to do.
         * A refused login or credentials counts as unreachable (exit 6), as does a missing
         * bucket; what only the command line or the build can mend fails. */
        if (r < 0 && (kind == YB_LOCATION_SFTP || kind == YB_LOCATION_S3) && why[0]) {
                log_error("Cannot open the store '%s': %s", location, why);
                return r == -EPROTONOSUPPORT || r == -EINVAL || r == -ENOSYS ? YB_EXIT_FAILED
                                                                             : YB_EXIT_UNREACHABLE;
        }
        if (r == -ENOENT || r == -ENOTDIR) {
                log_error("Store '%s' does not exist (or is not a directory).", location);
                return YB_EXIT_UNREACHABLE;
        }
        if (r == -EPROTONOSUPPORT) {
                log_error("Store '%s': unknown kind of location (use a directory path, "
                          "file:///path, sftp://user@host[:port]/path or s3://bucket[/prefix]).",
                          location);
                return YB_EXIT_USAGE;
        }
        if (r < 0) {
                log_error("Cannot open store '%s': %s", location, strerror(-r));
                return YB_EXIT_UNREACHABLE;
        }
        return 0;
}

int cli_check_system_id(const char *system) {
        if (yb_system_id_valid(system))
                return 0;
        log_error("'%s' is not a valid system id: use 1 to 63 of a-z, 0-9 and '-'.", system);
        return YB_EXIT_USAGE;
}

int cli_open_repo(const char *location, const char *system, YbStore **ret_store, YbRepo **ret) {
        YbStore *store = NULL;
        YbRepo *repo = NULL;
        int r;

        if (cli_check_system_id(system) != 0)
                return YB_EXIT_USAGE;
        r = cli_open_store(location, &store);
        if (r != 0)
                return r;
        r = yb_repo_open(store, system, &repo);
        if (r < 0) {
                if (r == -ENOENT)
                        log_error("Store '%s' holds no repository for system '%s'.", location,
                                  system);
                else if (r == -EBADMSG)
                        log_error("The repository config of system '%s' in '%s' is damaged.",
                                  system, location);
                else if (r == -EPROTONOSUPPORT)
                        log_error("The repository of system '%s' in '%s' has a format version "
                                  "this program does not know; upgrade yunbak.",
                                  system, location);
                else if (r == -EACCES || r == -EPERM)
                        log_error("Cannot open the repository of system '%s' in '%s': %s. Give "
                                  "the user running this (uid %u) read access to it, or run as a "
                                  "user who has it, or name another copy with --store LOCATION.",
                                  system, location, strerror(-r), (unsigned) geteuid());
                else
                        log_error("Cannot open the repository of system '%s' in '%s': %s", system,
                                  location, strerror(-r));
                yb_store_close(store);
                return r == -ENOENT ? YB_EXIT_FAILED : yb_exit_code_from_errno(r);
        }
        *ret_store = store;
        *ret = repo;
        return 0;
}

static const char *damage_text(int error) {
        return error == -ENOENT            ? "its header is missing"
               : error == -EPROTONOSUPPORT ? "its header is of an unknown format version"
                                           : "its header does not check out";
}

/* The newest snapshot of l, sound or damaged, by its id. */
static const char *newest_id(const YbSnapshotList *l) {
        const char *id = l->n > 0 ? l->items[l->n - 1]->id : NULL;
        const YbBrokenSnapshot *d =
                yb_snapshot_list_damaged_after(l, l->n > 0 ? l->items[l->n - 1] : NULL, INT64_MAX);

        return d ? d->id : id;
}

/* pick (NULL: none) is the newest sound snapshot at or before until_ns; refuses it when a damaged
 * one may be newer, unless allow_older. */
static int refuse_older(const YbSnapshotList *l, const char *system, const YbSnapshotHeader *pick,
                        int64_t until_ns, bool allow_older) {
        const YbBrokenSnapshot *d = yb_snapshot_list_damaged_after(l, pick, until_ns);

        if (!d)
                return 0;
        if (!pick) {
                log_error("Snapshot %s of system '%s' is damaged (%s), and there is no sound "
                          "snapshot before it; nothing was restored. Run 'yunbak verify'.",
                          d->id, system, damage_text(d->error));
                return YB_EXIT_DAMAGED;
        }
        if (!allow_older) {
                log_error("Snapshot %s of system '%s' is damaged (%s); nothing was restored. Run "
                          "'yunbak verify' to see what is wrong, or add --allow-older to restore "
                          "the newest sound snapshot before it, %s.",
                          d->id, system, damage_text(d->error), pick->id);
                return YB_EXIT_DAMAGED;
        }
        log_warning("Snapshot %s of system '%s' is damaged (%s): restoring the older snapshot %s "
                    "instead, as --allow-older asks.",
                    d->id, system, damage_text(d->error), pick->id);
        return 0;
}

int cli_pick_snapshot(const YbSnapshotList *l, const char *system, const char *id, const char *at,
                      bool allow_older, const YbSnapshotHeader **ret) {
        const YbSnapshotHeader *pick = NULL;
        int64_t until = INT64_MAX;
        int r;

        if (id) {
                pick = yb_snapshot_list_find(l, id);
                if (!pick) {
                        for (size_t i = 0; i < l->n_broken; i++)
                                if (streq(l->broken[i].id, id)) {
                                        log_error("Snapshot %s of system '%s' is damaged (%s). "
                                                  "Run 'yunbak verify'.",
                                                  id, system, damage_text(l->broken[i].error));
                                        return YB_EXIT_DAMAGED;
                                }
                        log_error("System '%s' has no snapshot %s.", system, id);
                        return YB_EXIT_FAILED;
                }
                *ret = pick;
                return 0;
        }
        if (at) {
                if (yb_time_parse(at, &until) < 0) {
                        log_error("--at '%s' is not a time; use ISO 8601, such as "
                                  "2026-11-21T18:00:00+08:00.",
                                  at);
                        return YB_EXIT_USAGE;
                }
                if (until > yb_usec_to_ns(yb_now_usec())) {
                        char now[32];

                        yb_time_format_iso(yb_usec_to_ns(yb_now_usec()), now);
                        log_warning("--at '%s' is in the future (it is now %s); the newest "
                                    "snapshot of system '%s' is %s.",
                                    at, now, system, newest_id(l) ? newest_id(l) : "(none)");
                }
        }
        for (size_t i = 0; i < l->n; i++)
                if (l->items[i]->started_ns <= until)
                        pick = l->items[i];
        r = refuse_older(l, system, pick, until, allow_older);
        if (r != 0)
                return r;
        if (!pick) {
                if (at)
                        log_error("System '%s' has no snapshot at or before %s.", system, at);
                else
                        log_error("System '%s' has no snapshots yet.", system);
                return YB_EXIT_FAILED;
        }
        *ret = pick;
        return 0;
}

void cli_say_changing(const char *path, const YbSnapshotHeader *segment, int64_t read_started_ns,
                      json_t *changing) {
        char from[32], to[32];

        yb_time_format_iso(read_started_ns, from);
        yb_time_format_iso(segment->finished_ns, to);
        log_warning("'%s' was being written while segment %s read it: its content mixes moments "
                    "between %s and %s; it is complete only as of a point where it was not being "
                    "written (restore a later point, or an earlier one it was not flagged at).",
                    path, segment->id, from, to);
        if (changing)
                json_array_append_new(changing,
                                      json_pack("{s:s, s:s, s:I, s:I}", "path", path, "segment",
                                                segment->id, "read_started_ns",
                                                (json_int_t) read_started_ns, "finished_ns",
                                                (json_int_t) segment->finished_ns));
}

int cli_say_partial(YbRepo *repo, const YbSnapshotHeader *h, const YbSecretKey *key,
                    json_t *lacks) {
        char **v = NULL;
        size_t n = 0;
        int r;

        if (!h->partial)
                return 0;
        log_warning("Snapshot %s is partial: %llu entr%s could not be read at backup and %s not "
                    "in it%s",
                    h->id, (unsigned long long) h->counts.errors,
                    h->counts.errors == 1 ? "y" : "ies", h->counts.errors == 1 ? "is" : "are",
                    key ? ":"
                        : " (their names are sealed; 'yunbak verify --deep --key' or "
                          "'yunbak restore' lists them).");
        if (!key)
                return 0;
        r = yb_repo_load_skipped(repo, h, key, &v, &n);
        if (r < 0) {
                log_error("Cannot read the list of what snapshot %s lacks: %s", h->id,
                          r == -EBADMSG ? "it is damaged or altered" : strerror(-r));
                return yb_exit_code_from_errno(r);
        }
        if (n == 0)
                log_warning("  (this snapshot was made before snapshots listed what they lack)");
        for (size_t i = 0; i < n; i++) {
                log_warning("  lacks %s", v[i]);
                if (lacks)
                        json_array_append_new(lacks, json_string(v[i]));
                free(v[i]);
        }
        free(v);
        return 0;
}

int cli_trust_add(CliTrust *t, const char *b64) {
        uint8_t(*p)[32];

        p = realloc(t->keys, (t->n + 1) * sizeof(*t->keys));
        if (!p)
                return YB_EXIT_FAILED;
        t->keys = p;
        if (yb_base64_decode(b64, t->keys[t->n], 32) < 0) {
                log_error("--trust-agent '%s' is not an agent key: give what 'yunbak-agent "
                          "identity' prints on the agent's host.",
                          b64);
                return YB_EXIT_USAGE;
        }
        t->n++;
        return 0;
}

bool cli_trust_allows(const CliTrust *t, const uint8_t pk[32]) {
        if (t->n == 0)
                return true;
        for (size_t i = 0; i < t->n; i++)
                if (memcmp(t->keys[i], pk, 32) == 0)
                        return true;
        return false;
}

void cli_trust_done(CliTrust *t) {
        free(t->keys);
        t->keys = NULL;
        t->n = 0;
}

int cli_ctl_option(int c, const char **socket, bool *json, void (*usage)(FILE *f),
                   const char *command) {
        switch (c) {
        case 'U':
                *socket = optarg;
                return -1;
        case 'j':
                *json = true;
                return -1;
        case 'h':
                usage(stdout);
                return YB_EXIT_OK;
        default:
                return cli_usage_error(command);
        }
}

int cli_exec_helper(const char *name, char *const argv[]) {
        _cleanup_free_ char *beside = NULL, *installed = NULL;
        int r;

        r = yb_path_beside_self(name, &beside);
        if (asprintf(&installed, "%s/%s", YB_LIBEXECDIR, name) < 0)
                return log_oom(), YB_EXIT_FAILED;
        fflush(stdout);
        if (r >= 0) {
                execv(beside, argv);
                log_error_errno(errno, "Cannot run '%s': %m", beside);
                return YB_EXIT_FAILED;
        }
        execv(installed, argv);
        log_error_errno(errno,
                        "Cannot run %s, which this command needs: it is neither beside yunbak nor "
                        "at '%s' (%m). Reinstall yunbak.",
                        name, installed);
        return YB_EXIT_FAILED;
}

int cli_need_options(const char *cmd, ...) {
        const char *missing[16];
        char line[512];
        size_t n = 0, len;
        va_list ap;

        va_start(ap, cmd);
        for (const char *name; (name = va_arg(ap, const char *));) {
                const char *value = va_arg(ap, const char *);

                if (!value && n < ELEMENTSOF(missing))
                        missing[n++] = name;
        }
        va_end(ap);
        if (n == 0)
                return 0;
        len = (size_t) snprintf(line, sizeof(line), "%s needs ", cmd);
        for (size_t i = 0; i < n && len < sizeof(line); i++)
                len += (size_t) snprintf(line + len, sizeof(line) - len, "%s%s",
                                         i == 0       ? ""
                                         : i + 1 == n ? " and "
                                                      : ", ",
                                         missing[i]);
        log_error("%s.", line);
        return cli_usage_error(cmd);
}

const char *cli_plural(int64_t n, const char *one, const char *many) {
        return n == 1 ? one : many;
}
