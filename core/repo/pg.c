/* PostgreSQL's names for WAL positions and files, and where a cluster lives in a snapshot. */
#include "core/repo/pg.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/buf.h"
#include "core/base/macro.h"

bool yb_pg_name_valid(const char *name) {
        size_t n = strlen(name);

        return n > 0 && n <= YB_PG_NAME_MAX && name[0] != '.' &&
               strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") ==
                       n;
}

void yb_pg_backup_done(YbPgBackup *b) {
        if (!b)
                return;
        free(b->data_directory);
        b->data_directory = NULL;
}

/* n (1..8) hex digits at s; the number of digits read, or -EINVAL. */
static int hex32(const char *s, uint32_t *ret, char end) {
        uint32_t v = 0;
        int n = 0;

        for (; s[n] && s[n] != end; n++) {
                char c = s[n];
                int d;

                if (c >= '0' && c <= '9')
                        d = c - '0';
                else if (c >= 'a' && c <= 'f')
                        d = c - 'a' + 10;
                else if (c >= 'A' && c <= 'F')
                        d = c - 'A' + 10;
                else
                        return -EINVAL;
                if (n == 8)
                        return -EINVAL;
                v = (v << 4) | (uint32_t) d;
        }
        if (n == 0 || s[n] != end)
                return -EINVAL;
        *ret = v;
        return n;
}

int yb_pg_lsn_parse(const char *s, uint64_t *ret) {
        uint32_t hi, lo;
        int n;

        if (!s)
                return -EINVAL;
        n = hex32(s, &hi, '/');
        if (n < 0)
                return n;
        if (hex32(s + n + 1, &lo, 0) < 0)
                return -EINVAL;
        *ret = ((uint64_t) hi << 32) | lo;
        return 0;
}

void yb_pg_lsn_format(uint64_t lsn, char ret[YB_PG_LSN_MAX + 1]) {
        snprintf(ret, YB_PG_LSN_MAX + 1, "%" PRIX32 "/%" PRIX32, (uint32_t) (lsn >> 32),
                 (uint32_t) lsn);
}

static bool segment_size_valid(uint32_t size) {
        return size >= (1u << 20) && size <= (1u << 30) && (size & (size - 1)) == 0;
}

void yb_pg_wal_name(uint32_t timeline, uint64_t lsn, uint32_t segment_size,
                    char ret[YB_PG_WAL_NAME_LEN + 1]) {
        uint64_t segno = lsn / segment_size, per_log = UINT64_C(0x100000000) / segment_size;

        snprintf(ret, YB_PG_WAL_NAME_LEN + 1, "%08" PRIX32 "%08" PRIX32 "%08" PRIX32, timeline,
                 (uint32_t) (segno / per_log), (uint32_t) (segno % per_log));
}

int yb_pg_wal_name_parse(const char *name, uint32_t segment_size, uint32_t *ret_timeline,
                         uint64_t *ret_segno) {
        char part[9];
        uint32_t v[3];
        uint64_t per_log;

        if (!name || strlen(name) != YB_PG_WAL_NAME_LEN || !segment_size_valid(segment_size))
                return -EINVAL;
        for (int i = 0; i < 3; i++) {
                memcpy(part, name + 8 * i, 8);
                part[8] = 0;
                for (int j = 0; j < 8; j++)
                        if (!((part[j] >= '0' && part[j] <= '9') ||
                              (part[j] >= 'A' && part[j] <= 'F')))
                                return -EINVAL;
                if (hex32(part, &v[i], 0) < 0)
                        return -EINVAL;
        }
        per_log = UINT64_C(0x100000000) / segment_size;
        if (v[0] == 0 || v[2] >= per_log)
                return -EINVAL;
        *ret_timeline = v[0];
        *ret_segno = (uint64_t) v[1] * per_log + v[2];
        return 0;
}

/* "_pg/<hook><rest>"; NULL when out of memory. */
static char *hook_path(const char *hook, const char *rest) {
        char *s = NULL;

        if (asprintf(&s, "%s/%s%s", YB_PG_DIR, hook, rest) < 0)
                return NULL;
        return s;
}

char *yb_pg_path_root(const char *hook) {
        return hook_path(hook, "");
}

char *yb_pg_path_data(const char *hook) {
        return hook_path(hook, "/data");
}

char *yb_pg_path_tablespace(const char *hook, uint32_t oid) {
        char rest[32];

        snprintf(rest, sizeof(rest), "/tablespaces/%" PRIu32, oid);
        return hook_path(hook, rest);
}

char *yb_pg_path_wal_dir(const char *hook) {
        return hook_path(hook, "/wal");
}

