/* yunbak copy --store FROM --to TO --system ID [--snapshot ID] [--bandwidth RATE] [--json]: one
 * snapshot and its chain copied between two stores by hand, with the engine yunbakd's tier-3
 * copies use (core/repo/copy.h): byte for byte, resumable, read back and checked at TO. */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>

#include "cli/cli.h"
#include "core/base/exitcode.h"
#include "core/base/log.h"
#include "core/base/timeutil.h"
#include "core/repo/copy.h"

static void usage(FILE *f) {
        fputs("Usage: yunbak copy --store FROM --to TO --system ID [--snapshot ID]\n"
              "                   [--bandwidth RATE] [--json] [store options]\n"
              "\n"
              "Copies a committed snapshot (default: the newest) of system ID from store FROM to\n"
              "store TO, with every snapshot of its chain that TO lacks, parents first, as files,\n"
              "byte for byte: nothing is decrypted, no key is needed. Every file is read back\n"
              "from TO and checked against the snapshot's signed header before the snapshot is\n"
              "committed there, so TO is a repository that verifies and restores on its own.\n"
              "An interrupted copy resumes where it stopped when run again. yunbakd makes\n"
              "off-site copies itself (tier 3); this is for seeding a store by hand. RATE limits\n"
              "what is written to TO, in bytes per second, with a unit: 500KiB/s, 20MiB/s,\n"
              "100Mbit/s.\n"
              "\n"
              "Store options, for whichever store is sftp:// or s3:// (one set for "
              "both):\n" CLI_STORE_OPTIONS_HELP,
              f);
}

static int parse_rate(const char *text, uint64_t *ret) {
        static const struct {
                const char *unit;
                double factor;
        } units[] = {
                { "B/s", 1 },
                { "KiB/s", 1024.0 },
                { "MiB/s", 1048576.0 },
                { "GiB/s", 1073741824.0 },
                { "kbit/s", 125.0 },
                { "Mbit/s", 125000.0 },
                { "Gbit/s", 125000000.0 },
        };
        char *end = NULL;
        double v;

        errno = 0;
        v = strtod(text, &end);
        if (errno != 0 || end == text || !(v > 0) || v > 1e15)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(units); i++)
                if (streq(end, units[i].unit)) {
                        *ret = (uint64_t) (v * units[i].factor);
                        return *ret > 0 ? 0 : -EINVAL;
                }
        return -EINVAL;
}

/* The newest committed snapshot of system in s, into id. */
static int newest(YbStore *s, const char *location, const char *system, char *id, size_t size) {
        _cleanup_(yb_repo_freep) YbRepo *repo = NULL;
        YbSnapshotList l = { 0 };
        int r = yb_repo_open(s, system, &repo);

        if (r < 0) {
                log_error("Store '%s' has no readable repository of system '%s': %s", location,
                          system, r == -ENOENT ? "there is none" : strerror(-r));
                return yb_exit_code_from_errno(r);
        }
        r = yb_repo_list(repo, &l);
        if (r < 0) {
                log_error("Cannot list the snapshots of system '%s' in '%s': %s", system, location,
                          strerror(-r));
                return yb_exit_code_from_errno(r);
        }
        if (l.n == 0) {
                log_error("Store '%s' holds no committed snapshot of system '%s' to copy.",
                          location, system);
                yb_snapshot_list_done(&l);
                return YB_EXIT_FAILED;
        }
        snprintf(id, size, "%s", l.items[l.n - 1]->id);
        yb_snapshot_list_done(&l);
        return 0;
}

/* The time spent sending (monotonic ns): every stretch between two progress reports but those
 * that end with more bytes read back and checked (the read-back of each file, which goes the
 * other way). `--json`'s send_seconds. */
typedef struct Sending {
        uint64_t verified;
        int64_t last_ns, total_ns;
} Sending;

static void on_progress(void *userdata, const YbCopyProgress *p) {
        Sending *s = userdata;
        int64_t now = yb_monotonic_ns();

        if (p->bytes_verified == s->verified)
                s->total_ns += now - s->last_ns;
        s->verified = p->bytes_verified;
        s->last_ns = now;
}

