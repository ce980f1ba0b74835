/* Checking a signed document's signature for `yunbak certificate verify` and `yunbak drill
 * verify` (cli/signed-doc.h): one set of messages for every signed document. */
#include "cli/signed-doc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/ctl.h"
#include "core/base/exitcode.h"
#include "core/base/fileio.h"
#include "core/base/log.h"
#include "core/crypto/keys.h"

int cli_signed_verify(const char *file, const json_t *doc, const char *key_file, const char *noun,
                      char fp[YB_SIGNED_FINGERPRINT_MAX]) {
        char why[1024], fp_given[YB_SIGNED_FINGERPRINT_MAX];
        uint8_t pk[32], named[32];
        const char *key;
        int r;

        if (key_file) {
                r = yb_signed_read_public_key(key_file, pk, why, sizeof(why));
                if (r < 0) {
                        log_error("Cannot check %s: %s.", file, why);
                        return YB_EXIT_FAILED;
                }
        }
        r = yb_signed_verify(doc, key_file ? pk : NULL, why, sizeof(why));
        key = json_string_value(json_object_get(json_object_get(doc, "signature"), "key"));
        if (yb_base64_decode(key ?: "", named, sizeof(named)) >= 0)
                yb_signed_fingerprint(named, fp);
        else
                strcpy(fp, "?");
        switch (r) {
        case 0:
                return 0;
        case -EBADMSG:
                log_error("invalid: %s: the %s was changed after it was signed, or was not signed "
                          "by this key (%s).",
                          file, noun, fp);
                return YB_EXIT_FAILED;
        case -EKEYREJECTED:
                yb_signed_fingerprint(pk, fp_given);
                log_error("invalid: %s was signed by the key %s, not by yunbakd's key in %s (%s): "
                          "it comes from another yunbakd, or someone signed it with a key of "
                          "their own.",
                          file, fp, key_file, fp_given);
                return YB_EXIT_FAILED;
        default:
                log_error("invalid: %s: %s.", file, why);
                return YB_EXIT_FAILED;
        }
}

void cli_signed_note_no_key(const char *noun, const char *fp) {
        printf("note: checked against the key the %s names, not against yunbakd's own: this "
               "proves it is intact since it was signed, not who signed it. Compare %s with "
               "yunbakd's key, or run again with --public-key yunbakd.pub.\n",
               noun, fp);
}

static bool all_digits(const char *s) {
        return *s && strspn(s, "0123456789") == strlen(s);
}

/* The document by id from yunbakd, checked; its file bytes are yb_signed_dump's. */
static int fetch(const CliSignedKind *k, const char *socket, const char *id, json_t **ret) {
        _cleanup_(json_decrefp) json_t *doc = NULL;
        _cleanup_free_ char *path = NULL;
        char why[512];
        CliCtl ctl;
        int r;

        cli_ctl_init(&ctl, socket);
        if (asprintf(&path, "%s%s", k->route, id) < 0)
                return log_oom(), YB_EXIT_FAILED;
        r = cli_ctl_call(&ctl, "GET", path, NULL, &doc);
        if (r != 0)
                return r;
        if (k->not_yet && k->not_yet(doc, id))
                return YB_EXIT_FAILED;
        if (k->check(doc, why, sizeof(why)) < 0) {
                log_error("yunbakd at %s sent %s %s, but it is not a valid %s: %s", ctl.socket,
                          k->noun, id, k->noun, why);
                return YB_EXIT_FAILED;
        }
        *ret = TAKE_PTR(doc);
        return 0;
}

int cli_signed_show(const CliSignedKind *k, const char *what, const char *socket, bool json,
                    const char *html) {
        _cleanup_(json_decrefp) json_t *doc = NULL;
        _cleanup_free_ char *bytes = NULL, *text = NULL;
        char why[1024];
        int r;

        if (all_digits(what) && access(what, F_OK) < 0) {
                r = fetch(k, socket, what, &doc);
                if (r != 0)
                        return r;
        } else {
                r = k->load(what, &doc, why, sizeof(why));
                if (r < 0) {
                        log_error("%s%s%s%s", why, r == -EBADMSG ? " ('yunbak " : "",
                                  r == -EBADMSG ? k->command : "",
                                  r == -EBADMSG ? " verify' says more)" : "");
                        return YB_EXIT_FAILED;
                }
        }
        if (html) {
                r = k->page(doc, &text);
                if (r >= 0)
                        r = yb_write_file_atomic_at(AT_FDCWD, html, text, strlen(text), 0644);
                if (r < 0) {
                        log_error_errno(r, "Cannot write the %s's page to %s: %m", k->noun, html);
                        return YB_EXIT_FAILED;
                }
        }
        if (json) {
                r = yb_signed_dump(doc, &bytes);
                if (r < 0) {
                        log_error_errno(r, "Cannot write the %s's JSON: %m", k->noun);
                        return YB_EXIT_FAILED;
                }
                fputs(bytes, stdout);
                return fflush(stdout) == 0 ? YB_EXIT_OK : YB_EXIT_FAILED;
        }
        k->summary(doc);
        if (html)
                printf("Wrote the %s's page to %s.\n", k->noun, html);
        return YB_EXIT_OK;
}

void cli_signed_print_signer(json_t *doc, const char *command) {
        const char *key =
                json_string_value(json_object_get(json_object_get(doc, "signature"), "key"));
        char fp[YB_SIGNED_FINGERPRINT_MAX];
        uint8_t pk[32];

        if (!key || yb_base64_decode(key, pk, sizeof(pk)) < 0) {
                printf("Not signed.\n");
                return;
        }
        yb_signed_fingerprint(pk, fp);
        printf("Signed by yunbakd key %s (%s); 'yunbak %s verify FILE --public-key "
               "yunbakd.pub' checks it.\n",
               fp,
               yb_signed_verify(doc, NULL, NULL, 0) >= 0
                       ? "the signature checks out against the key it names"
                       : "THE SIGNATURE DOES NOT CHECK OUT",
               command);
}
