/*
 * Matérn-5/2 ARD kernel matrices and the fused gradient passes built on them
 * (see fasthpo_native.h for the contracts).
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
 *
 * The pair factors (sqrt, exponential, polynomial) are then computed over the
 * block of r^2 values in a loop of its own, with the branch-free exponential of
 * exp_nonpositive.h, so that it vectorises too. The passes are compiled twice
 * (FH_SIMD_CLONES: baseline and AVX2, chosen at load time); sources are built
 * with -ffp-contract=off, so both clones give the same bits.
 */
#include "fasthpo_native.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "exp_nonpositive.h"
#include "simd_clones.h"

#define FH_SQRT5 2.23606797749978969640917366873127624

/* Columns per block: a d x FH_BLOCK slice of ZT is 80 KiB at d = 20. */
#define FH_BLOCK 512

/* The two distance-dependent factors of a pair, from r^2, with s = sqrt(5) r so
 * that 5/3 r^2 = s^2 / 3: k / amplitude = (1 + s + s^2/3) e^{-s}, and the
 * gradients' q = (1 + s) e^{-s}. Every pass below computes them through these
 * two loops over a contiguous block (no calls inside: they vectorise), so K, P and
 * the gradients agree bit for bit whichever pass computed them. kq may be r2. */
FH_INLINE void kernel_factors(const double *r2, ptrdiff_t len, double *kq)
{
    for (ptrdiff_t j = 0; j < len; ++j) {
        const double s = FH_SQRT5 * sqrt(r2[j]);
        kq[j] = (1.0 + s + s * s * (1.0 / 3.0)) * fh_exp_nonpositive(-s);
    }
}

