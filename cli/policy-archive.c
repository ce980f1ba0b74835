/* What `yunbak policy explain` says about a physical PostgreSQL hook of a system without tier 2
 * (cli/policy-archive.h): the postgresql.conf lines that make PostgreSQL hand every finished WAL
 * file to `yunbak-agent wal-archive` (docs/postgresql.md, "WAL archive without tier 2").
 *
 * The command is written as postgresql.conf reads it: a string in single quotes, in which a
 * single quote is doubled and a backslash escaped (PostgreSQL's GUC_scanstr reads backslash
 * escapes), holding a POSIX shell command whose words are quoted for the shell. What the policy
 * alone cannot tell (the store's URL as the database host reaches it: yunbakd.yaml names it; the
 * public key's path there: yunbakd hands agents the key's text) is a placeholder in capitals,
 * each explained. */
#include "cli/policy-archive.h"

#include <stdio.h>
#include <string.h>

#include "core/base/buf.h"
#include "core/base/shell.h"
#include "core/base/timeutil.h"

/* The RPO between backups without tier 2: PostgreSQL switches to a new WAL file at least this
 * often when anything was written. */
#define ARCHIVE_TIMEOUT_SEC 60
#define STR(x) #x
#define XSTR(x) STR(x)
#define STORE_PLACEHOLDER "STORE_URL"
#define KEY_PLACEHOLDER "PUBLIC_KEY_FILE"

/* Whether hook h makes base backups whose WAL the archive must keep. */
static bool physical(const YbHook *h) {
        return h->type == YB_HOOK_POSTGRESQL && h->mode == YB_HOOK_MODE_PHYSICAL;
}

/* s as a postgresql.conf string: in single quotes, a quote doubled, a backslash escaped. */
static char *conf_quote(const char *s) {
        YbBuf b = YB_BUF_INIT;
        int r = yb_buf_append_u8(&b, '\'');

        for (const char *p = s; r >= 0 && *p; p++) {
                if (*p == '\'' || *p == '\\')
                        r = yb_buf_append_u8(&b, (uint8_t) *p);
                if (r >= 0)
                        r = yb_buf_append_u8(&b, (uint8_t) *p);
        }
        if (r >= 0)
                r = yb_buf_append(&b, "'", 2);
        if (r < 0) {
                yb_buf_done(&b);
                return NULL;
        }
        return (char *) b.data;
}

/* The shell command: yunbak-agent wal-archive with the store, the system, the key and the hook,
 * then PostgreSQL's %p %f. */
static char *archive_command(const YbPolicy *p, const YbHook *h) {
        const char *words[] = { "yunbak-agent", "wal-archive", "--store",      STORE_PLACEHOLDER,
                                "--system",     p->id,         "--public-key", KEY_PLACEHOLDER,
                                "--postgresql", h->name };
        YbBuf b = YB_BUF_INIT;
        int r = 0;

        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(words); i++) {
                if (i > 0)
                        r = yb_buf_append_u8(&b, ' ');
                if (r >= 0)
                        r = yb_shell_quote(&b, words[i]);
        }
        if (r >= 0)
                r = yb_buf_append(&b, " %p %f", 7);
        if (r < 0) {
                yb_buf_done(&b);
                return NULL;
        }
        return (char *) b.data;
}

json_t *cli_archive_settings(const YbPolicy *p, const YbHook *h) {
        _cleanup_free_ char *cmd = NULL, *quoted = NULL, *line = NULL, *store = NULL, *key = NULL,
                            *why = NULL;
        json_t *o;

        if (p->tier2_store || !physical(h))
                return NULL;
        cmd = archive_command(p, h);
        quoted = cmd ? conf_quote(cmd) : NULL;
        if (!quoted || asprintf(&line, "archive_command = %s", quoted) < 0 ||
            asprintf(&store,
                     "the URL of tier1's store '%s' (yunbakd.yaml, stores) as host '%s' reaches "
                     "it: a directory, sftp://user@host[:port]/path (then add --ssh-key and "
                     "--known-hosts), or s3://bucket[/prefix] (then add --s3-endpoint and "
                     "--s3-credentials, and the store's other s3 options)",
                     p->tier1_store, p->host) < 0 ||
            asprintf(&key,
                     "the path of %s.pub, the system's public key (never its private key), on "
                     "host '%s', readable by PostgreSQL's user, who runs the command: it must "
                     "also write the store and the agent's state directory (its own, "
                     "~/.local/state/yunbak-agent, unless --state-dir DIR is added)",
                     p->id, p->host) < 0 ||
            asprintf(&why,
                     "PostgreSQL archives a WAL file once it is full (16 MiB by default), which "
                     "on a quiet database can take hours; archive_timeout = %d switches to a new "
                     "file at least every %d s when anything was written, so the RPO between "
                     "backups is %d s at most (archive_mode needs a restart of the server, the "
                     "others a reload)",
                     ARCHIVE_TIMEOUT_SEC, ARCHIVE_TIMEOUT_SEC, ARCHIVE_TIMEOUT_SEC) < 0)
                return NULL;
        o = json_pack("{s:s, s:s, s:s, s:i, s:[s, s, s], s:{s:s, s:s}, s:s}", "hook", h->name,
                      "archive_mode", "on", "archive_command", cmd, "archive_timeout",
                      ARCHIVE_TIMEOUT_SEC, "lines", "archive_mode = on", line,
                      "archive_timeout = " XSTR(ARCHIVE_TIMEOUT_SEC), "placeholders",
                      STORE_PLACEHOLDER, store, KEY_PLACEHOLDER, key, "why", why);
        return o;
}

/* Prints "<label>: <text>" at explain's indent, wrapped at 100 columns. */
static void print_note(const char *label, const char *text) {
        size_t col = 15 + strlen(label) + 2;

        printf("  %-13s%s:", "", label);
        for (const char *w = text; *w;) {
                size_t n = strcspn(w, " ");

                if (col + 1 + n > 100 && col > 17) {
                        printf("\n  %-15s", "");
                        col = 17;
                } else {
                        putchar(' ');
                        col++;
                }
                printf("%.*s", (int) n, w);
                col += n;
                w += n;
                w += strspn(w, " ");
        }
        putchar('\n');
}

void cli_archive_settings_print(json_t *a) {
        json_t *v;
        const char *k;
        size_t i;

        printf("  %-13sits WAL goes into tier1's store by PostgreSQL's archive_command (no\n"
               "  %-13stier2): set in postgresql.conf on the host\n",
               "", "");
        json_array_foreach(json_object_get(a, "lines"), i, v)
                printf("  %-15s%s\n", "", json_string_value(v));
        json_object_foreach(json_object_get(a, "placeholders"), k, v)
                print_note(k, json_string_value(v));
        print_note("why archive_timeout", json_string_value(json_object_get(a, "why")));
}
