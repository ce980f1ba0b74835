/* core/base/exitcode.h: the exit codes every yunbak program uses (docs/cli.md, "Exit codes"). */
#pragma once

#include <errno.h>

enum {
        YB_EXIT_OK = 0,
        YB_EXIT_FAILED = 1,      /* anything not listed below */
        YB_EXIT_USAGE = 2,       /* bad command line */
        YB_EXIT_PARTIAL = 3,     /* done, but some files were skipped (each reported) */
        YB_EXIT_KEY = 4,         /* wrong key or passphrase */
        YB_EXIT_DAMAGED = 5,     /* the repository is damaged, altered, or of an unknown format */
        YB_EXIT_UNREACHABLE = 6, /* the store cannot be reached, does not exist, or was lost */
        YB_EXIT_NOSPACE = 7,     /* the store or target ran out of space, or a write/fsync failed */
        YB_EXIT_BUSY = 8,        /* another backup of the same system holds the repository lock */
        YB_EXIT_CATALOG = 9,     /* yunbakd's catalog is damaged, or lacks the history it sealed */
        YB_EXIT_DRILL_FAILED = 10, /* yunbak drill: the drill ran and failed (it was recorded) */
        YB_EXIT_CONFIG = 78,       /* a configuration or policy file is invalid (EX_CONFIG) */
};

/* The exit code for a failure with negative errno r. */
static inline int yb_exit_code_from_errno(int r) {
        switch (r) {
        case -EKEYREJECTED:
        case -ENOKEY:
                return YB_EXIT_KEY;
        case -EBADMSG:
        case -EPROTONOSUPPORT:
                return YB_EXIT_DAMAGED;
        case -ENOSPC:
        case -EDQUOT:
        case -EIO:
                return YB_EXIT_NOSPACE;
        case -EHOSTUNREACH:
        case -ECONNREFUSED:
        case -ETIMEDOUT:
        case -ENETUNREACH:
        case -ECONNRESET: /* the connection to a remote store was lost */
        case -ECONNABORTED:
        case -ENOTCONN:
                return YB_EXIT_UNREACHABLE;
        case -EBUSY:
                return YB_EXIT_BUSY;
        default:
                return YB_EXIT_FAILED;
        }
}
