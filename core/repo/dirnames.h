/* core/repo/dirnames.h: the names of a store directory, as yb_store_list gives them, kept in a
 * list: what every reader of snapshots/, tmp/ or a chain's hours needs. */
#pragma once

#include "core/store/store.h"

typedef struct YbDirNames {
        char **v;
        size_t n, alloc;
} YbDirNames;

/* Frees the names and empties the list. */
void yb_dirnames_done(YbDirNames *l);
/* Adds a copy of name to the YbDirNames userdata: a yb_store_list callback. 0 or -ENOMEM. */
int yb_dirnames_add(void *userdata, const char *name);
/* Lists directory path of s into l (empty on entry), sorted by name (strcmp). -ENOENT if there is
 * no such directory; on failure l is left empty. */
int yb_dirnames_list_sorted(YbStore *s, const char *path, YbDirNames *l);
