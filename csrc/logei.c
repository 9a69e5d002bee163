/*
 * Log expected improvement for minimisation, and the scaled complementary
 * error function erfcx it rests on (see fasthpo_native.h for the contracts).
 *
 * Notation: z = (best - mu) / sigma; phi, Phi the standard normal density and
 * CDF; EI = sigma h(z) with h(z) = phi(z) + z Phi(z). For t = |z| >= 0 let
 *
 *   m(t) = (1 - Phi(t)) / phi(t)        the Mills ratio, ~ 1/t for large t,
 *   w(t) = 1 - t m(t) = h(-t) / phi(t)  in (0, 1], ~ 1/t^2 for large t.
 *
 * Everything is assembled from m and w without subtracting nearly equal
 * numbers:
 *
 *   z < 0:  log h = -t^2/2 - log sqrt(2 pi) + log w,
 *           Phi/h = m / w (~ t),   phi/h = 1 / w (~ t^2);
 *   z >= 0: h = z + phi(z) w(z)     (from h(z) - h(-z) = z; both terms >= 0),
 *           Phi = 1 - phi(z) m(z)   (the subtracted term is at most 1/2).
 *
 * This is the LogEI of Ament et al. (NeurIPS 2023) with one change: their
 * erfcx form log(1 - sqrt(pi/2) t erfcx(t / sqrt 2)) loses log10(t^2) digits
 * to cancellation as t grows (w ~ 1/t^2 is a small difference of numbers near
 * 1), which would spoil the ratios Phi/h and phi/h that the acquisition
 * gradient needs. Here w itself is what the approximation delivers.
 *
 * With x = t / sqrt 2, m = sqrt(pi/2) erfcx(x) and t m = sqrt(pi) x erfcx(x).
 * Two piecewise-polynomial approximations cover x >= 0:
 *
 *   0 <= x < 1/2:  erfcx(x) itself (degree 16 in t = 4x - 1); here
 *                  t m <= 0.55, so w = 1 - t m does not cancel;
 *   x >= 1/2:      F(x) = x^2 (1 - sqrt(pi) x erfcx(x)) = x^2 w, which rises
 *                  from 0.11 to its limit 1/2 as x -> inf; then
 *                  w = F / x^2, m = (1 - w) / t and
 *                  erfcx(x) = (1 - F / x^2) / (sqrt(pi) x), all to full
 *                  relative precision however large x is. On [1/2, 5/2) in
 *                  eight pieces of width 1/4 (degree 12 in t = 8x - 5 - 2k,
 *                  exact in floating point); beyond, in y = 4 / (4 + x) in
 *                  (0, 8/13], pieces of width 1/18 (degree 10 in
 *                  t = 36y - 2k - 1), which reach x = +inf (y = 0) smoothly.
 *
 * The coefficients are Chebyshev interpolants at the first-kind Chebyshev
 * points of each piece, computed in 50-digit arithmetic and rounded to double,
 * by this script (mpmath):
 *
 *     import mpmath as mp
 *
 *     mp.mp.dps = 50
 *
 *     def erfcx(x):
 *         with mp.workdps(70):
 *             return +(mp.erfc(x) * mp.exp(x * x))
 *
 *     def F(x):  # x^2 (1 - sqrt(pi) x erfcx(x)); extra digits absorb the cancellation
 *         with mp.workdps(70 + int(2 * mp.log10(x))):
 *             return +(x * x * (1 - mp.sqrt(mp.pi) * x * mp.erfc(x) * mp.exp(x * x)))
 *
 *     def G(y):  # F as a function of y = 4 / (4 + x)
 *         return mp.mpf(1) / 2 if y == 0 else F(4 * (1 - y) / y)
 *
 *     def piece(f, a, b, degree):
 *         # Chebyshev interpolant of f on [a, b], as monomials in t = (2v - a - b) / (b - a)
 *         n = degree + 1
 *         th = [mp.pi * (i + mp.mpf(1) / 2) / n for i in range(n)]
 *         fv = [f((a + b) / 2 + (b - a) / 2 * mp.cos(u)) for u in th]
 *         c = [mp.fsum(v * mp.cos(j * u) for v, u in zip(fv, th)) * (2 if j else 1) / n for j in range(n)]
 *         T = [[mp.mpf(1)], [mp.mpf(0), mp.mpf(1)]]
 *         while len(T) < n:  # T_j = 2 t T_{j-1} - T_{j-2}, as coefficient lists
 *             T.append([2 * u - v for u, v in zip([0, *T[-1]], [*T[-2], 0, 0])])
 *         return [mp.fsum(c[j] * T[j][i] for j in range(i, n)) for i in range(n)]
 *
 *     q = mp.mpf(1) / 4
 *     tables = {
 *         "ERFCX_SMALL": [piece(erfcx, 0, 2 * q, 16)],
 *         "F_MID": [piece(F, 2 * q + k * q, 3 * q + k * q, 12) for k in range(8)],
 *         "F_FAR": [piece(G, mp.mpf(k) / 18, mp.mpf(k + 1) / 18, 10) for k in range(12)],
 *     }
 *     for name, rows in tables.items():
 *         print(name)
 *         for row in rows:
 *             print("    {" + ", ".join("%.17g" % float(v) for v in row) + "},")
 *
 * Measured against mpmath, erfcx is within 1.5 ulp for x >= 0 (2 ulp for
 * x < 0) and F within 1.1 ulp; log EI and its two ratios within 2.5 ulp. The
 * tests compare erfcx with scipy.special.erfcx and mpmath, and log EI with an
 * independent 60-digit evaluation of phi + z Phi.
 */
