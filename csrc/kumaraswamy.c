/*
 * Kumaraswamy CDF input warp w(x) = 1 - (1 - x^a)^b on [0, 1], its inverse and
 * its partial derivatives (see fasthpo_native.h for the contract).
 *
 * Everything is computed in log space (log1p/expm1/pow where each is the more
 * precise) so that no intermediate cancels or underflows on the way: with
 * u = a log x = log(x^a) and L = log(1 - x^a) (see log1m_pow), the formulas
 * become
 *
 *   w     = -expm1(b L)
 *   dw/dx =  exp(log a + log b + (a - 1) log x + (b - 1) L)
 *   dw/da = -exp(log b + (b - 1) L + u + log(-log x))
 *   dw/db = -exp(b L) L
 *
 * and every exponent is finite for x in (0, 1), so the only non-finite output
 * is a derivative that genuinely overflows to +inf, and no product of an
 * overflowed and an underflowed factor can make a NaN. The price is a relative
 * error of about |exponent| ulps (at most ~1e-13, for x near 1e-300). The
 * gradient first tries cheaper plain products of the same quantities and falls
 * back to these exponent sums whenever a product leaves the normal range. The
 * endpoints x <= 0 and x >= 1 are handled separately by their one-sided limits.
 */
#include "fasthpo_native.h"

#include <float.h>
#include <math.h>

#define FH_LN2 0.693147180559945309417232121458176568

/* L = log(1 - x^a) for x in (0, 1), given lx = log x < 0.
 *
 * Three regimes of u = a log x = log(x^a):
 *   - x^a < 1/2: log1p(-x^a), with x^a from pow() so that it keeps full
 *     relative precision however small it is (exp(u) would lose |u| ulps);
 *   - 1/2 <= x^a, |u| >= 1e-8: log(-expm1(u)), since 1 - x^a = -expm1(u)
 *     without cancellation;
 *   - |u| < 1e-8: 1 - x^a = -u (1 + u/2 + O(u^2)), so L = log a + log(-log x)
 *     + u/2 to within u^2/24. This stays finite and accurate even when u itself
 *     underflows (x one ulp below 1 with a tiny a), where x^a would round to 1
 *     and give log(0). */
static inline double log1m_pow(double x, double lx, double a)
{
    const double u = a * lx;
    if (u < -FH_LN2) {
        return log1p(-pow(x, a));
    }
    if (u < -1e-8) {
        return log(-expm1(u));
    }
    return log(a) + log(-lx) + 0.5 * u;
}

void fh_kumaraswamy_cdf(const double *x, ptrdiff_t n, double a, double b,
                        double *out)
{
    /* x^a < 1/2 when x < 2^(-1/a): deciding log1m_pow's first regime from x
     * saves computing log x there (either form is accurate near the split). */
    const double x_half = pow(0.5, 1.0 / a);
    for (ptrdiff_t i = 0; i < n; ++i) {
        const double xi = x[i];
        if (!(xi > 0.0)) {
            out[i] = 0.0;
        } else if (xi >= 1.0) {
            out[i] = 1.0;
        } else if (xi < x_half) {
            out[i] = -expm1(b * log1p(-pow(xi, a)));
        } else {
            out[i] = -expm1(b * log1m_pow(xi, log(xi), a));
        }
    }
}

void fh_kumaraswamy_inverse(const double *w, ptrdiff_t n, double a, double b,
                            double *out)
{
    const double inv_a = 1.0 / a;
    for (ptrdiff_t i = 0; i < n; ++i) {
        const double wi = w[i];
        if (!(wi > 0.0)) {
            out[i] = 0.0;
        } else if (wi >= 1.0) {
            out[i] = 1.0;
        } else {
            /* v = log(1 - x^a) = log(1 - w) / b. Below x^a = 1/2, take x^a =
             * -expm1(v) directly (full relative precision, and exact when
             * a = b = 1); above it, go through log(x^a) = log1p(-e^v), which
             * keeps x^a's distance from 1. */
            const double v = log1p(-wi) / b;
            out[i] = (v > -FH_LN2) ? pow(-expm1(v), inv_a) : exp(log1p(-exp(v)) / a);
        }
    }
}

/* The three partials at an interior x by plain products, reusing t = x^a,
 * s = 1 - x^a and E = s^b:
 *   dw/dx = a b (t / x) (E / s),  dw/da = b (E / s) t log x,  dw/db = -E L.
 * Four transcendental calls instead of seven. Returns 0 (and writes nothing)
 * when an intermediate could have lost the answer to underflow or overflow:
 * s not safely away from 0, t or E subnormal, or a product outside the normal
 * range; the caller then takes the exponent-sum route, which cannot. */
static inline int grad_by_products(double xi, double a, double b,
                                   double *dx, double *da, double *db)
{
    const double lx = log(xi);
    const double u = a * lx;
    double t, s, L;
    if (u < -FH_LN2) {
        t = pow(xi, a); /* not exp(u), which would lose |u| ulps */
        s = 1.0 - t;    /* t < 1/2: no cancellation */
        L = log1p(-t);
    } else if (u < -1e-8) {
        s = -expm1(u);
        t = 1.0 - s; /* s <= 1/2: exact enough */
        L = log(s);
    } else {
        return 0;
    }
    const double E = exp(b * L);
    if (!(t >= DBL_MIN && E >= DBL_MIN)) {
        return 0;
    }
    const double E_over_s = E / s; /* s^(b-1) */
    const double gx = a * b * (t / xi) * E_over_s;
    const double ga = b * E_over_s * t * lx;
    if (!(gx >= DBL_MIN && gx <= DBL_MAX && -ga >= DBL_MIN && -ga <= DBL_MAX)) {
        return 0;
    }
    *dx = gx;
    *da = ga;
    *db = -E * L;
    return 1;
}

void fh_kumaraswamy_grad(const double *x, ptrdiff_t n, double a, double b,
                         double *dw_dx, double *dw_da, double *dw_db)
{
    /* One-sided limits of dw/dx at the endpoints: x^(a-1) at 0, (1-x^a)^(b-1)
     * at 1; the exponent 0 case leaves the constant factor. */
    const double dx_at_0 = (a < 1.0) ? INFINITY : (a == 1.0 ? b : 0.0);
    const double dx_at_1 = (b < 1.0) ? INFINITY : (b == 1.0 ? a : 0.0);
    const double log_a = log(a);
    const double log_b = log(b);

    for (ptrdiff_t i = 0; i < n; ++i) {
        const double xi = x[i];
        if (!(xi > 0.0)) {
            dw_dx[i] = dx_at_0;
            dw_da[i] = 0.0;
            dw_db[i] = 0.0;
        } else if (xi >= 1.0) {
            dw_dx[i] = dx_at_1;
            dw_da[i] = 0.0;
            dw_db[i] = 0.0;
        } else if (!grad_by_products(xi, a, b, &dw_dx[i], &dw_da[i], &dw_db[i])) {
            /* Exponent sums: every exponent is finite, so the result is the
             * correctly overflowed or underflowed value, never NaN. */
            const double lx = log(xi);
            const double L = log1m_pow(xi, lx, a);
            dw_dx[i] = exp(log_a + log_b + (a - 1.0) * lx + (b - 1.0) * L);
            dw_da[i] = -exp(log_b + (b - 1.0) * L + a * lx + log(-lx));
            dw_db[i] = -exp(b * L) * L;
        }
    }
}
