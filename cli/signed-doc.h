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

/* What `show` does with a checked document: with html, writes its page (made by page()) to that
 * file; with json, prints the document's file bytes (yb_signed_dump: as issued) and nothing
 * else; else prints summary(doc) and where the page went. 0 or YB_EXIT_FAILED (printed). */
int cli_signed_show(json_t *doc, const char *noun, bool json, const char *html,
                    int (*page)(const json_t *doc, char **ret), void (*summary)(json_t *doc));
