/* yb-erase: core/erase from the shell, for erase-media.sh and erase-blocks.sh.
 *
 *   yb-erase probe PATH                          the facts and the medium, as JSON
 *   yb-erase file always|never|if-effective PATH yb_erase_file; its report as JSON
 *   yb-erase tree always|never|if-effective [--keep-top] PATH
 *   yb-erase store always|never|if-effective STORE PATH  (sftp: $YB_SSH_KEY, $YB_KNOWN_HOSTS)
 *
 * Prints one JSON object on stdout; on failure also {"error": -errno, "why": "..."} in it, and
 * exits 1. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/macro.h"
#include "core/erase/erase.h"

static int parse_ow(const char *s, YbOverwrite *ret) {
        if (streq(s, "always"))
                *ret = YB_OVERWRITE_ALWAYS;
        else if (streq(s, "never"))
                *ret = YB_OVERWRITE_NEVER;
        else if (streq(s, "if-effective"))
                *ret = YB_OVERWRITE_IF_EFFECTIVE;
        else
                return -EINVAL;
        return 0;
}

static json_t *facts_json(const YbMediumFacts *f) {
        return json_pack("{s:s, s:s, s:b, s:s, s:b, s:b, s:b, s:b, s:b, s:b, s:b, s:s, s:s, s:s, "
                         "s:s}",
                         "fstype", f->fstype, "mount_options", f->mount_options, "xfs_reflink",
                         f->xfs_reflink, "device", f->device, "rotational", f->rotational, "loop",
                         f->loop, "thin", f->thin, "virtual_disk", f->virtual_disk, "dm_crypt",
                         f->dm_crypt, "network", f->network, "memory", f->memory, "slaves",
                         f->slaves, "disk", f->disk, "backing_file", f->backing_file, "source",
                         f->source);
}

static int print(json_t *j) {
        if (!j) {
                fprintf(stderr, "yb-erase: out of memory or not UTF-8\n");
                return 1;
        }
        json_dumpf(j, stdout, JSON_SORT_KEYS);
        putchar('\n');
        json_decref(j);
        return 0;
}

static int usage(void) {
        fputs("usage: yb-erase probe PATH | file MODE PATH | tree MODE [--keep-top] PATH | "
              "store MODE STORE PATH\n",
              stderr);
        return 2;
}

int main(int argc, char **argv) {
        YbOverwrite ow;
        YbEraseReport rep;
        char err[1024] = "";
        json_t *j;
        int r;

        if (argc == 3 && streq(argv[1], "probe")) {
                YbMediumFacts f;
                YbMedium m;

                r = yb_medium_read_facts(argv[2], &f);
                if (r < 0) {
                        fprintf(stderr, "yb-erase: cannot probe '%s': %s\n", argv[2], strerror(-r));
                        return 1;
                }
                yb_medium_judge(&f, &m);
                return print(json_pack("{s:o, s:o}", "facts", facts_json(&f), "medium",
                                       yb_medium_json(&m)));
        }
        if (argc < 4 || parse_ow(argv[2], &ow) < 0)
                return usage();
        if (streq(argv[1], "file") && argc == 4)
                r = yb_erase_file(argv[3], ow, &rep, err, sizeof(err));
        else if (streq(argv[1], "tree") && argc == 4)
                r = yb_erase_tree(argv[3], false, ow, &rep, err, sizeof(err));
        else if (streq(argv[1], "tree") && argc == 5 && streq(argv[3], "--keep-top"))
                r = yb_erase_tree(argv[4], true, ow, &rep, err, sizeof(err));
        else if (streq(argv[1], "store") && argc == 5) {
                YbStoreOptions o = { .ssh_key = getenv("YB_SSH_KEY"),
                                     .known_hosts = getenv("YB_KNOWN_HOSTS") };
                _cleanup_(yb_store_closep) YbStore *s = NULL;

                r = yb_store_open_ex(argv[3], &o, &s, err, sizeof(err));
                if (r < 0) {
                        fprintf(stderr, "yb-erase: cannot open the store %s: %s\n", argv[3], err);
                        return 1;
                }
                r = yb_erase_store_tree(s, argv[4], ow, &rep, err, sizeof(err));
        } else
                return usage();
        j = yb_erase_report_json(&rep);
        if (j && r < 0)
                json_object_update_new(j, json_pack("{s:i, s:s}", "error", r, "why", err));
        return print(j) || r < 0 ? 1 : 0;
}
