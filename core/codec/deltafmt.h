/* core/codec/deltafmt.h: librsync's delta format (its doc/format), for the code that reads
 * deltas without librsync: the signature borrowed from the old one (sigreuse.c), a delta
 * applied in place (inplace.c) and the split delta's join (agents/delta-split.c). A delta is a
 * 4-byte magic, then commands, each an opcode byte and big-endian parameters: 0 ends, and
 * nothing may follow; 0x01-0x40 a literal of that many bytes; 0x41-0x44 a literal whose length
 * takes 1, 2, 4 or 8 bytes; 0x45-0x54 a copy whose start and length take 1, 2, 4 or 8 bytes each
 * (start's size in the high half of the opcode's offset); the rest are not used. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define YB_DELTA_MAGIC 0x72730236U /* librsync's RS_DELTA_MAGIC */
#define YB_DELTA_MAGIC_SIZE 4
#define YB_DELTA_OP_END 0x00

typedef enum { YB_DELTA_END, YB_DELTA_LITERAL, YB_DELTA_COPY, YB_DELTA_BAD } YbDeltaOp;

/* What opcode op is, and the widths in bytes of its parameters: a literal's length (0 when the
 * opcode is the length), a copy's start and length (*ret_w2; 0 for the others). */
static inline YbDeltaOp yb_delta_op(uint8_t op, size_t *ret_w1, size_t *ret_w2) {
        *ret_w1 = *ret_w2 = 0;
        if (op == YB_DELTA_OP_END)
                return YB_DELTA_END;
        if (op <= 0x40)
                return YB_DELTA_LITERAL;
        if (op <= 0x44) {
                *ret_w1 = (size_t) 1 << (op - 0x41);
                return YB_DELTA_LITERAL;
        }
        if (op <= 0x54) {
                *ret_w1 = (size_t) 1 << ((op - 0x45) / 4);
                *ret_w2 = (size_t) 1 << ((op - 0x45) % 4);
                return YB_DELTA_COPY;
        }
        return YB_DELTA_BAD;
}
