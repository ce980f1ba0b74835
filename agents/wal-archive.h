/* agents/wal-archive.h: the parts of `yunbak-agent wal-archive` (PostgreSQL's archive_command;
 * docs/postgresql.md, "WAL archive without tier 2"): the command and its flow
 * (agents/wal-archive.c), the file PostgreSQL hands it (agents/wal-file.c), and the agent's
 * memory of what it archived (agents/wal-seen.c). Lower parts never call higher ones. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "core/crypto/hash.h"
#include "core/repo/pg.h"

/* What PostgreSQL asks to archive, by its name (%f). */
typedef enum AgentWalKind {
        AGENT_WAL_SEGMENT, /* "000000010000000000000003": a finished WAL file */
        AGENT_WAL_HISTORY, /* "00000002.history": a timeline history file */
        AGENT_WAL_BACKUP,  /* "...00000003.00000028.backup": a backup history file */
        AGENT_WAL_PARTIAL, /* "...00000003.partial": the last, unfinished file of a timeline */
        AGENT_WAL_OTHER,
} AgentWalKind;

AgentWalKind agent_wal_kind(const char *name);

/* A file to archive, opened and read once: its size, BLAKE2b-256 and, for a WAL file, what its
 * first page header says (agents/wal-file.c). */
typedef struct AgentWalFile {
        int fd;
        struct stat st;
        uint8_t hash[YB_HASH_SIZE];
        /* A WAL file's long page header: the cluster's system identifier, the segment size,
         * the timeline and the LSN of the file's first byte. */
        uint64_t system_identifier;
        uint32_t segment_size, timeline;
        uint64_t page_addr;
} AgentWalFile;

/* Opens path (relative to the current directory: PostgreSQL runs archive_command in its data
 * directory) and hashes it. For a WAL file (segment true) also reads and checks its first page
 * header against name: -EBADMSG (said) when it is not the WAL file that name says. Other
 * -errno said too. On success the caller closes ret->fd. */
int agent_wal_file_open(const char *path, const char *name, bool segment, AgentWalFile *ret);

/* The agent's memory of what it archived for a cluster (agents/wal-seen.c): per file name, the
 * BLAKE2b-256 of the bytes archived and the segment that holds them, in
 * <state>/wal-archive/<system>/<hook>/<name>. */
typedef struct AgentWalSeen {
        bool found;
        uint8_t hash[YB_HASH_SIZE];
        char segment[64]; /* the segment's id, or "" */
} AgentWalSeen;

/* What was archived under name: ret->found false when nothing. -errno when the record cannot be
 * read (a damaged one is -EBADMSG). */
int agent_wal_seen_get(const char *state_dir, const char *system, const char *hook,
                       const char *name, AgentWalSeen *ret);
/* Records that name was archived with hash into segment; written atomically and synced. Records
 * of WAL files far older than name (more than 4096 segments before it, on its timeline or an
 * earlier one) are removed now and then: PostgreSQL archives a file again only while it is
 * still in its pg_wal. */
int agent_wal_seen_put(const char *state_dir, const char *system, const char *hook,
                       const char *name, const uint8_t hash[YB_HASH_SIZE], const char *segment);