char *yb_pg_path_wal(const char *hook, const char *wal_name, int64_t offset) {
        char *s = NULL;
        int r;

        if (offset < 0)
                r = asprintf(&s, "%s/%s/wal/%s", YB_PG_DIR, hook, wal_name);
        else
                r = asprintf(&s, "%s/%s/wal/%s.%08" PRIX64, YB_PG_DIR, hook, wal_name,
                             (uint64_t) offset);
        return r < 0 ? NULL : s;
}

/* The hook of "_pg/<hook>/wal/<name>": copied into ret_hook, and the name returned; NULL when
 * path is not of that form. */
static const char *wal_dir_hook(const char *path, char ret_hook[YB_PG_NAME_MAX + 1]) {
        const char *hook, *slash;

        if (strncmp(path, YB_PG_DIR "/", strlen(YB_PG_DIR) + 1) != 0)
                return NULL;
        hook = path + strlen(YB_PG_DIR) + 1;
        slash = strchr(hook, '/');
        if (!slash || slash == hook || (size_t) (slash - hook) > YB_PG_NAME_MAX ||
            strncmp(slash, "/wal/", 5) != 0)
                return NULL;
        memcpy(ret_hook, hook, (size_t) (slash - hook));
        ret_hook[slash - hook] = 0;
        return slash + 5;
}

int yb_pg_path_wal_parse(const char *path, char ret_hook[YB_PG_NAME_MAX + 1],
                         char ret_wal[YB_PG_WAL_NAME_LEN + 1], int64_t *ret_offset) {
        char hook[YB_PG_NAME_MAX + 1];
        const char *name = wal_dir_hook(path, hook);
        size_t n;
        uint32_t off = 0;

        if (!name)
                return 0;
        n = strlen(name);
        if (n != YB_PG_WAL_NAME_LEN && n != YB_PG_WAL_NAME_LEN + 9)
                return 0;
        for (size_t i = 0; i < YB_PG_WAL_NAME_LEN; i++)
                if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'A' && name[i] <= 'F')))
                        return 0;
        if (n > YB_PG_WAL_NAME_LEN) {
                if (name[YB_PG_WAL_NAME_LEN] != '.' ||
                    hex32(name + YB_PG_WAL_NAME_LEN + 1, &off, 0) != 8)
                        return 0;
        }
        strcpy(ret_hook, hook);
        memcpy(ret_wal, name, YB_PG_WAL_NAME_LEN);
        ret_wal[YB_PG_WAL_NAME_LEN] = 0;
        *ret_offset = n > YB_PG_WAL_NAME_LEN ? (int64_t) off : -1;
        return 1;
}

int yb_pg_history_name_parse(const char *name, uint32_t *ret_timeline) {
        char part[9];
        uint32_t tli;

        if (!name || strlen(name) != YB_PG_HISTORY_NAME_LEN || !streq(name + 8, ".history"))
                return -EINVAL;
        memcpy(part, name, 8);
        part[8] = 0;
        for (int i = 0; i < 8; i++)
                if (!((part[i] >= '0' && part[i] <= '9') || (part[i] >= 'A' && part[i] <= 'F')))
                        return -EINVAL;
        if (hex32(part, &tli, 0) < 0 || tli == 0)
                return -EINVAL;
        *ret_timeline = tli;
        return 0;
}

char *yb_pg_path_history(const char *hook, uint32_t timeline) {
        char *s = NULL;

        if (asprintf(&s, "%s/%s/wal/%08" PRIX32 ".history", YB_PG_DIR, hook, timeline) < 0)
                return NULL;
        return s;
}

int yb_pg_path_history_parse(const char *path, char ret_hook[YB_PG_NAME_MAX + 1],
                             uint32_t *ret_timeline) {
        char hook[YB_PG_NAME_MAX + 1];
        const char *name = wal_dir_hook(path, hook);
        uint32_t tli;

        if (!name || yb_pg_history_name_parse(name, &tli) < 0)
                return 0;
        strcpy(ret_hook, hook);
        *ret_timeline = tli;
        return 1;
}

int yb_pg_conninfo_append(YbBuf *b, const char *key, const char *value) {
        int r = yb_buf_printf(b, "%s%s='", b->size > 0 ? " " : "", key);

        for (const char *c = value; r >= 0 && *c; c++) {
                if (*c == '\'' || *c == '\\')
                        r = yb_buf_append(b, "\\", 1);
                if (r >= 0)
                        r = yb_buf_append(b, c, 1);
        }
        if (r >= 0)
                r = yb_buf_append(b, "'", 1);
        return r;
}
