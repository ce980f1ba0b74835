/* cli/signed-doc.h: what `yunbak certificate verify` and `yunbak drill verify` share: checking
 * a signed document's signature (core/evidence/signed.h) against yunbakd's public key file, or
 * without one against the key the document names, and saying plainly which it proved. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "core/evidence/signed.h"

/* Checks doc (read from file) with the key in key_file (NULL: the key doc names). noun names it
 * in messages ("certificate"). On success writes the signing key's fingerprint to fp and returns
 * 0; else prints "invalid: FILE: why" and returns YB_EXIT_FAILED. */
int cli_signed_verify(const char *file, const json_t *doc, const char *key_file, const char *noun,
                      char fp[YB_SIGNED_FINGERPRINT_MAX]);
/* The note printed after "valid: ..." when no --public-key was given: what was proved (that the
 * document is intact), and what was not (who signed it). */
void cli_signed_note_no_key(const char *noun, const char *fp);

/* A kind of signed document for `yunbak COMMAND show|verify`. */
typedef struct CliSignedKind {
        const char *noun;    /* in messages: "certificate", "drill record" */
        const char *command; /* "certificate", "drill": `yunbak COMMAND verify` */
        const char *route;   /* yunbakd's route of one by id, without the id: "/v1/drills/" */
        /* Reads a file (core/evidence's reader): 0, or -errno with why. */
        int (*load)(const char *path, json_t **ret, char *why, size_t why_size);
        /* Checks a document yunbakd sent: 0, or -EINVAL with why. */
        int (*check)(const json_t *doc, char *why, size_t why_size);
        /* Writes its page: 0 or -errno. */
        int (*page)(const json_t *doc, char **ret);
        /* Prints it in short. */
        void (*summary)(json_t *doc);
        /* NULL, or: prints why an answer of yunbakd is not a document yet and returns true. */
        bool (*not_yet)(json_t *answer, const char *id);
} CliSignedKind;

/* `yunbak COMMAND show ID|FILE`: the document by id from yunbakd (what is all digits and no such
 * file), else read from the file; then with html, writes its page to that file; with json,
 * prints the document's file bytes (yb_signed_dump: as issued) and nothing else; else prints
 * its summary and where the page went. Returns the exit code (why printed). */
int cli_signed_show(const CliSignedKind *k, const char *what, const char *socket, bool json,
                    const char *html);
/* The summary's last line: the signing key's fingerprint, whether the signature checks out
 * against it, and the command that verifies it (or "Not signed."). */
void cli_signed_print_signer(json_t *doc, const char *command);
