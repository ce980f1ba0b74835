/* The closing lines of an audit log check, the same whether yunbakd ran it (yunbak audit verify)
 * or yunbak-catalog did on a catalog file. */
#include <inttypes.h>
#include <stdio.h>

#include "cli/cli.h"

void cli_audit_summary(bool ok, int64_t records, int64_t seals, int64_t last_sealed,
                       size_t problems) {
        if (ok) {
                if (records == 0) {
                        printf("The audit log is empty.\n");
                        return;
                }
                printf("Audit log intact: %" PRId64 " %s, %" PRId64 " %s", records,
                       records == 1 ? "record" : "records", seals, seals == 1 ? "seal" : "seals");
                if (seals > 0)
                        printf(", sealed up to record %" PRId64, last_sealed);
                fputs(".\n", stdout);
                if (records > last_sealed)
                        printf("The last %" PRId64 " %s not sealed yet: until the next "
                               "seal, records removed from the end would go unnoticed.\n",
                               records - last_sealed,
                               cli_plural(records - last_sealed, "record is", "records are"));
        } else
                printf("Audit log DAMAGED: %zu %s in %" PRId64 " %s (%" PRId64 " %s, the last "
                       "on record %" PRId64 "). Keep a copy of the catalog as it is.\n",
                       problems, problems == 1 ? "problem" : "problems", records,
                       records == 1 ? "record" : "records", seals, seals == 1 ? "seal" : "seals",
                       last_sealed);
}
