/* core/evidence/signed-file.h: reading a signed document's file back (signed.h), as JSON or as
 * its HTML page, which embeds the JSON file's bytes in <script type="application/json"
 * id="SCRIPT_ID"> (html.h: yb_html_json). One reader for every kind of signed document (the
 * decommission certificate, the drill record), each described by a YbSignedFileKind.
 *
 * A file is accepted only if its bytes are exactly what yunbak writes for the document it holds
 * (yb_signed_dump for the JSON, the kind's html function for the page), so that no byte of it
 * can change unnoticed; -EBADMSG with why naming the first differing byte's line and column
 * otherwise. The signature itself is yb_signed_verify's to check. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/evidence/html.h"

/* What a kind of signed document is, for the reader. */
typedef struct YbSignedFileKind {
        const char *type;      /* its "type" member ("yunbak-drill") */
        const char *noun;      /* in messages: "certificate", "drill record" */
        const char *what;      /* "a yunbak decommission certificate" */
        const char *script_id; /* the page's script element that embeds it */
        const char *command;   /* the yunbak command that shows it ("certificate", "drill") */
        /* Checks the document's fields (not the signature): 0, or -EINVAL with why. */
        int (*check)(const json_t *doc, char *why, size_t why_size);
        /* Writes its page: 0, -EINVAL, -ENOMEM. */
        int (*html)(const json_t *doc, char **ret);
} YbSignedFileKind;

/* Reads the file at path, JSON or HTML (told apart by content), as a document of kind k, into
 * *ret_doc (the caller owns it), and whether it was the page in *ret_html. 0, -ENOENT (and
 * other errors of reading), -EINVAL (not such a document: why), -EBADMSG (changed: why),
 * -ENOMEM. */
int yb_signed_file_load(const char *path, const YbSignedFileKind *k, json_t **ret_doc,
                        bool *ret_html, char *why, size_t why_size);

/* The page's section "Signature" of a signed document doc: yunbakd's key and its fingerprint,
 * the signature, how to verify it (`yunbak COMMAND verify FILE --public-key yunbakd.pub`, and
 * without yunbak: Python and OpenSSL, their files named STEM.canonical and STEM.sig), and where
 * the page embeds the JSON (script_id). noun names the document ("certificate"). A document
 * without a signature says so, highlighted. */
void yb_signed_html_signature(YbHtml *h, const json_t *doc, const char *noun, const char *script_id,
                              const char *command, const char *stem);
