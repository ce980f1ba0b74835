/* yunbak-catalog: what yunbak does with a catalog file itself, without yunbakd; kept out of
 * yunbak so that yunbak never links SQLite or the catalog's code. yunbak runs it for 'yunbak
 * audit verify --catalog FILE --daemon-key FILE [--json]' (docs/cli.md), with the same options,
 * messages and exit codes:
 *
 *   yunbak-catalog audit-verify --catalog FILE --daemon-key FILE [--json] */
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <sys/stat.h>

#include "catalog/audit.h"
#include "catalog/catalog.h"
#include "cli/cli.h"
#include "cli/output.h"
#include "core/base/buf.h"
#include "core/base/exitcode.h"
#include "core/base/fileio.h"
#include "core/base/log.h"

/* Reads the daemon's Ed25519 public key: one line of base64 (as yunbakd writes yunbakd.pub and
 * 'yunbak-agent identity' prints an agent's), or a JSON object with it as "ed25519". */
static int read_daemon_key(const char *path, uint8_t ret[32]) {
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;
        _cleanup_(json_decrefp) json_t *j = NULL;
        char *s, *e;
        int r;

        r = yb_read_file_at(AT_FDCWD, path, 4096, &b);
        if (r < 0) {
                log_error("Cannot read the daemon key '%s': %s", path,
                          r == -ENOBUFS ? "it is far too long for a key" : strerror(-r));
                return r == -ENOENT ? YB_EXIT_KEY : YB_EXIT_FAILED;
        }
        if (yb_buf_append_u8(&b, 0) < 0)
                return log_oom(), YB_EXIT_FAILED;
        s = (char *) b.data;
        while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
                s++;
        e = s + strlen(s);
        while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
                *--e = 0;
        if (*s == '{') {
                j = json_loads(s, 0, NULL);
                s = (char *) (cli_json_str(j, "ed25519") ?: "");
        }
        if (yb_base64_decode(s, ret, 32) < 0) {
                log_error("'%s' is not the daemon's public key: expected one line with its "
                          "Ed25519 key in base64 (yunbakd writes it as <state>/yunbakd.pub).",
                          path);
                return YB_EXIT_KEY;
        }
        return 0;
}

typedef struct Offline {
        bool json;
        json_t *problems; /* for --json */
} Offline;

static void offline_problem(void *userdata, int64_t seq, const char *problem) {
        Offline *o = userdata;

        if (o->json)
                json_array_append_new(o->problems, json_pack("{s:I, s:s}", "seq", (json_int_t) seq,
                                                             "problem", problem));
        else {
                _cleanup_free_ char *clean = cli_sanitize(problem);

                printf("record %" PRId64 ": %s\n", seq, clean ?: "?");
        }
}

static int verify_offline(const char *catalog, const char *key_file, bool json) {
        _cleanup_(yb_catalog_closep) YbCatalog *c = NULL;
        _cleanup_(json_decrefp) json_t *problems = json_array();
        Offline o = { .json = json, .problems = problems };
        YbAuditSummary sum = { 0 };
        uint8_t pk[32];
        struct stat st;
        int r;

        if (!problems)
                return log_oom(), YB_EXIT_FAILED;
        r = read_daemon_key(key_file, pk);
        if (r != 0)
                return r;
        /* A clear message for a mistyped path or a directory, before SQLite's. */
        if (stat(catalog, &st) < 0) {
                log_error_errno(errno, "Cannot open the catalog '%s': %m", catalog);
                return YB_EXIT_FAILED;
        }
        if (!S_ISREG(st.st_mode)) {
                log_error("The catalog '%s' is not a regular file (give yunbakd's catalog.db or "
                          "a copy of it).",
                          catalog);
                return YB_EXIT_FAILED;
        }
        r = yb_catalog_open_readonly(catalog, &c); /* what is checked is never changed */
        if (r < 0) {
                if (r == -EPROTONOSUPPORT)
                        log_error("The catalog '%s' was written by a newer yunbakd; use its "
                                  "yunbak.",
                                  catalog);
                else if (r == -EBUSY)
                        log_error("The catalog '%s' stayed locked; try again, or verify a copy.",
                                  catalog);
                else if (r == -EACCES || r == -EPERM || r == -EROFS || r == -ENOENT)
                        log_error("Cannot read the catalog '%s': SQLite needs to create its "
                                  "'-shm' file beside it to read the '-wal' file that is there. "
                                  "Copy both files (catalog.db and catalog.db-wal) to a "
                                  "directory you can write, and verify the copy.",
                                  catalog);
                else if (r == -EBADMSG)
                        log_error("'%s' is not yunbakd's catalog (an SQLite database with its "
                                  "tables), or it is damaged.",
                                  catalog);
                else
                        log_error("Cannot open the catalog '%s' (is it yunbakd's SQLite "
                                  "catalog?): %s",
                                  catalog, strerror(-r));
                return r == -EBUSY ? YB_EXIT_BUSY : YB_EXIT_FAILED;
        }
        r = yb_audit_verify(c, pk, offline_problem, &o, &sum);
        if (r < 0) {
                log_error("Cannot check the audit log in '%s': %s", catalog, strerror(-r));
                return YB_EXIT_FAILED;
        }
        if (json) {
                _cleanup_(json_decrefp) json_t *out = json_pack(
                        "{s:b, s:I, s:I, s:I, s:O}", "ok", r == 0, "records",
                        (json_int_t) sum.records, "seals", (json_int_t) sum.seals,
                        "last_sealed_seq", (json_int_t) sum.last_sealed_seq, "problems", problems);

                if (!out)
                        return log_oom(), YB_EXIT_FAILED;
                cli_json_print(out);
        } else
                cli_audit_summary(r == 0, sum.records, sum.seals, sum.last_sealed_seq, (size_t) r);
        return r == 0 ? YB_EXIT_OK : YB_EXIT_DAMAGED;
}

int main(int argc, char **argv) {
        static const struct option opts[] = {
                { "catalog", required_argument, NULL, 'c' },
                { "daemon-key", required_argument, NULL, 'k' },
                { "json", no_argument, NULL, 'j' },
                {},
        };
        const char *catalog = NULL, *key = NULL;
        bool json = false;
        int c;

        yb_log_set_program("yunbak");
        yb_log_parse_env();
        if (yb_crypto_init() < 0) {
                log_error("Cannot initialise libsodium.");
                return YB_EXIT_FAILED;
        }
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                switch (c) {
                case 'c':
                        catalog = optarg;
                        break;
                case 'k':
                        key = optarg;
                        break;
                case 'j':
                        json = true;
                        break;
                default:
                        return YB_EXIT_USAGE;
                }
        }
        if (optind + 1 != argc || !streq(argv[optind], "audit-verify") || !catalog || !key) {
                log_error("Usage: yunbak-catalog audit-verify --catalog FILE --daemon-key FILE "
                          "[--json] (run by 'yunbak audit verify --catalog').");
                return YB_EXIT_USAGE;
        }
        return verify_offline(catalog, key, json);
}
