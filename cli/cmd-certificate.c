/* yunbak certificate show|verify: a decommission certificate (docs/decommission.md,
 * "Certificate"), fetched from yunbakd by id or read from its JSON or HTML file; verified offline
 * with yunbakd's public key (core/evidence). */
#include <getopt.h>
#include <inttypes.h>

#include "cli/cli.h"
#include "cli/ctl.h"
#include "cli/output.h"
#include "cli/signed-doc.h"
#include "core/base/exitcode.h"
#include "core/base/log.h"
#include "core/evidence/certificate.h"
#include "core/evidence/signed.h"

static void usage(FILE *f) {
        fputs("Usage: yunbak certificate show ID|FILE [--json] [--html OUT] [--socket PATH]\n"
              "       yunbak certificate verify FILE [--public-key yunbakd.pub]\n"
              "\n"
              "A decommission certificate: what was destroyed, how, and what was verified,\n"
              "signed by yunbakd. 'show' prints it in short: by its id (asked of yunbakd), or\n"
              "from its file (the JSON, or the HTML page); --json prints the JSON file's bytes,\n"
              "--html OUT writes the self-contained page. 'verify' checks a file offline: that\n"
              "its bytes are exactly what yunbak writes for the certificate it holds, and that\n"
              "yunbakd's key signed it. Without --public-key it checks against the key the\n"
              "certificate names, which proves it is intact, not who signed it.\n"
              "Exit 0 when it verifies, 1 (and why) when not.\n"
              "\n"
              "Options:\n"
              "  --json             show: print the certificate's JSON file, byte for byte\n"
              "  --html OUT         show: write the certificate's HTML page to OUT\n"
              "  --public-key FILE  verify: yunbakd's public key (<state>/yunbakd.pub)\n"
              "  --socket PATH      show ID: yunbakd's control socket (default: $YUNBAK_SOCKET,\n"
              "                     else " CLI_CTL_SOCKET_DEFAULT ")\n"
              "  --help             this text\n",
              f);
}

/* "2026-12-06 15:04:05 UTC" for the certificate's "2026-12-06T15:04:05Z". */
static const char *when(const char *iso, char buf[32]) {
        snprintf(buf, 32, "%.10s %.8s UTC", iso ?: "?", iso && strlen(iso) > 11 ? iso + 11 : "");
        return buf;
}

static json_t *member(json_t *o, const char *a, const char *b) {
        return json_object_get(json_object_get(o, a), b);
}

static void print_summary(json_t *cert) {
        _cleanup_(cli_table_freep) CliTable *t = NULL;
        _cleanup_free_ char *summary = NULL, *line = NULL;
        json_t *a, *d = json_object_get(cert, "decommission");
        char t1[32], t2[32];
        size_t i;

        line = cli_sanitize(json_string_value(member(cert, "system", "name")) ?: "");
        printf("Certificate %" JSON_INTEGER_FORMAT " for %s (%s), issued %s by %s %s on %s.\n",
               json_integer_value(json_object_get(cert, "id")),
               json_string_value(member(cert, "system", "id")), line ?: "",
               when(json_string_value(json_object_get(cert, "issued")), t1),
               json_string_value(member(cert, "issuer", "tool")),
               json_string_value(member(cert, "issuer", "version")),
               json_string_value(member(cert, "issuer", "host")));
        if (yb_certificate_summary(cert, &summary) >= 0) {
                _cleanup_free_ char *clean = cli_sanitize(summary);

                printf("%s\n", clean ?: "");
        }
        printf("Decommission %" JSON_INTEGER_FORMAT ": requested by %s, approved by %s, executed "
               "by %s (%s to %s).\n",
               json_integer_value(json_object_get(d, "id")),
               json_string_value(member(d, "requested", "by")),
               json_string_value(member(d, "approved", "by")),
               json_string_value(member(d, "executed", "by")),
               when(json_string_value(member(d, "executed", "started")), t1),
               when(json_string_value(member(d, "executed", "finished")), t2));
        t = cli_table_new(4, "ARTIFACT", "LOCATION", "CLAIM", "THE OPERATOR MUST STILL");
        if (!t) {
                log_oom();
                return;
        }
        json_array_foreach(json_object_get(cert, "artifacts"), i, a) {
                _cleanup_free_ char *what = NULL;

                if (asprintf(&what, "%s: %s", json_string_value(json_object_get(a, "kind")),
                             json_string_value(json_object_get(a, "name"))) < 0 ||
                    cli_table_add(t, what, json_string_value(json_object_get(a, "location")),
                                  json_string_value(json_object_get(a, "claim")),
                                  json_string_value(json_object_get(a, "operator_must"))
                                          ?: "nothing") < 0) {
                        log_oom();
                        return;
                }
        }
        cli_table_print(t, stdout);
        cli_signed_print_signer(cert, "certificate");
}

static int load(const char *path, json_t **ret, char *why, size_t why_size) {
        YbCertificateFile kind;

        return yb_certificate_load(path, ret, &kind, why, why_size);
}

static const CliSignedKind CERTIFICATE = {
        .noun = "certificate",
        .command = "certificate",
        .route = "/v1/certificates/",
        .load = load,
        .check = yb_certificate_check,
        .page = yb_certificate_html,
        .summary = print_summary,
};

static int verify(const char *file, const char *key_file) {
        _cleanup_(json_decrefp) json_t *cert = NULL;
        YbCertificateFile kind;
        char why[1024], fp[YB_SIGNED_FINGERPRINT_MAX];
        int r;

        r = yb_certificate_load(file, &cert, &kind, why, sizeof(why));
        if (r < 0) {
                log_error("invalid: %s", why);
                return YB_EXIT_FAILED;
        }
        r = cli_signed_verify(file, cert, key_file, "certificate", fp);
        if (r != 0)
                return r;
        printf("valid: certificate %" JSON_INTEGER_FORMAT " for %s, signed by yunbakd key %s on "
               "%s\n",
               json_integer_value(json_object_get(cert, "id")),
               json_string_value(member(cert, "system", "id")), fp,
               json_string_value(json_object_get(cert, "issued")));
        if (!key_file)
                cli_signed_note_no_key("certificate", fp);
        return YB_EXIT_OK;
}

int cli_certificate(int argc, char **argv) {
        static const struct option opts[] = {
                { "html", required_argument, NULL, 'H' },
                { "public-key", required_argument, NULL, 'k' },
                CLI_CTL_OPTIONS,
                {},
        };
        const char *socket = NULL, *html = NULL, *key = NULL, *verb;
        bool json = false;
        int c, r;

        optind = 1;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                switch (c) {
                case 'H':
                        html = optarg;
                        break;
                case 'k':
                        key = optarg;
                        break;
                default:
                        r = cli_ctl_option(c, &socket, &json, usage, "certificate");
                        if (r >= 0)
                                return r;
                }
        }
        if (optind == argc) {
                log_error("certificate takes a subcommand: show or verify.");
                return cli_usage_error("certificate");
        }
        verb = argv[optind];
        if (streq(verb, "show") && optind + 2 == argc && !key)
                return cli_signed_show(&CERTIFICATE, argv[optind + 1], socket, json, html);
        if (streq(verb, "verify") && optind + 2 == argc && !socket && !json && !html)
                return verify(argv[optind + 1], key);
        log_error("'certificate %s' does not take these arguments: show takes a certificate id "
                  "or file, --json, --html OUT and --socket; verify takes a file and "
                  "--public-key FILE.",
                  verb);
        return cli_usage_error("certificate");
}