#include "fasthpo_native.h"

#include <float.h>
#include <math.h>

#define FH_INV_SQRT_PI 0.564189583547756286948079451560772586 /* 1 / sqrt(pi) */
#define FH_SQRT1_2 0.707106781186547524400844362104849039
#define FH_SQRT_PI_2 1.25331413731550025120788264240552263      /* sqrt(pi / 2) */
#define FH_INV_SQRT_2PI 0.398942280401432677939946059934381868  /* 1 / sqrt(2 pi) */
#define FH_LOG_SQRT_2PI 0.91893853320467274178032973640561764   /* log sqrt(2 pi) */
#define FH_LN2 0.693147180559945309417232121458176568

/* Beyond this z, phi(z) underflows and h(z) = z to the last bit: EI = best - mu. */
#define FH_Z_FAR 1e150

/* erfcx on [0, 1/2], in t = 4x - 1. */
static const double ERFCX_SMALL[17] = {
    0.77034654773099676, -0.18580147330750355, 0.036534067151468327,
    -0.0062194752565014689, 0.00094733099671771436, -0.00013180360649457334,
    1.6990153962980062e-05, -2.0502402239074846e-06, 2.3343615218517876e-07,
    -2.5233389454764515e-08, 2.6025344948942842e-09, -2.5716962021186713e-10,
    2.4430956630645461e-11, -2.2369950781096456e-12, 1.9808355635159585e-13,
    -1.7492009099260813e-14, 1.4542168898715624e-15,
};

