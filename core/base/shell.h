/* core/base/shell.h: quoting for a POSIX shell, for commands that travel as one string (over SSH,
 * into a hook's command line). */
#pragma once

#include "core/base/buf.h"

/* Appends s quoted for a POSIX shell: as it is when it holds only [A-Za-z0-9_./:@%+,-] (and is
 * not empty), else in single quotes. Returns 0 or -ENOMEM. */
int yb_shell_quote(YbBuf *out, const char *s);