int cli_copy(int argc, char **argv) {
        static const struct option opts[] = {
                { "store", required_argument, NULL, 's' },
                { "to", required_argument, NULL, 't' },
                { "system", required_argument, NULL, 'S' },
                { "snapshot", required_argument, NULL, 'i' },
                { "bandwidth", required_argument, NULL, 'b' },
                CLI_STORE_OPTIONS,
                { "json", no_argument, NULL, 'j' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        _cleanup_(yb_store_closep) YbStore *from = NULL;
        _cleanup_(yb_store_closep) YbStore *to = NULL;
        const char *src = NULL, *dst = NULL, *system = NULL, *id = NULL;
        Sending sending = { 0 };
        YbCopyOptions co = { .progress = on_progress, .userdata = &sending };
        YbCopyStats st = { 0 };
        char newest_id[YB_SNAPSHOT_ID_MAX + 1], err[1024];
        bool json = false;
        int c, r;

        optind = 1;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                switch (c) {
                case 's':
                        src = optarg;
                        break;
                case 't':
                        dst = optarg;
                        break;
                case 'S':
                        system = optarg;
                        break;
                case 'i':
                        id = optarg;
                        break;
                case 'b':
                        if (parse_rate(optarg, &co.rate_bps) < 0) {
                                log_error("--bandwidth '%s' is not a rate: write a number and a "
                                          "unit, such as 500KiB/s, 20MiB/s or 100Mbit/s.",
                                          optarg);
                                return cli_usage_error("copy");
                        }
                        break;
                case 'j':
                        json = true;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        if (cli_store_option(c, optarg) > 0)
                                break;
                        return cli_usage_error("copy");
                }
        }
        if (optind < argc) {
                log_error("Unexpected argument '%s'.", argv[optind]);
                return cli_usage_error("copy");
        }
        r = cli_need_options("copy", "--store FROM", src, "--to TO", dst, "--system ID", system,
                             NULL);
        if (r != 0)
                return r;
        if (cli_check_system_id(system) != 0)
                return YB_EXIT_USAGE;
        if (id && !yb_snapshot_id_valid(id)) {
                log_error("'%s' is not a snapshot id (such as 20261121T182212Z-3fa9c2).", id);
                return YB_EXIT_USAGE;
        }
        r = cli_open_store(src, &from);
        if (r == 0)
                r = cli_open_store(dst, &to);
        if (r == 0 && !id) {
                r = newest(from, src, system, newest_id, sizeof(newest_id));
                id = newest_id;
        }
        if (r != 0)
                return r;

        sending.last_ns = yb_monotonic_ns();
        r = yb_repo_copy(from, to, system, id, &co, &st, err, sizeof(err));
        if (json) {
                json_t *o = json_pack(
                        "{s:s, s:s, s:s, s:s, s:b, s:i, s:i, s:I, s:I, s:I, s:f, "
                        "s:s?}",
                        "system", system, "snapshot", id, "from", src, "to", dst, "ok", r >= 0,
                        "snapshots_copied", st.snapshots_copied, "snapshots_present",
                        st.snapshots_present, "bytes_sent", (json_int_t) st.bytes_sent,
                        "bytes_reused", (json_int_t) st.bytes_reused, "bytes_verified",
                        (json_int_t) st.bytes_verified, "send_seconds",
                        (double) sending.total_ns / YB_NSEC_PER_SEC, "error", r < 0 ? err : NULL);

                if (o) {
                        json_dumpf(o, stdout, JSON_COMPACT);
                        fputc('\n', stdout);
                        json_decref(o);
                }
        }
        if (r < 0) {
                log_error("Copy of snapshot %s of system '%s' from '%s' to '%s' failed: %s", id,
                          system, src, dst, err[0] ? err : strerror(-r));
                if (st.bytes_sent > 0 || st.bytes_reused > 0)
                        log_error("What was copied stays in '%s'; run the same command again to "
                                  "go on from there.",
                                  dst);
                return yb_exit_code_from_errno(r);
        }
        if (!json)
                printf("Copied snapshot %s of %s to %s: %u %s copied, %u already there; "
                       "%" PRIu64 " bytes sent, %" PRIu64 " found there and kept, %" PRIu64
                       " read back and checked.\n",
                       id, system, dst, st.snapshots_copied,
                       cli_plural(st.snapshots_copied, "snapshot", "snapshots"),
                       st.snapshots_present, st.bytes_sent, st.bytes_reused, st.bytes_verified);
        return 0;
}