FH_INLINE void both_factors(const double *restrict r2, ptrdiff_t len,
                                double *restrict kq, double *restrict q)
{
    for (ptrdiff_t j = 0; j < len; ++j) {
        const double s = FH_SQRT5 * sqrt(r2[j]);
        const double e = fh_exp_nonpositive(-s);
        kq[j] = (1.0 + s + s * s * (1.0 / 3.0)) * e;
        q[j] = (1.0 + s) * e;
    }
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

/* out[j - j0] = squared scaled distance from z to column j of ZT, j in [j0, j1);
 * every kernel pass below gets its distances from here, so they agree bit for bit. */
FH_INLINE void sq_dist_row(const double *restrict z, ptrdiff_t z_stride,
                        const double *restrict ZT, ptrdiff_t ld, ptrdiff_t d,
                        ptrdiff_t j0, ptrdiff_t j1, double *restrict out)
{
    const ptrdiff_t len = j1 - j0;
    for (ptrdiff_t j = 0; j < len; ++j) {
        out[j] = 0.0;
    }
    for (ptrdiff_t k = 0; k < d; ++k) {
        const double zk = z[k * z_stride];
        const double *restrict col = ZT + k * ld + j0;
        for (ptrdiff_t j = 0; j < len; ++j) {
            const double diff = zk - col[j];
            out[j] += diff * diff;
        }
    }
}

/* out[j] = k(z, column j of ZT) for j in [j0, j1). z has stride z_stride (1 for
 * a row of Z, n for a column of ZT); ZT has leading dimension ld. */
FH_INLINE void kernel_row(const double *restrict z, ptrdiff_t z_stride,
                       const double *restrict ZT, ptrdiff_t ld, ptrdiff_t d,
                       ptrdiff_t j0, ptrdiff_t j1, double amplitude,
                       double *restrict out)
{
    const ptrdiff_t len = j1 - j0;
    double *row = out + j0;
    sq_dist_row(z, z_stride, ZT, ld, d, j0, j1, row);
    kernel_factors(row, len, row);
    for (ptrdiff_t j = 0; j < len; ++j) {
        row[j] *= amplitude;
    }
}

/* K's strict lower triangle from its upper one, and amplitude on the diagonal
 * (r = 0 exactly), tile by tile so both the rows read and the columns written
 * stay in cache. */
static void mirror_upper(double *K, ptrdiff_t n, double amplitude)
{
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
}

/* kernel_row, also keeping the two factors of each pair the gradient pass needs
 * (see fh_matern52_symmetric_parts): row i of P gets q = (1 + s) e^{-s} at the
 * columns of the strict upper triangle, and column i gets k / a below the diagonal.
 * K's entries are the same arithmetic as kernel_row's. r2 is scratch of j1 - j0. */
FH_INLINE void kernel_row_parts(const double *restrict ZT, ptrdiff_t n, ptrdiff_t d,
                                    ptrdiff_t i, ptrdiff_t j0, ptrdiff_t j1, double amplitude,
                                    double *restrict out, double *restrict P,
                                    double *restrict r2)
{
    const ptrdiff_t len = j1 - j0;
    double *restrict row = out + j0;
    sq_dist_row(ZT + i, n, ZT, n, d, j0, j1, r2);
    both_factors(r2, len, row, P + i * n + j0);
    for (ptrdiff_t j = 0; j < len; ++j) { /* strided: the column, then the scaling */
        P[(j0 + j) * n + i] = row[j];
    }
    for (ptrdiff_t j = 0; j < len; ++j) {
        row[j] *= amplitude;
    }
}

/* K (and, unless P is NULL, the pair factors into P) over the strict upper
 * triangle, block of columns by block of columns, then mirrored. */
FH_SIMD_CLONES
static int symmetric_pass(const double *X, ptrdiff_t n, ptrdiff_t d,
                          const double *lengthscales, double amplitude,
                          double *K, double *P)
{
    if (n <= 0) {
        return FH_OK;
    }
    double *ZT = alloc_rows(n, d);
    if (ZT == NULL) {
        return FH_ENOMEM;
    }
    scale_transpose(X, n, d, lengthscales, ZT);
    double r2[FH_BLOCK];
    for (ptrdiff_t j0 = 0; j0 < n; j0 += FH_BLOCK) {
        const ptrdiff_t j1 = (n - j0 > FH_BLOCK) ? j0 + FH_BLOCK : n;
        for (ptrdiff_t i = 0; i + 1 < j1; ++i) {
            const ptrdiff_t start = (i + 1 > j0) ? i + 1 : j0;
            if (P == NULL) {
                kernel_row(ZT + i, n, ZT, n, d, start, j1, amplitude, K + i * n);
            } else {
                kernel_row_parts(ZT, n, d, i, start, j1, amplitude, K + i * n, P, r2);
            }
        }
    }
    mirror_upper(K, n, amplitude);
    free(ZT);
    return FH_OK;
}

int fh_matern52_symmetric(const double *X, ptrdiff_t n, ptrdiff_t d,
                          const double *lengthscales, double amplitude,
                          double *K)
{
    return symmetric_pass(X, n, d, lengthscales, amplitude, K, NULL);
}

int fh_matern52_symmetric_parts(const double *X, ptrdiff_t n, ptrdiff_t d,
                                const double *lengthscales, double amplitude,
                                double *K, double *P)
{
    return symmetric_pass(X, n, d, lengthscales, amplitude, K, P);
}

FH_SIMD_CLONES
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

/* ---- Gradients --------------------------------------------------------------
 *
 * Both derivatives of k share one factor. With s = sqrt(5) r and the scaled
 * difference dz_k = (x_k - x'_k) / l_k:
 *
 *   dk/dlog l_k = q (5/3) a dz_k^2,        dk/dx_k = -q (5/3) a dz_k / l_k,
 *   q           = (1 + s) e^{-s},
 *
 * where r has cancelled, so both are smooth at r = 0 (where they vanish).
 *
 * Each pass first sweeps a block of columns with the transposed layout above to
 * get r^2 (inner loop over columns, vectorised), turns those into per-pair
 * weights w_ij q_ij, and then accumulates the gradients pair by pair with the
 * inner loop over the d coordinates of the row-major copy Z: every update there
 * is elementwise into a length-d accumulator (no reduction across the loop), so
 * it vectorises too, and the summation order is fixed by the loop structure
 * alone. The results are therefore bit-for-bit reproducible, and the constant
 * factor (5/3) a and the 1/l_k are applied once at the end. */

/* acc_l[k] += q dz_k^2 for one pair (row zi, row zj of Z). */
FH_INLINE void pair_ls(const double *restrict zi, const double *restrict zj, double q,
                           ptrdiff_t d, double *restrict acc_l)
{
    for (ptrdiff_t k = 0; k < d; ++k) {
        const double diff = zi[k] - zj[k];
        acc_l[k] += (q * diff) * diff;
    }
}

/* As pair_ls, and the input-gradient terms q dz_k: summed into acc_x for row i
 * and added to row j's gradient gj (the pair's other end, of opposite sign). */
FH_INLINE void pair_ls_x(const double *restrict zi, const double *restrict zj, double q,
                             ptrdiff_t d, double *restrict acc_l, double *restrict acc_x,
                             double *restrict gj)
{
    for (ptrdiff_t k = 0; k < d; ++k) {
        const double diff = zi[k] - zj[k];
        const double t = q * diff;
        acc_l[k] += t * diff;
        acc_x[k] += t;
        gj[k] += t;
    }
}

/* fh_matern52_lml_grad, reading the pairs' factors from P when it is not NULL
 * (fh_matern52_symmetric_parts) instead of computing distances and exponentials again. */
FH_SIMD_CLONES
static int lml_grad(const double *X, ptrdiff_t n, ptrdiff_t d,
                    const double *lengthscales, double amplitude,
                    const double *W, const double *P, double *g_log_ls, double *g_log_amp,
                    double *G_X)
{
    for (ptrdiff_t k = 0; k < d; ++k) {
        g_log_ls[k] = 0.0;
    }
    *g_log_amp = 0.0;
    if (G_X != NULL) {
        for (ptrdiff_t e = 0; e < n * d; ++e) {
            G_X[e] = 0.0;
        }
    }
    if (n <= 0) {
        return FH_OK;
    }
    /* One buffer: Z (n x d), ZT (d x n), then two accumulators of length d. */
    double *Z = alloc_rows(2 * n + 2, d);
    if (Z == NULL) {
        return FH_ENOMEM;
    }
    double *ZT = Z + n * d;
    double *acc_l = ZT + n * d;
    double *acc_x = acc_l + d;
    scale_rows(X, n, d, lengthscales, Z);
    scale_transpose(X, n, d, lengthscales, ZT);
    double r2[FH_BLOCK];
    double kq[FH_BLOCK];
    double q[FH_BLOCK];

    /* The diagonal: K_ii = a, and no derivative in l or x. */
    double k_sum = 0.0; /* sum over pairs of W_ij K_ij / a, each unordered pair once */
    for (ptrdiff_t i = 0; i < n; ++i) {
        k_sum += 0.5 * W[i * n + i];
    }

    /* Strict upper triangle (each unordered pair once, which absorbs the 1/2 of
     * the symmetric double sum), block of columns by block of columns. */
    for (ptrdiff_t j0 = 0; j0 < n; j0 += FH_BLOCK) {
        const ptrdiff_t j1 = (n - j0 > FH_BLOCK) ? j0 + FH_BLOCK : n;
        for (ptrdiff_t i = 0; i + 1 < j1; ++i) {
            const ptrdiff_t start = (i + 1 > j0) ? i + 1 : j0;
            const ptrdiff_t len = j1 - start;
            const double *Wi = W + i * n + start;
            double row_k = 0.0;
            if (P != NULL) {
                const double *Pi = P + i * n + start;
                for (ptrdiff_t j = 0; j < len; ++j) {
                    q[j] = Wi[j] * Pi[j];
                }
                for (ptrdiff_t j = 0; j < len; ++j) { /* in order: the same sum as below */
                    row_k += Wi[j] * P[(start + j) * n + i];
                }
            } else {
                sq_dist_row(ZT + i, n, ZT, n, d, start, j1, r2);
                both_factors(r2, len, kq, q);
                for (ptrdiff_t j = 0; j < len; ++j) {
                    q[j] *= Wi[j];
                }
                for (ptrdiff_t j = 0; j < len; ++j) {
                    row_k += Wi[j] * kq[j];
                }
            }
            k_sum += row_k;

            const double *zi = Z + i * d;
            for (ptrdiff_t k = 0; k < d; ++k) {
                acc_l[k] = 0.0;
                acc_x[k] = 0.0;
            }
            if (G_X != NULL) {
                for (ptrdiff_t j = 0; j < len; ++j) {
                    pair_ls_x(zi, Z + (start + j) * d, q[j], d, acc_l, acc_x,
                              G_X + (start + j) * d);
                }
                for (ptrdiff_t k = 0; k < d; ++k) {
                    G_X[i * d + k] -= acc_x[k];
                }
            } else {
                for (ptrdiff_t j = 0; j < len; ++j) {
                    pair_ls(zi, Z + (start + j) * d, q[j], d, acc_l);
                }
            }
            for (ptrdiff_t k = 0; k < d; ++k) {
                g_log_ls[k] += acc_l[k];
            }
        }
    }

    const double c = (5.0 / 3.0) * amplitude;
    for (ptrdiff_t k = 0; k < d; ++k) {
        g_log_ls[k] *= c;
    }
    *g_log_amp = amplitude * k_sum;
    if (G_X != NULL) {
        for (ptrdiff_t k = 0; k < d; ++k) {
            acc_x[k] = c / lengthscales[k];
        }
        for (ptrdiff_t i = 0; i < n; ++i) {
            for (ptrdiff_t k = 0; k < d; ++k) {
                G_X[i * d + k] *= acc_x[k];
            }
        }
    }
    free(Z);
    return FH_OK;
}

int fh_matern52_lml_grad(const double *X, ptrdiff_t n, ptrdiff_t d,
                         const double *lengthscales, double amplitude,
                         const double *W, double *g_log_ls, double *g_log_amp,
                         double *G_X)
{
    return lml_grad(X, n, d, lengthscales, amplitude, W, NULL, g_log_ls, g_log_amp, G_X);
}

int fh_matern52_lml_grad_parts(const double *X, ptrdiff_t n, ptrdiff_t d,
                               const double *lengthscales, double amplitude,
                               const double *W, const double *P, double *g_log_ls,
                               double *g_log_amp, double *G_X)
{
    return lml_grad(X, n, d, lengthscales, amplitude, W, P, g_log_ls, g_log_amp, G_X);
}

/* acc[k] += q dz_k for one pair (candidate zc, row zj of Z). */
FH_INLINE void pair_x(const double *restrict zc, const double *restrict zj, double q,
                          ptrdiff_t d, double *restrict acc)
{
    for (ptrdiff_t k = 0; k < d; ++k) {
        acc[k] += q * (zc[k] - zj[k]);
    }
}

FH_SIMD_CLONES
int fh_matern52_cross_grad(const double *Xc, ptrdiff_t m,
                           const double *X, ptrdiff_t n, ptrdiff_t d,
                           const double *lengthscales, double amplitude,
                           const double *V, double *G)
{
    for (ptrdiff_t e = 0; e < m * d; ++e) {
        G[e] = 0.0;
    }
    if (m <= 0 || n <= 0) {
        return FH_OK;
    }
    /* One buffer: Z (n x d), ZT (d x n), the scaled candidate and an accumulator. */
    double *Z = alloc_rows(2 * n + 2, d);
    if (Z == NULL) {
        return FH_ENOMEM;
    }
    double *ZT = Z + n * d;
    double *zc = ZT + n * d;
    double *acc = zc + d;
    scale_rows(X, n, d, lengthscales, Z);
    scale_transpose(X, n, d, lengthscales, ZT);
    double r2[FH_BLOCK];
    double q[FH_BLOCK];

    for (ptrdiff_t j0 = 0; j0 < n; j0 += FH_BLOCK) {
        const ptrdiff_t j1 = (n - j0 > FH_BLOCK) ? j0 + FH_BLOCK : n;
        const ptrdiff_t len = j1 - j0;
        for (ptrdiff_t c = 0; c < m; ++c) {
            scale_rows(Xc + c * d, 1, d, lengthscales, zc);
            sq_dist_row(zc, 1, ZT, n, d, j0, j1, r2);
            const double *Vc = V + c * n + j0;
            for (ptrdiff_t j = 0; j < len; ++j) {
                const double s = FH_SQRT5 * sqrt(r2[j]);
                q[j] = Vc[j] * ((1.0 + s) * fh_exp_nonpositive(-s));
            }
            for (ptrdiff_t k = 0; k < d; ++k) {
                acc[k] = 0.0;
            }
            for (ptrdiff_t j = 0; j < len; ++j) {
                pair_x(zc, Z + (j0 + j) * d, q[j], d, acc);
            }
            for (ptrdiff_t k = 0; k < d; ++k) {
                G[c * d + k] -= acc[k];
            }
        }
    }

    for (ptrdiff_t k = 0; k < d; ++k) {
        acc[k] = (5.0 / 3.0) * amplitude / lengthscales[k];
    }
    for (ptrdiff_t c = 0; c < m; ++c) {
        for (ptrdiff_t k = 0; k < d; ++k) {
            G[c * d + k] *= acc[k];
        }
    }
    free(Z);
    return FH_OK;
}
