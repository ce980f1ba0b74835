/* core/codec/sigsum.h: a librsync signature's header and the sums of one of its blocks, as
 * librsync writes them for RS_RK_BLAKE2_SIG_MAGIC signatures: a header of the magic, the block
 * length and the strong length (big-endian), then per block the RabinKarp weak sum and the
 * BLAKE2b-256 strong sum (libsodium's, the same function as librsync's libb2 and faster on this
 * kind of CPU). Both the signature builder (delta.c) and the delta generator (deltagen.c) write
 * entries with them, byte for byte what librsync writes. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define YB_SIG_STRONG_MAX 32
/* The longest block a signature of ours has (yb_sig_params: files of 256 GiB and more). */
#define YB_SIG_BLOCK_MAX (1024 * 1024)
#define YB_SIG_HEADER_SIZE 12
/* librsync's RabinKarp weak sum: its multiplier (its seed is 1). */
#define YB_SIG_RK_MULT 0x08104225U

/* The big-endian 32-bit word at p, as a signature's header and weak sums are written. */
static inline uint32_t yb_sig_be32(const uint8_t *p) {
        return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

/* The header of a signature of blocks of block bytes with strong sums of strong bytes. */
void yb_sig_header(size_t block, size_t strong, uint8_t ret[static YB_SIG_HEADER_SIZE]);

/* The block length of signature sig (one of ours: RS_RK_BLAKE2_SIG_MAGIC) and how many blocks it
 * sums: 0, or -EBADMSG when sig is not one. */
int yb_sig_shape(const void *sig, size_t n, size_t *ret_block, uint64_t *ret_blocks);

/* The weak sum of n bytes. */
uint32_t yb_sig_weak(const uint8_t *p, size_t n);
/* The same, computed without the vector instructions yb_sig_weak uses where the CPU has them (so
 * that tests compare the two). */
uint32_t yb_sig_weak_scalar(const uint8_t *p, size_t n);
/* A block's entry: its weak sum (given), big-endian, then its strong sum, YB_SIG_STRONG_MAX
 * bytes of which a signature keeps the first strong_len. */
void yb_sig_entry(const uint8_t *p, size_t n, uint32_t weak,
                  uint8_t ret[static 4 + YB_SIG_STRONG_MAX]);
