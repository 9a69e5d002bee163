/*
 * fasthpo native numerical kernels.
 *
 * Plain C99 with no Python API. Conventions shared by every function:
 *   - arrays are row-major and contiguous; inputs are `const double *`;
 *   - outputs are allocated by the caller and fully overwritten;
 *   - sizes are `ptrdiff_t`; n = 0 is valid and writes nothing; d >= 1;
 *   - arguments are trusted: shapes, finiteness and positivity are checked
 *     once by the Python layer (fasthpo/gp/kernels.py, fasthpo/gp/warping.py);
 *   - a function that allocates returns int: 0 on success, FH_ENOMEM when
 *     its scratch buffer cannot be allocated (outputs are then unspecified).
 */
#ifndef FASTHPO_NATIVE_H
#define FASTHPO_NATIVE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FH_OK 0
#define FH_ENOMEM 1

/* ---- Matérn-5/2 ARD kernel ------------------------------------------------
 *
 *   k(x, x') = amplitude * (1 + sqrt(5) r + 5/3 r^2) * exp(-sqrt(5) r),
 *   r^2      = sum_k ((x_k - x'_k) / lengthscales[k])^2.
 *
 * r^2 is accumulated as a sum of squared scaled differences (never through
 * |a|^2 + |b|^2 - 2 a.b, which cancels catastrophically for close points).
 */

/* X: n x d, lengthscales: d, K: n x n (out). K is exactly symmetric and its
 * diagonal is exactly `amplitude`. */
int fh_matern52_symmetric(const double *X, ptrdiff_t n, ptrdiff_t d,
                          const double *lengthscales, double amplitude,
                          double *K);

/* X1: n1 x d, X2: n2 x d, lengthscales: d, K: n1 x n2 (out). */
int fh_matern52_cross(const double *X1, ptrdiff_t n1,
                      const double *X2, ptrdiff_t n2, ptrdiff_t d,
                      const double *lengthscales, double amplitude,
                      double *K);

/* ---- Kumaraswamy CDF input warp on [0, 1] ----------------------------------
 *
 *   w(x) = 1 - (1 - x^a)^b,   a > 0, b > 0.
 *
 * Inputs outside (0, 1) are clamped to the endpoints, where every output takes
 * its one-sided limit; no function ever writes NaN for finite a, b > 0.
 */

/* out[i] = w(x[i]). */
void fh_kumaraswamy_cdf(const double *x, ptrdiff_t n, double a, double b,
                        double *out);

/* out[i] = w^{-1}(w[i]) = (1 - (1 - w)^(1/b))^(1/a). */
void fh_kumaraswamy_inverse(const double *w, ptrdiff_t n, double a, double b,
                            double *out);

/* Partial derivatives of w at x[i]:
 *   dw_dx = a b x^(a-1) (1 - x^a)^(b-1)
 *   dw_da = b (1 - x^a)^(b-1) x^a log x
 *   dw_db = -(1 - x^a)^b log(1 - x^a)
 * At x <= 0: dw_da = dw_db = 0 and dw_dx = +inf (a < 1), b (a = 1), 0 (a > 1).
 * At x >= 1: dw_da = dw_db = 0 and dw_dx = +inf (b < 1), a (b = 1), 0 (b > 1). */
void fh_kumaraswamy_grad(const double *x, ptrdiff_t n, double a, double b,
                         double *dw_dx, double *dw_da, double *dw_db);

#ifdef __cplusplus
}
#endif

#endif /* FASTHPO_NATIVE_H */
