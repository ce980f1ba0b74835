/* core/base/pathutil.h: checks and helpers for the byte-string paths a snapshot records. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* True if path (n bytes, no NUL) is relative, non-empty, and has no "", "." or ".." component:
 * the only kind of path a snapshot may hold, so restore can never climb out of its target. */
bool yb_path_is_safe(const char *path, size_t n);
/* True if path equals prefix or lies below it. */
bool yb_path_startswith(const char *path, const char *prefix);
/* The order in which a walk of one source meets paths: each directory's names sorted by strcmp,
 * and a directory's contents right after it ("a", "a/b", "a-c"). As strcmp, with "/" below every
 * other byte. (Sources are walked in the order they are given.) */
int yb_path_walk_cmp(const char *a, const char *b);
/* Escapes a path for messages: printable ASCII as is, everything else as \xNN (caller frees). */
char *yb_path_escape(const char *path);
/* The path of the program name in the folder of the running executable (/proc/self/exe), so that a
 * program finds its helpers in a build tree as well as where they are installed. Returns 0 with
 * *ret (the caller frees it) when that file exists and is executable; -ENOENT when it does not;
 * or -errno. */
int yb_path_beside_self(const char *name, char **ret);