/* F on [1/2 + k/4, 3/4 + k/4], k = 0..7, in t = 8x - 5 - 2k. */
static const double F_MID[8][13] = {
    {
        0.14967604800008871, 0.035067511300067092, -0.0011944719196660685,
        -0.00014111195504217119, 3.0617176917744142e-05, -3.5248896350409944e-06,
        3.1513594781058985e-07, -2.4112833956079286e-08, 1.6485091037482344e-09,
        -1.0315011893761887e-10, 5.9991503837749042e-12, -3.3050527264333413e-13,
        1.7085001240589346e-14,
    },
    {
        0.2142988226406457, 0.029345220012917977, -0.0015263540660072072,
        2.2280111233628434e-06, 9.0239236985085792e-06, -1.197995720733861e-06,
        1.0902743951337515e-07, -8.2093794202938467e-09, 5.4516149993343199e-10,
        -3.2943901148865434e-11, 1.8454903176005304e-12, -9.7757177245335895e-14,
        4.8604438246581265e-15,
    },
    {
        0.26701376876596389, 0.023477212054081969, -0.0013707576638381329,
        4.0171261256626452e-05, 1.7859776621381017e-06, -3.8900142757382304e-07,
        3.8024210012737679e-08, -2.8702438046022242e-09, 1.8677769969925938e-10,
        -1.095482933677712e-11, 5.9296420186715539e-13, -3.0267992733388145e-14,
        1.4497170597277343e-15,
    },
    {
        0.30882476882113474, 0.018508451233483651, -0.0011104994428132954,
        4.3659357203919509e-05, -4.5437094228286135e-07, -1.082003398666697e-07,
        1.3018833853803955e-08, -1.0183878622734888e-09, 6.5817729175486793e-11,
        -3.7728326425157899e-12, 1.9814405270950211e-13, -9.7740685114537888e-15,
        4.5184639715630523e-16,
    },
    {
        0.3417389339825686, 0.014569272849472799, -0.00086556146938227593,
        3.7309433271653247e-05, -9.7958601656060389e-07, -1.4288215662916202e-08,
        4.1426018411683439e-09, -3.6012010086675161e-10, 2.3634167893879967e-11,
        -1.3375315563694627e-12, 6.854033415574787e-14, -3.2789813931013203e-15,
        1.4666199858721763e-16,
    },
    {
        0.3676978031317194, 0.011522905844337357, -0.00066556887191137682,
        2.9398457208761118e-05, -9.5286845887116709e-07, 1.3533846580330854e-08,
        1.0386641464107517e-09, -1.2287660811153466e-10, 8.5350888580152548e-12,
        -4.8444850342158874e-13, 2.4414047033771625e-14, -1.1380727490073184e-15,
        4.9400096876433878e-17,
    },
    {
        0.38830176688427726, 0.0091841548721447591, -0.00051078424270907443,
        2.2427261413962055e-05, -7.8172372763268147e-07, 1.8691046825502468e-08,
        1.6587074147739875e-11, -3.755956844678193e-11, 3.0349074848614213e-12,
        -1.7747579230527467e-13, 8.8991332063344349e-15, -4.0679441868006254e-16,
        1.7202780724440563e-17,
    },
    {
        0.40479444523126312, 0.0073866142609987518, -0.00039350330615751001,
        1.6907339818702968e-05, -6.0154675100117066e-07, 1.6798265090242418e-08,
        -2.6380262818345434e-10, -7.7820433587173686e-12, 1.019849785842055e-12,
        -6.4788947165697975e-14, 3.2931796433512114e-15, -1.4895422451888344e-16,
        6.1683403183978872e-18,
    },
};

/* F on y = 4 / (4 + x) in [k/18, (k+1)/18], k = 0..11, in t = 36y - 2k - 1. */
static const double F_FAR[12][11] = {
    {
        0.49996173957378504, -7.8697125624687406e-05, -4.2700653168406841e-05,
        -2.3545689364385147e-06, -9.3634338488316107e-08, -3.105783721835515e-09,
        -8.8739625357923241e-11, -2.1577372546300927e-12, -4.1548308031561061e-14,
        -4.4968743198949664e-16, 8.5539908611036386e-18,
    },
    {
        0.49961310265749215, -0.00028101737527217504, -5.9346577532218654e-05,
        -3.2433583831087722e-06, -1.3066892544755724e-07, -4.3713399118350586e-09,
        -1.2386360250733574e-10, -2.8747008525301823e-12, -4.6914040808340112e-14,
        -5.3454849949427903e-17, 3.4752226594857457e-17,
    },
    {
        0.49878549583683746, -0.00056188021645698142, -8.232423218113015e-05,
        -4.4850751598048565e-06, -1.8267128698473222e-07, -6.1199751006655105e-09,
        -1.6925680458483578e-10, -3.5895530865097521e-12, -3.8879118946308671e-14,
        1.1542227793114981e-15, 9.3193542394101803e-17,
    },
    {
        0.49729342799296439, -0.0009513672683684278, -0.00011415148905808838,
        -6.220397615498961e-06, -2.550690286400995e-07, -8.4668179979633131e-09,
        -2.2272149494405322e-10, -3.9348465169633054e-12, 4.3637746632683141e-15,
        4.0717512094715434e-15, 2.1133520385865812e-16,
    },
    {
        0.49487995752202663, -0.0014915020607026998, -0.00015832894510313579,
        -8.6374283361313519e-06, -3.5417785917935878e-07, -1.1457942294495656e-08,
        -2.737695926727554e-10, -3.035589365776317e-12, 1.2649204502612637e-13,
        1.027804797960656e-14, 4.2974938579010681e-16,
    },
    {
        0.49118848682190724, -0.0022407710762408, -0.00021963788452131851,
        -1.1974383039941869e-05, -4.8584409428605143e-07, -1.4916974648037454e-08,
        -2.935670382752836e-10, 9.5089959705708918e-13, 4.0754544491207073e-13,
        2.2266312575119274e-14, 7.9770950868188146e-16,
    },
    {
        0.48572432866831772, -0.0032798110458190427, -0.00030440677359178618,
        -1.6503390093400363e-05, -6.518039618177845e-07, -1.8125466151640247e-08,
        -2.1667697693644963e-10, 1.1554038797153788e-11, 9.8118839018254396e-13,
        4.3472156874280184e-14, 1.3560034882175133e-15,
    },
    {
        0.47780403136970956, -0.0047178218991215685, -0.00042056270992687627,
        -2.2469024770382795e-05, -8.4153068656387295e-07, -1.9216148210689207e-08,
        8.9148674269023596e-11, 3.496915325957018e-11, 2.0484357800361232e-12,
        7.7792596456303731e-14, 2.1031712865864545e-15,
    },
    {
        0.46649231587385392, -0.0066981322393447696, -0.00057706193778546085,
        -2.993194726791055e-05, -1.015914502208937e-06, -1.4116546020141569e-08,
        8.6797809696569839e-10, 8.1151434438602554e-11, 3.8758564321776945e-12,
        1.2830478455052701e-13, 2.9514988903389401e-15,
    },
    {
        0.45053170870332282, -0.009398994657984841, -0.00078189447320634129,
        -3.8431922102663328e-05, -1.0773797255107603e-06, 5.1356656813271998e-09,
        2.5348148938614097e-09, 1.6465500729141883e-10, 6.7630257241674109e-12,
        1.9517038995019138e-13, 3.6942961931285458e-15,
    },
    {
        0.42828179752246309, -0.013021253070023409, -0.0010372002005661666,
        -4.6334530056160829e-05, -8.1941882831784101e-07, 5.2838136514596057e-08,
        5.7413154748828679e-09, 3.0462530050847967e-10, 1.0968342924670657e-11,
        2.7325613183989224e-13, 4.0151901999897855e-15,
    },
    {
        0.39770880384695767, -0.017746811898141104, -0.0013290427973264734,
        -4.9665968738773952e-05, 1.5217666743995792e-07, 1.5281939102014679e-07,
        1.1431558289614025e-08, 5.2328402043846414e-10, 1.6597177446508859e-11,
        3.5055415706126348e-13, 3.5601738883501666e-15,
    },
};

