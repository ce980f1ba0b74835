/* core/codec/deltafmt.h: librsync's delta format (its doc/format), for the code that reads or
 * writes deltas without librsync: our delta generator (deltagen.c) and a delta applied in place
 * (inplace.c). A delta is a
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
#define YB_DELTA_OP_LITERAL_MAX 0x40 /* the last literal whose length is its opcode */
#define YB_DELTA_OP_LITERAL_N1 0x41  /* + 0-3: the length takes 1, 2, 4, 8 bytes */
#define YB_DELTA_OP_COPY_N1_N1 0x45  /* + 4 * (start's width index) + (length's) */
#define YB_DELTA_OP_COPY_LAST 0x54

typedef enum { YB_DELTA_END, YB_DELTA_LITERAL, YB_DELTA_COPY, YB_DELTA_BAD } YbDeltaOp;

/* What opcode op is, and the widths in bytes of its parameters: a literal's length (0 when the
 * opcode is the length), a copy's start and length (*ret_w2; 0 for the others). */
static inline YbDeltaOp yb_delta_op(uint8_t op, size_t *ret_w1, size_t *ret_w2) {
        *ret_w1 = *ret_w2 = 0;
        if (op == YB_DELTA_OP_END)
                return YB_DELTA_END;
        if (op <= YB_DELTA_OP_LITERAL_MAX)
                return YB_DELTA_LITERAL;
        if (op < YB_DELTA_OP_COPY_N1_N1) {
                *ret_w1 = (size_t) 1 << (op - YB_DELTA_OP_LITERAL_N1);
                return YB_DELTA_LITERAL;
        }
        if (op <= YB_DELTA_OP_COPY_LAST) {
                *ret_w1 = (size_t) 1 << ((op - YB_DELTA_OP_COPY_N1_N1) / 4);
                *ret_w2 = (size_t) 1 << ((op - YB_DELTA_OP_COPY_N1_N1) % 4);
                return YB_DELTA_COPY;
        }
        return YB_DELTA_BAD;
}
