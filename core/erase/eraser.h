/* core/erase/eraser.h: what one erase (of a file or a tree) carries along, and the removal of
 * one entry that is not a directory, shared by erase.c (yb_erase_file) and erase-tree.c. Not
 * exported beyond core/erase. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "core/erase/erase.h"

typedef struct YbEraser {
        YbEraseReport *report;
        bool overwrite;                  /* overwrite regular files before unlinking them */
        bool dry_run;                    /* count what would be removed, remove nothing */
        bool all_overwritten;            /* so far, every regular file removed was overwritten */
        uint64_t not_overwritten;        /* regular files whose overwrite was tried and failed */
        char not_overwritten_first[320]; /* the first of them, "<path> (<why>)" */
        uint8_t *block;                  /* 1 MiB for random bytes, allocated on first use */
        char *path; /* the entry at hand, for messages (grows as the walk descends) */
        size_t path_len, path_alloc;
        int error; /* the first failure's -errno, 0 when none */
        char *err; /* why, for people (the caller's buffer) */
        size_t err_size;
} YbEraser;

/* Zeroes *ret and err (when given) at the start of every erase. */
void yb_erase_start(YbEraseReport *ret, char *err, size_t err_size);
/* Sets up e for an erase of path into report (zeroed), deciding from report->medium and ow
 * whether to overwrite. 0 or -ENOMEM. */
int yb_eraser_init(YbEraser *e, const char *path, YbOverwrite ow, YbEraseReport *report, char *err,
                   size_t err_size);
void yb_eraser_done(YbEraser *e);
/* Appends "/name" to e->path; returns the length to give yb_eraser_pop to undo it (or -ENOMEM). */
int yb_eraser_push(YbEraser *e, const char *name);
void yb_eraser_pop(YbEraser *e, size_t len);
/* Counts e->path as left behind, naming the first one with why. */
void yb_eraser_left(YbEraser *e, const char *why);
/* Counts e->path as left behind because of error r (-errno), keeping the first error and its
 * message ("cannot remove '<path>': <what>"). Returns r. */
int yb_eraser_fail(YbEraser *e, int r, const char *what);
/* Removes the entry name of directory dir_fd (e->path names it), which st describes and which is
 * not a directory: a regular file is overwritten first as e says (a dry run only counts it). 1
 * when removed, 0 when it was already gone, or -errno (counted with yb_eraser_fail). */
int yb_eraser_remove(YbEraser *e, int dir_fd, const char *name, const struct stat *st);
/* Splits path into its directory (".", "/", or what precedes the last '/') and last component,
 * ignoring trailing slashes; the caller frees both. -EINVAL for "/", "", "." and "..". */
int yb_erase_split(const char *path, char **ret_dir, char **ret_base);
/* Fills report->overwritten at the end; where the medium made the overwrite effective but some
 * file could not be overwritten, report->medium.operator_must says what is left to do. */
void yb_eraser_finish(YbEraser *e);
