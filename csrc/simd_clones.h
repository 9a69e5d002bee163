/*
 * FH_SIMD_CLONES: compile a function twice, for baseline x86-64 (SSE2) and for
 * AVX2, and pick one when the extension is loaded (GCC's target_clones, an
 * ifunc resolved by glibc from the CPU's features). A wheel built with it still
 * runs on any x86-64 CPU. Elsewhere (other compilers, other architectures,
 * C libraries without ifunc) it is empty and the plain function is built.
 *
 * FH_INLINE: helpers of a cloned function, forced inline so that their loops are
 * compiled for each clone's instruction set too.
 *
 * The clones differ only in vector width: the sources are compiled with
 * -ffp-contract=off (setup.py), so no multiply-add is fused in either and both
 * give the same bits.
 */
#ifndef FASTHPO_SIMD_CLONES_H
#define FASTHPO_SIMD_CLONES_H

#include <stdlib.h> /* defines __GLIBC__ on glibc */

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) \
    && defined(__GLIBC__) && !defined(FH_NO_SIMD_CLONES)
#define FH_SIMD_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define FH_SIMD_CLONES
#endif

#if defined(__GNUC__)
#define FH_INLINE static inline __attribute__((always_inline))
#else
#define FH_INLINE static inline
#endif

#endif /* FASTHPO_SIMD_CLONES_H */
