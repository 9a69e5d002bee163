/*
 * Matérn-5/2 ARD kernel matrices (see fasthpo_native.h for the contract).
 *
 * Layout of the work: the second set of points is copied, scaled by
 * 1/lengthscale, into a transposed scratch buffer ZT (d x n2), so that for a
 * fixed row i the squared distances to a block of columns accumulate as
 *
 *     for k:  for j in block:  r2[j] += (z_i[k] - ZT[k, j])^2
 *
 * an inner loop over contiguous, independent j that the compiler vectorises
 * with the baseline instruction set (no reduction to reassociate). Column
 * blocks keep the slice of ZT being swept in cache however many columns there
 * are. Each r2 is summed over k in order, so a given pair of points always
 * gets the same bits whichever argument it came from: symmetric(X) equals
 * cross(X, X) exactly.
 */
#include "fasthpo_native.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#define FH_SQRT5 2.23606797749978969640917366873127624

/* Columns per block: a d x FH_BLOCK slice of ZT is 80 KiB at d = 20. */
#define FH_BLOCK 512

/* k(r) from r^2, with s = sqrt(5) r so that 5/3 r^2 = s^2 / 3. */
static inline double matern52_from_r2(double r2, double amplitude)
{
    const double s = FH_SQRT5 * sqrt(r2);
    return amplitude * (1.0 + s + s * s * (1.0 / 3.0)) * exp(-s);
}

/* malloc for rows x d doubles, refusing sizes whose byte count overflows. */
static double *alloc_rows(ptrdiff_t rows, ptrdiff_t d)
{
    if (rows <= 0 || d <= 0) {
        return NULL;
    }
    if ((size_t)rows > SIZE_MAX / sizeof(double) / (size_t)d) {
        return NULL;
    }
    return (double *)malloc((size_t)rows * (size_t)d * sizeof(double));
}

/* dst[i, k] = src[i, k] / lengthscales[k]. Dividing, rather than multiplying
 * by a reciprocal, keeps each scaled coordinate correctly rounded. */
static void scale_rows(const double *restrict src, ptrdiff_t rows, ptrdiff_t d,
                       const double *restrict lengthscales, double *restrict dst)
{
    for (ptrdiff_t i = 0; i < rows; ++i) {
        for (ptrdiff_t k = 0; k < d; ++k) {
            dst[i * d + k] = src[i * d + k] / lengthscales[k];
        }
    }
}

/* dst[k, i] = src[i, k] / lengthscales[k]: scaled and transposed (d x rows). */
static void scale_transpose(const double *restrict src, ptrdiff_t rows, ptrdiff_t d,
                            const double *restrict lengthscales, double *restrict dst)
{
    for (ptrdiff_t i = 0; i < rows; ++i) {
        for (ptrdiff_t k = 0; k < d; ++k) {
            dst[k * rows + i] = src[i * d + k] / lengthscales[k];
        }
    }
}

/* out[j] = k(z, column j of ZT) for j in [j0, j1). z has stride z_stride (1 for
 * a row of Z, n for a column of ZT); ZT has leading dimension ld. */
static void kernel_row(const double *restrict z, ptrdiff_t z_stride,
                       const double *restrict ZT, ptrdiff_t ld, ptrdiff_t d,
                       ptrdiff_t j0, ptrdiff_t j1, double amplitude,
                       double *restrict out)
{
    for (ptrdiff_t j = j0; j < j1; ++j) {
        out[j] = 0.0;
    }
    for (ptrdiff_t k = 0; k < d; ++k) {
        const double zk = z[k * z_stride];
        const double *restrict col = ZT + k * ld;
        for (ptrdiff_t j = j0; j < j1; ++j) {
            const double diff = zk - col[j];
            out[j] += diff * diff;
        }
    }
    for (ptrdiff_t j = j0; j < j1; ++j) {
        out[j] = matern52_from_r2(out[j], amplitude);
    }
}

int fh_matern52_symmetric(const double *X, ptrdiff_t n, ptrdiff_t d,
                          const double *lengthscales, double amplitude,
                          double *K)
{
    if (n <= 0) {
        return FH_OK;
    }
    double *ZT = alloc_rows(n, d);
    if (ZT == NULL) {
        return FH_ENOMEM;
    }
    scale_transpose(X, n, d, lengthscales, ZT);

    /* Strict upper triangle, block of columns by block of columns. */
    for (ptrdiff_t j0 = 0; j0 < n; j0 += FH_BLOCK) {
        const ptrdiff_t j1 = (n - j0 > FH_BLOCK) ? j0 + FH_BLOCK : n;
        for (ptrdiff_t i = 0; i + 1 < j1; ++i) {
            const ptrdiff_t start = (i + 1 > j0) ? i + 1 : j0;
            kernel_row(ZT + i, n, ZT, n, d, start, j1, amplitude, K + i * n);
        }
    }
    /* Diagonal (r = 0 exactly) and the mirror image, tile by tile so both the
     * rows read and the columns written stay in cache. */
    enum { TILE = 32 };
    for (ptrdiff_t i0 = 0; i0 < n; i0 += TILE) {
        const ptrdiff_t i1 = (n - i0 > TILE) ? i0 + TILE : n;
        for (ptrdiff_t j0 = i0; j0 < n; j0 += TILE) {
            const ptrdiff_t j1 = (n - j0 > TILE) ? j0 + TILE : n;
            for (ptrdiff_t i = i0; i < i1; ++i) {
                for (ptrdiff_t j = (j0 > i + 1 ? j0 : i + 1); j < j1; ++j) {
                    K[j * n + i] = K[i * n + j];
                }
            }
        }
        for (ptrdiff_t i = i0; i < i1; ++i) {
            K[i * n + i] = amplitude;
        }
    }
    free(ZT);
    return FH_OK;
}

int fh_matern52_cross(const double *X1, ptrdiff_t n1,
                      const double *X2, ptrdiff_t n2, ptrdiff_t d,
                      const double *lengthscales, double amplitude,
                      double *K)
{
    if (n1 <= 0 || n2 <= 0) {
        return FH_OK;
    }
    /* One buffer: Z1 (n1 x d, row-major) then Z2T (d x n2, transposed). */
    double *Z1 = alloc_rows(n1 + n2, d);
    if (Z1 == NULL) {
        return FH_ENOMEM;
    }
    double *Z2T = Z1 + n1 * d;
    scale_rows(X1, n1, d, lengthscales, Z1);
    scale_transpose(X2, n2, d, lengthscales, Z2T);

    for (ptrdiff_t j0 = 0; j0 < n2; j0 += FH_BLOCK) {
        const ptrdiff_t j1 = (n2 - j0 > FH_BLOCK) ? j0 + FH_BLOCK : n2;
        for (ptrdiff_t i = 0; i < n1; ++i) {
            kernel_row(Z1 + i * d, 1, Z2T, n2, d, j0, j1, amplitude, K + i * n2);
        }
    }
    free(Z1);
    return FH_OK;
}