/* a^2 = hi + lo exactly, for |a| <= 1e150 (Dekker's product by Veltkamp
 * splitting: portable, and still exact if the compiler contracts it into fused
 * multiply-adds). exp of a multiple of hi + lo then keeps exp's own accuracy,
 * where exp of the rounded a^2 would lose a^2 ulps. */
static inline void square_split(double a, double *hi, double *lo)
{
    const double c = 134217729.0 * a; /* 2^27 + 1 */
    const double ah = c - (c - a);
    const double al = a - ah;
    *hi = a * a;
    *lo = ((ah * ah - *hi) + 2.0 * ah * al) + al * al;
}

/* exp(-a^2 / 2) for |a| <= 1e150. */
static inline double exp_minus_half_square(double a)
{
    double hi, lo;
    square_split(a, &hi, &lo);
    const double e = exp(-0.5 * hi);
    return e - (0.5 * lo) * e;
}

static inline double horner(const double *p, int degree, double t)
{
    double acc = p[degree];
    for (int i = degree - 1; i >= 0; --i) {
        acc = acc * t + p[i];
    }
    return acc;
}

/* erfcx(x) for 0 <= x < 1/2. */
static inline double erfcx_small(double x)
{
    return horner(ERFCX_SMALL, 16, 4.0 * x - 1.0);
}

/* F(x) = x^2 (1 - sqrt(pi) x erfcx(x)) for x >= 1/2, including x = +inf. */
static inline double f_large(double x)
{
    if (x < 2.5) {
        int k = (int)(4.0 * x - 2.0);
        k = (k < 0) ? 0 : (k > 7 ? 7 : k);
        return horner(F_MID[k], 12, 8.0 * x - (double)(5 + 2 * k));
    }
    const double y = 4.0 / (4.0 + x);
    int k = (int)(18.0 * y);
    k = (k > 11) ? 11 : k;
    return horner(F_FAR[k], 10, 36.0 * y - (double)(2 * k + 1));
}

