/* catalog/keycopies.h: the copies of each system's private key (table key_copies;
 * docs/decommission.md, "Key copies"): who holds each, where (a host and a path, or offline:
 * paper, removable media), and whether it is held, destroyed (by `yunbak key destroy`, which
 * checked the file is gone: verified) or attested (an offline copy, by its holder's word: never
 * verified) or withdrawn (registered by mistake: a copy that never existed; asked by one person,
 * confirmed by another). A copy found when a key file nobody registered was presented to yunbakd
 * is recorded with found = 1. The control API (orchestrator/api-keycopies.c) enforces who may do
 * what. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "catalog/catalog.h"
#include "core/base/macro.h"

#define YB_KEY_COPY_FILE "file"
#define YB_KEY_COPY_OFFLINE "offline"

#define YB_KEY_COPY_HELD "held"
#define YB_KEY_COPY_DESTROYED "destroyed"
#define YB_KEY_COPY_ATTESTED "attested"
#define YB_KEY_COPY_WITHDRAWN "withdrawn"

/* One copy. Strings are owned; those that do not apply are NULL. */
typedef struct YbKeyCopy {
        int64_t id;
        char *system;
        char *key_id; /* hex, as the key file names it */
        char *kind;   /* YB_KEY_COPY_FILE or _OFFLINE */
        char *holder; /* the person who holds it (a user name of yunbakd.yaml, or a name) */
        char *host;   /* file: the host the file is on */
        char *path;   /* file: its absolute path there */
        char *note;   /* what and where, for an offline copy ("paper, safe 3, room 402") */
        char *registered_by;
        int64_t registered_usec;
        bool found;             /* not registered: found when the file was presented to yunbakd */
        char *state;            /* YB_KEY_COPY_HELD, _DESTROYED, _ATTESTED, _WITHDRAWN */
        char *destroyed_by;     /* who reported it destroyed, attested it, or confirmed its
                                 * withdrawal */
        int64_t destroyed_usec; /* 0 while held */
        /* JSON text: what `key destroy` reported, the signed attestation, or the signed
         * withdrawal; while held, a withdrawal asked and not yet confirmed
         * ({"withdrawal": {...}}), else NULL. */
        char *evidence;
} YbKeyCopy;

void yb_key_copy_done(YbKeyCopy *k);

/* Records a new copy (k->id, state, destroyed_* ignored); its id in *ret_id. */
int yb_key_copies_add(YbCatalog *c, const YbKeyCopy *k, int64_t now_usec, int64_t *ret_id);
/* Copy id into *ret; -ENOENT if there is none. */
int yb_key_copies_get(YbCatalog *c, int64_t id, YbKeyCopy *ret);
/* The held (not destroyed, not attested) file copy of system at host and path, into *ret;
 * -ENOENT if none. */
int yb_key_copies_find_file(YbCatalog *c, const char *system, const char *host, const char *path,
                            YbKeyCopy *ret);
/* Every copy of system (NULL: all systems), oldest first, into a new array *ret of *ret_n. */
int yb_key_copies_list(YbCatalog *c, const char *system, YbKeyCopy **ret, size_t *ret_n);
void yb_key_copies_free(YbKeyCopy *v, size_t n);
/* The file copy of system at host and path withdrawn most recently (a copy said never to have
 * existed), into *ret; -ENOENT if none. */
int yb_key_copies_find_withdrawn(YbCatalog *c, const char *system, const char *host,
                                 const char *path, YbKeyCopy *ret);
/* Records that a withdrawal of held copy id was asked (request: JSON text, kept as its
 * evidence until confirmed). -ENOENT: no such copy; -EALREADY: it is not held any more;
 * -EBUSY: a withdrawal of it was asked already. */
int yb_key_copies_ask_withdrawal(YbCatalog *c, int64_t id, const char *request);
/* Forgets the withdrawal asked of held copy id (its file was presented since: it exists). 1 if
 * there was one, 0 if not, -errno. */
int yb_key_copies_drop_withdrawal(YbCatalog *c, int64_t id);
/* Marks held copy id destroyed or attested (state) by `by` at now_usec, with evidence (JSON
 * text), or withdrawn (state YB_KEY_COPY_WITHDRAWN: by confirmed the withdrawal asked of it,
 * which it needs: -ENOMSG without one). -ENOENT: no such copy; -EALREADY: it is not held any
 * more. */
int yb_key_copies_destroyed(YbCatalog *c, int64_t id, const char *state, const char *by,
                            int64_t now_usec, const char *evidence);
