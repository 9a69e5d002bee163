/*
 * exp(x) for x <= 0, written so that a loop of calls vectorises.
 *
 * The Matérn passes need e^{-s} for whole rows of s >= 0, and glibc's scalar
 * exp was about 40 % of their time: a call per element, which also stops the
 * compiler from vectorising the loop around it. This one is straight-line
 * arithmetic (no calls, no branches, no tables), so GCC turns a loop over it
 * into SIMD code, 2 lanes with SSE2 and 4 in the AVX2 clones.
 *
 * Method (Cody–Waite): x = k ln 2 + r with k = round(x / ln 2) and |r| <= ln 2 / 2,
 * r computed in two steps with ln 2 split so that k ln2_hi is exact; e^r by its
 * Taylor polynomial of degree 13 (truncation below 0.03 ulp there), summed as
 * 1 + (r + r^2 q(r)) so that the last rounding is the one of the final sum;
 * then 2^k applied as two exact powers of two 2^k1 2^k2, k1 + k2 = k, both
 * normal, so results in the subnormal range are rounded once, as libm's are.
 * Measured at most 1 ulp from glibc's exp on 2e7 points evenly over [-746.5, 0]
 * and on [-0.5, 0] (the tests sweep it against libm's and allow 2 ulp). Arguments below
 * -746 are treated as -746, whose exponential rounds to 0 as the true one does;
 * a NaN stays NaN. Only +, -, * on fixed double constants and bit operations are used
 * and the sources are compiled with -ffp-contract=off, so every build and every
 * instruction set gives the same bits.
 */
#ifndef FASTHPO_EXP_NONPOSITIVE_H
#define FASTHPO_EXP_NONPOSITIVE_H

#include <stdint.h>
#include <string.h>

/* 1.5 * 2^52: adding it rounds a double of magnitude below 2^51 to an integer,
 * which then sits in the low bits of the sum's representation. */
#define FH_EXP_SHIFT 6755399441055744.0
#define FH_EXP_LOG2E 1.4426950408889634
#define FH_EXP_LN2_HI 0.6931471803691238     /* 32 significant bits: k ln2_hi is exact */
#define FH_EXP_LN2_LO 1.9082149292705877e-10 /* ln 2 - ln2_hi */

static inline uint64_t fh_exp_bits(double v)
{
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    return b;
}

static inline double fh_exp_from_bits(uint64_t b)
{
    double v;
    memcpy(&v, &b, sizeof v);
    return v;
}

/* 2^j for an integer-valued double j in [-1022, 1023]. */
static inline double fh_exp_pow2(double j)
{
    /* Unsigned arithmetic: the biased exponent is j + 1023 modulo 2^64, exact here. */
    const uint64_t i = fh_exp_bits(j + FH_EXP_SHIFT) - fh_exp_bits(FH_EXP_SHIFT);
    return fh_exp_from_bits((i + 1023u) << 52);
}

/* e^x for x <= 0 (or NaN); see the comment at the top. */
static inline double fh_exp_nonpositive(double x)
{
    x = (x < -746.0) ? -746.0 : x;
    const double k = (x * FH_EXP_LOG2E + FH_EXP_SHIFT) - FH_EXP_SHIFT; /* round(x / ln 2) */
    const double r = (x - k * FH_EXP_LN2_HI) - k * FH_EXP_LN2_LO;
    double q = 1.6059043836821613e-10;          /* 1/13! */
    q = q * r + 2.08767569878681e-09;           /* 1/12! */
    q = q * r + 2.505210838544172e-08;          /* 1/11! */
    q = q * r + 2.755731922398589e-07;          /* 1/10! */
    q = q * r + 2.7557319223985893e-06;         /* 1/9! */
    q = q * r + 2.48015873015873e-05;           /* 1/8! */
    q = q * r + 0.0001984126984126984;          /* 1/7! */
    q = q * r + 0.001388888888888889;           /* 1/6! */
    q = q * r + 0.008333333333333333;           /* 1/5! */
    q = q * r + 0.041666666666666664;           /* 1/4! */
    q = q * r + 0.16666666666666666;            /* 1/3! */
    q = q * r + 0.5;                            /* 1/2! */
    const double p = 1.0 + (r + (r * r) * q);
    /* k in [-1076, 0]: halves rounded to even keep both factors normal. */
    const double k1 = (k * 0.5 + FH_EXP_SHIFT) - FH_EXP_SHIFT;
    return (p * fh_exp_pow2(k1)) * fh_exp_pow2(k - k1);
}

#endif /* FASTHPO_EXP_NONPOSITIVE_H */
