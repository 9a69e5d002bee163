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

/* ---- Matérn-5/2 gradients --------------------------------------------------
 *
 * With s = sqrt(5) r, q = (1 + s) exp(-s) and the scaled difference
 * dz_k = (x_k - x'_k) / lengthscales[k]:
 *   dk/dlog lengthscales[k] =  (5/3) amplitude q dz_k^2,
 *   dk/dx_k                 = -(5/3) amplitude q dz_k / lengthscales[k].
 * Both are O(n^2 d) single passes that never form an n x n x d tensor, and
 * sum in an order fixed by the sizes alone: results are bit-reproducible.
 */

/* Log-marginal-likelihood gradient pieces of K = k(X, X) against a symmetric
 * weight matrix W (n x n; the caller passes alpha alpha^T - K_y^{-1}):
 *   g_log_ls[k] = 1/2 sum_ij W_ij dK_ij/dlog lengthscales[k]   (d, out),
 *   *g_log_amp  = 1/2 sum_ij W_ij K_ij                         (out),
 *   G_X[i, k]   = sum_j W_ij dk(x_i, x_j)/dx_ik                (n x d, out;
 *                 skipped when G_X is NULL).
 * Only the upper triangle of W, diagonal included (W_ij with i <= j), is read.
 * X: n x d. Scratch: 2 n d + 2 d doubles. */
int fh_matern52_lml_grad(const double *X, ptrdiff_t n, ptrdiff_t d,
                         const double *lengthscales, double amplitude,
                         const double *W, double *g_log_ls, double *g_log_amp,
                         double *G_X);

/* The MAP fit's pair of passes without computing each distance and exponential
 * twice. fh_matern52_symmetric_parts fills K exactly as fh_matern52_symmetric
 * does and P (n x n) with the two factors of each pair i < j that the gradient
 * needs: P[i, j] = (1 + s) e^{-s} and P[j, i] = K_ij / amplitude, each computed
 * as fh_matern52_lml_grad computes it; fh_matern52_lml_grad_parts is
 * fh_matern52_lml_grad reading them from P, with bit-identical results. */
int fh_matern52_symmetric_parts(const double *X, ptrdiff_t n, ptrdiff_t d,
                                const double *lengthscales, double amplitude,
                                double *K, double *P);
int fh_matern52_lml_grad_parts(const double *X, ptrdiff_t n, ptrdiff_t d,
                               const double *lengthscales, double amplitude,
                               const double *W, const double *P, double *g_log_ls,
                               double *g_log_amp, double *G_X);
/* G[c, k] = sum_i V[c, i] dk(xc_c, x_i)/dxc_ck for candidates Xc (m x d)
 * against points X (n x d) with weights V (m x n); G: m x d (out).
 * Scratch: 2 n d + 2 d doubles. */
int fh_matern52_cross_grad(const double *Xc, ptrdiff_t m,
                           const double *X, ptrdiff_t n, ptrdiff_t d,
                           const double *lengthscales, double amplitude,
                           const double *V, double *G);

/* out[i] = exp(x[i]) for x[i] <= 0 (0 below about -745.13, NaN for NaN): the
 * branch-free exponential the Matérn passes use (exp_nonpositive.h), within
 * 2 ulp of libm's exp (1 ulp in every measurement). Positive arguments are outside its contract. */
void fh_exp_nonpositive_array(const double *x, ptrdiff_t n, double *out);

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

/* ---- Log expected improvement (minimisation) -------------------------------
 *
 *   EI = E[max(best - f, 0)], f ~ N(mu, sigma^2),  = sigma h(z),
 *   z  = (best - mu) / sigma,  h(z) = phi(z) + z Phi(z).
 *
 * Computed without cancellation for every z: finite wherever log EI is a
 * finite double (|z| up to ~1e154), -inf beyond; never NaN for finite mu,
 * finite best and finite sigma > 0.
 */

/* log_ei[i] = log EI(mu[i], sigma[i]); when d_mu and d_sigma are both non-NULL
 * they receive d log EI / d mu = -Phi(z) / (sigma h(z)) and
 * d log EI / d sigma = phi(z) / (sigma h(z)). */
void fh_log_ei(const double *mu, const double *sigma, ptrdiff_t m, double best,
               double *log_ei, double *d_mu, double *d_sigma);

/* out[i] = erfcx(x[i]) = exp(x^2) erfc(x), to about an ulp for x >= 0; +inf
 * where it overflows (x < -26.6), NaN for NaN. */
void fh_erfcx(const double *x, ptrdiff_t n, double *out);

#ifdef __cplusplus
}
#endif

#endif /* FASTHPO_NATIVE_H */