/* erfcx(x) for x >= 0 (or +inf). */
static inline double erfcx_nonnegative(double x)
{
    if (x < 0.5) {
        return erfcx_small(x);
    }
    const double w = (f_large(x) / x) / x;
    return ((1.0 - w) * FH_INV_SQRT_PI) / x; /* not / (sqrt(pi) x), which overflows first */
}

void fh_erfcx(const double *x, ptrdiff_t n, double *out)
{
    for (ptrdiff_t i = 0; i < n; ++i) {
        const double xi = x[i];
        if (xi >= 0.0) {
            out[i] = erfcx_nonnegative(xi);
        } else if (xi < 0.0) {
            /* erfcx(x) = 2 exp(x^2) - erfcx(-x), without cancellation (the
             * first term is at least 2, the second at most 1). */
            const double e = exp(xi * xi);
            if (e <= DBL_MAX) {
                double hi, lo;
                square_split(xi, &hi, &lo);
                out[i] = 2.0 * (e + e * lo) - erfcx_nonnegative(-xi);
            } else {
                out[i] = INFINITY;
            }
        } else {
            out[i] = xi; /* NaN */
        }
    }
}

/* log EI at one candidate, and its two partial derivatives. */
static inline double log_ei_one(double mu, double sigma, double best,
                                double *d_mu, double *d_sigma)
{
    const double d = best - mu;
    const double z = d / sigma;
    const double t = fabs(z);
    const double x = t * FH_SQRT1_2;

    if (z < 0.0) {
        double log_w, inv_w, m_over_w;
        if (x < 0.5) {
            const double m = FH_SQRT_PI_2 * erfcx_small(x);
            const double w = 1.0 - t * m; /* t m <= 0.55 */
            log_w = log(w);
            inv_w = 1.0 / w;
            m_over_w = m * inv_w;
        } else {
            /* w = F / x^2, 1/w = x^2 / F and m / w = (1 - w) / (t w)
             * = (1 - w) (x / t) (x / F) with x / t = 1/sqrt 2: written so that
             * nothing overflows or underflows before the result does. */
            const double F = f_large(x);
            const double x_over_f = x / F;
            const double w = (F / x) / x;
            log_w = (w >= DBL_MIN) ? log(w) : log(F) - 2.0 * log(x);
            inv_w = x * x_over_f;
            m_over_w = (1.0 - w) * FH_SQRT1_2 * x_over_f;
        }
        *d_mu = -m_over_w / sigma;
        *d_sigma = inv_w / sigma;
        return log(sigma) + ((-0.5 * t * t - FH_LOG_SQRT_2PI) + log_w);
    }
    if (z <= FH_Z_FAR) {
        double m, w;
        if (x < 0.5) {
            m = FH_SQRT_PI_2 * erfcx_small(x);
            w = 1.0 - t * m;
        } else {
            w = (f_large(x) / x) / x;
            m = (1.0 - w) / t;
        }
        const double pdf = exp_minus_half_square(z) * FH_INV_SQRT_2PI;
        const double h = z + pdf * w;       /* both terms >= 0 */
        const double cdf = 1.0 - pdf * m;   /* pdf m = 1 - Phi(z) <= 1/2 */
        *d_mu = -(cdf / h) / sigma;
        *d_sigma = (pdf / h) / sigma;
        return log(sigma) + log(h);
    }
    /* z beyond 1e150 (possibly +inf after overflow): EI = sigma z = best - mu,
     * computed from d so that it stays finite; halved first if best - mu
     * itself overflowed. */
    *d_sigma = 0.0;
    if (d <= DBL_MAX) {
        *d_mu = -1.0 / d;
        return log(d);
    }
    const double half = 0.5 * best - 0.5 * mu;
    *d_mu = -0.5 / half;
    return log(half) + FH_LN2;
}

void fh_log_ei(const double *mu, const double *sigma, ptrdiff_t m, double best,
               double *log_ei, double *d_mu, double *d_sigma)
{
    if (d_mu != NULL && d_sigma != NULL) {
        for (ptrdiff_t i = 0; i < m; ++i) {
            log_ei[i] = log_ei_one(mu[i], sigma[i], best, &d_mu[i], &d_sigma[i]);
        }
    } else {
        for (ptrdiff_t i = 0; i < m; ++i) {
            double unused_mu, unused_sigma;
            log_ei[i] = log_ei_one(mu[i], sigma[i], best, &unused_mu, &unused_sigma);
        }
    }
}
