# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""Thin Cython binding of the C kernels in ``csrc/`` (Matérn-5/2 and its gradients,
Kumaraswamy warp, log expected improvement), and two fused passes that string
them together with BLAS/LAPACK (through ``scipy.linalg.cython_blas`` and
``cython_lapack``, so the extension links no BLAS of its own): the marginal
likelihood with its gradient, and the posterior with its gradient.

Private: call :mod:`fasthpo.gp.kernels`, :mod:`fasthpo.gp.warping` and
:mod:`fasthpo.gp.logei`, which
validate values (dtype, finiteness, positivity) once. This layer only checks
the O(1) facts the C code needs to stay inside its buffers (matching shapes,
d >= 1), since an unchecked mismatch here would corrupt memory rather than
raise. Arrays arrive as typed memoryviews, so no NumPy headers are needed;
outputs are allocated by the caller. Every call releases the GIL.
"""

from cython.view cimport array as cvarray
from libc.math cimport INFINITY, exp, fabs, log, sqrt
from libc.stddef cimport ptrdiff_t
from libc.stdlib cimport free as free_mem, malloc
from scipy.linalg.cython_blas cimport dtrmm, dtrsm, dtrsv
from scipy.linalg.cython_lapack cimport dlauum, dpotrf, dpotrs, dtrti2


cdef extern from "fasthpo_native.h" nogil:
    int fh_matern52_symmetric(const double *X, ptrdiff_t n, ptrdiff_t d,
                              const double *lengthscales, double amplitude,
                              double *K)
    int fh_matern52_cross(const double *X1, ptrdiff_t n1,
                          const double *X2, ptrdiff_t n2, ptrdiff_t d,
                          const double *lengthscales, double amplitude,
                          double *K)
    void fh_kumaraswamy_cdf(const double *x, ptrdiff_t n, double a, double b,
                            double *out)
    void fh_kumaraswamy_inverse(const double *w, ptrdiff_t n, double a, double b,
                                double *out)
    void fh_kumaraswamy_grad(const double *x, ptrdiff_t n, double a, double b,
                             double *dw_dx, double *dw_da, double *dw_db)
    int fh_matern52_lml_grad(const double *X, ptrdiff_t n, ptrdiff_t d,
                             const double *lengthscales, double amplitude,
                             const double *W, double *g_log_ls, double *g_log_amp,
                             double *G_X)
    int fh_matern52_symmetric_parts(const double *X, ptrdiff_t n, ptrdiff_t d,
                                    const double *lengthscales, double amplitude,
                                    double *K, double *P)
    int fh_matern52_lml_grad_parts(const double *X, ptrdiff_t n, ptrdiff_t d,
                                   const double *lengthscales, double amplitude,
                                   const double *W, const double *P, double *g_log_ls,
                                   double *g_log_amp, double *G_X)
    int fh_matern52_cross_grad(const double *Xc, ptrdiff_t m,
                               const double *X, ptrdiff_t n, ptrdiff_t d,
                               const double *lengthscales, double amplitude,
                               const double *V, double *G)
    void fh_log_ei(const double *mu, const double *sigma, ptrdiff_t m, double best,
                   double *log_ei, double *d_mu, double *d_sigma)
    void fh_erfcx(const double *x, ptrdiff_t n, double *out)
    void fh_exp_nonpositive_array(const double *x, ptrdiff_t n, double *out)


cdef inline void _check_lengthscales(const double[::1] lengthscales, Py_ssize_t d) except *:
    if d < 1:
        raise ValueError(f"inputs need at least one column, got d={d}")
    if lengthscales.shape[0] != d:
        raise ValueError(
            f"lengthscales has length {lengthscales.shape[0]}, inputs have d={d} columns"
        )


cdef inline void _check_out(double[:, ::1] K, Py_ssize_t rows, Py_ssize_t cols) except *:
    if K.shape[0] != rows or K.shape[1] != cols:
        raise ValueError(
            f"output K has shape ({K.shape[0]}, {K.shape[1]}), expected ({rows}, {cols})"
        )


def matern52_symmetric(const double[:, ::1] X, const double[::1] lengthscales,
                       double amplitude, double[:, ::1] K):
    """Fill K (n, n) with the Matérn-5/2 ARD kernel of X (n, d) with itself."""
    cdef Py_ssize_t n = X.shape[0]
    cdef Py_ssize_t d = X.shape[1]
    cdef int rc
    _check_lengthscales(lengthscales, d)
    _check_out(K, n, n)
    if n == 0:
        return
    with nogil:
        rc = fh_matern52_symmetric(&X[0, 0], n, d, &lengthscales[0], amplitude, &K[0, 0])
    if rc != 0:
        raise MemoryError(f"matern52_symmetric: cannot allocate scratch for n={n}, d={d}")


def matern52_cross(const double[:, ::1] X1, const double[:, ::1] X2,
                   const double[::1] lengthscales, double amplitude, double[:, ::1] K):
    """Fill K (n1, n2) with the Matérn-5/2 ARD kernel between X1 (n1, d) and X2 (n2, d)."""
    cdef Py_ssize_t n1 = X1.shape[0]
    cdef Py_ssize_t n2 = X2.shape[0]
    cdef Py_ssize_t d = X1.shape[1]
    cdef int rc
    if X2.shape[1] != d:
        raise ValueError(f"X1 has d={d} columns but X2 has {X2.shape[1]}")
    _check_lengthscales(lengthscales, d)
    _check_out(K, n1, n2)
    if n1 == 0 or n2 == 0:
        return
    with nogil:
        rc = fh_matern52_cross(&X1[0, 0], n1, &X2[0, 0], n2, d,
                               &lengthscales[0], amplitude, &K[0, 0])
    if rc != 0:
        raise MemoryError(f"matern52_cross: cannot allocate scratch for n1={n1}, n2={n2}, d={d}")


cdef inline void _check_same_length(Py_ssize_t n, Py_ssize_t m, str name) except *:
    if m != n:
        raise ValueError(f"output {name} has length {m}, input has {n}")


def kumaraswamy_cdf(const double[::1] x, double a, double b, double[::1] out):
    """Fill out (n,) with w(x) = 1 - (1 - x^a)^b."""
    cdef Py_ssize_t n = x.shape[0]
    _check_same_length(n, out.shape[0], "out")
    if n == 0:
        return
    with nogil:
        fh_kumaraswamy_cdf(&x[0], n, a, b, &out[0])


def kumaraswamy_inverse(const double[::1] w, double a, double b, double[::1] out):
    """Fill out (n,) with x such that w = 1 - (1 - x^a)^b."""
    cdef Py_ssize_t n = w.shape[0]
    _check_same_length(n, out.shape[0], "out")
    if n == 0:
        return
    with nogil:
        fh_kumaraswamy_inverse(&w[0], n, a, b, &out[0])


def kumaraswamy_grad(const double[::1] x, double a, double b,
                     double[::1] dw_dx, double[::1] dw_da, double[::1] dw_db):
    """Fill dw_dx, dw_da, dw_db (each (n,)) with the partial derivatives of w at x."""
    cdef Py_ssize_t n = x.shape[0]
    _check_same_length(n, dw_dx.shape[0], "dw_dx")
    _check_same_length(n, dw_da.shape[0], "dw_da")
    _check_same_length(n, dw_db.shape[0], "dw_db")
    if n == 0:
        return
    with nogil:
        fh_kumaraswamy_grad(&x[0], n, a, b, &dw_dx[0], &dw_da[0], &dw_db[0])


cdef inline void _check_shape(Py_ssize_t rows, Py_ssize_t cols,
                              Py_ssize_t want_rows, Py_ssize_t want_cols, str name) except *:
    if rows != want_rows or cols != want_cols:
        raise ValueError(
            f"{name} has shape ({rows}, {cols}), expected ({want_rows}, {want_cols})"
        )


cdef inline void _check_posterior(const double[:, ::1] X, Py_ssize_t d,
                                  const double[::1] lengthscales, const double[:, ::1] L,
                                  const double[::1] alpha) except *:
    """The checks every pass over a fitted posterior (X, L, alpha) makes on its inputs."""
    cdef Py_ssize_t n = X.shape[0]
    if X.shape[1] != d:
        raise ValueError(f"Z has d={d} columns but X has {X.shape[1]}")
    _check_lengthscales(lengthscales, d)
    _check_shape(L.shape[0], L.shape[1], n, n, "L")
    _check_same_length(n, alpha.shape[0], "alpha")


def matern52_lml_grad(const double[:, ::1] X, const double[:, ::1] W,
                      const double[::1] lengthscales, double amplitude,
                      double[::1] g_log_ls, double[:, ::1] G_X=None):
    """Fill g_log_ls (d,) and, unless None, G_X (n, d); return g_log_amp.

    The fused log-marginal-likelihood gradient pass of K = k(X, X) weighted by
    W (n, n), of which only the upper triangle (diagonal included) is read.
    """
    cdef Py_ssize_t n = X.shape[0]
    cdef Py_ssize_t d = X.shape[1]
    cdef double g_log_amp = 0.0
    cdef double *gx = NULL
    cdef int rc
    _check_lengthscales(lengthscales, d)
    _check_shape(W.shape[0], W.shape[1], n, n, "W")
    _check_same_length(d, g_log_ls.shape[0], "g_log_ls")
    if G_X is not None:
        _check_shape(G_X.shape[0], G_X.shape[1], n, d, "output G_X")
    if n == 0:
        g_log_ls[:] = 0.0
        return 0.0
    if G_X is not None:
        gx = &G_X[0, 0]
    with nogil:
        rc = fh_matern52_lml_grad(&X[0, 0], n, d, &lengthscales[0], amplitude,
                                  &W[0, 0], &g_log_ls[0], &g_log_amp, gx)
    if rc != 0:
        raise MemoryError(f"matern52_lml_grad: cannot allocate scratch for n={n}, d={d}")
    return g_log_amp


def matern52_cross_grad(const double[:, ::1] Xc, const double[:, ::1] X,
                        const double[:, ::1] V, const double[::1] lengthscales,
                        double amplitude, double[:, ::1] G):
    """Fill G (m, d) with sum_i V[c, i] dk(Xc[c], X[i]) / dXc[c]."""
    cdef Py_ssize_t m = Xc.shape[0]
    cdef Py_ssize_t n = X.shape[0]
    cdef Py_ssize_t d = Xc.shape[1]
    cdef int rc
    if X.shape[1] != d:
        raise ValueError(f"Xc has d={d} columns but X has {X.shape[1]}")
    _check_lengthscales(lengthscales, d)
    _check_shape(V.shape[0], V.shape[1], m, n, "V")
    _check_shape(G.shape[0], G.shape[1], m, d, "output G")
    if m == 0:
        return
    if n == 0:
        G[:, :] = 0.0
        return
    with nogil:
        rc = fh_matern52_cross_grad(&Xc[0, 0], m, &X[0, 0], n, d, &lengthscales[0],
                                    amplitude, &V[0, 0], &G[0, 0])
    if rc != 0:
        raise MemoryError(f"matern52_cross_grad: cannot allocate scratch for n={n}, d={d}")


def log_expected_improvement(const double[::1] mu, const double[::1] sigma, double best,
                             double[::1] out, double[::1] d_mu=None, double[::1] d_sigma=None):
    """Fill out (m,) with log EI and, when given (both or neither), d_mu and d_sigma (m,)."""
    cdef Py_ssize_t m = mu.shape[0]
    cdef double *gm = NULL
    cdef double *gs = NULL
    if sigma.shape[0] != m:
        raise ValueError(f"sigma has length {sigma.shape[0]}, mu has {m}")
    _check_same_length(m, out.shape[0], "out")
    if (d_mu is None) != (d_sigma is None):
        raise ValueError("d_mu and d_sigma must be given together")
    if d_mu is not None:
        _check_same_length(m, d_mu.shape[0], "d_mu")
        _check_same_length(m, d_sigma.shape[0], "d_sigma")
    if m == 0:
        return
    if d_mu is not None:
        gm = &d_mu[0]
        gs = &d_sigma[0]
    with nogil:
        fh_log_ei(&mu[0], &sigma[0], m, best, &out[0], gm, gs)


def erfcx(const double[::1] x, double[::1] out):
    """Fill out (n,) with exp(x^2) erfc(x)."""
    cdef Py_ssize_t n = x.shape[0]
    _check_same_length(n, out.shape[0], "out")
    if n == 0:
        return
    with nogil:
        fh_erfcx(&x[0], n, &out[0])


def exp_nonpositive(const double[::1] x, double[::1] out):
    """Fill out (n,) with exp(x) for x <= 0 by the kernels' vectorisable exponential
    (for its accuracy tests)."""
    cdef Py_ssize_t n = x.shape[0]
    _check_same_length(n, out.shape[0], "out")
    if n == 0:
        return
    with nogil:
        fh_exp_nonpositive_array(&x[0], n, &out[0])


#: Diagonal blocks of at most this order are inverted by LAPACK's unblocked dtrti2.
cdef int _TRIANGLE_BLOCK = 16


cdef void _lower_triangular_inverse(double *a, int n, int lda) noexcept nogil:
    """Invert the column-major lower-triangular ``a`` (n, n; leading dimension lda) in
    place, recursively: both diagonal halves, then A21 <- -inv(A22) A21 inv(A11) by two
    triangular matrix products. LAPACK's dtrtri does the same flops in blocks of 64 with
    an unblocked (matrix-vector) inner step; halving down to 16 keeps almost all of
    them in dtrmm, which makes the inverse about 1.5x faster at n = 100-300. The
    diagonal must have no zero (dtrti2 does not check)."""
    cdef int info = 0
    cdef int n1, n2
    cdef char left = b'L'
    cdef char right = b'R'
    cdef char lower = b'L'
    cdef char notrans = b'N'
    cdef char nonunit = b'N'
    cdef double one = 1.0
    cdef double minus_one = -1.0
    cdef double *a21
    cdef double *a22
    if n <= _TRIANGLE_BLOCK:
        dtrti2(&lower, &nonunit, &n, a, &lda, &info)
        return
    n1 = n // 2
    n2 = n - n1
    a21 = a + n1
    a22 = a + n1 + <Py_ssize_t>n1 * lda
    _lower_triangular_inverse(a, n1, lda)
    _lower_triangular_inverse(a22, n2, lda)
    dtrmm(&right, &lower, &notrans, &nonunit, &n2, &n1, &minus_one, a, &lda, a21, &lda)
    dtrmm(&left, &lower, &notrans, &nonunit, &n2, &n1, &one, a22, &lda, a21, &lda)


cdef int _cholesky_inverse(double *a, int n) noexcept nogil:
    """What LAPACK's dpotri computes, faster: from the lower Cholesky factor L in the
    column-major ``a`` (n, n), the lower triangle of (L L^T)^-1 = L^-T L^-1, in place
    (the triangular inverse above, then dlauum's product). Returns LAPACK's info: i > 0
    for a zero at diagonal entry i (nothing is then changed)."""
    cdef int info = 0
    cdef Py_ssize_t i
    cdef char lower = b'L'
    for i in range(n):
        if a[i + i * <Py_ssize_t>n] == 0.0:
            return <int>i + 1
    _lower_triangular_inverse(a, n, n)
    dlauum(&lower, &n, a, &n, &info)
    return info


def cholesky_inverse(double[::1, :] a):
    """The inverse of L L^T from its lower Cholesky factor L, column-major (n, n), in
    place in the lower triangle (the upper one is left as it was); returns LAPACK's
    info. The fused likelihood pass uses the same routine on its scratch."""
    cdef int info = 0
    if a.shape[0] != a.shape[1]:
        raise ValueError(f"a must be square, got ({a.shape[0]}, {a.shape[1]})")
    if a.shape[0] > 2147483647:
        raise ValueError(f"n={a.shape[0]} is beyond LAPACK's 32-bit sizes")
    if a.shape[0] == 0:
        return 0
    with nogil:
        info = _cholesky_inverse(&a[0, 0], <int>a.shape[0])
    return info


cdef double _LOG_2PI = 1.8378770664093454835606594728112


cdef int _lml_factor(const double *X, Py_ssize_t n, Py_ssize_t d, const double *r,
                     const double *lengthscales, double amplitude, double noise, double *work,
                     double *alpha, double *out, double *parts) noexcept nogil:
    """The value half of :func:`_lml_pass`: the kernel, its Cholesky factor (left in
    ``work``), alpha and out[0] = lml, out[3] = jitter. ``parts`` as there. Returns 0, 1
    when K_y cannot be factorised (lml = -inf) or -1 when scratch cannot be allocated."""
    cdef Py_ssize_t i, j
    cdef int fn = <int>n
    cdef int one = 1
    cdef int info = 0
    cdef int rc = 0
    cdef char uplo = b'L'
    cdef double jitter = 1e-9 * amplitude
    cdef double limit = 1e-2 * amplitude * (1.0 + 1e-9)
    cdef double half_logdet = 0.0
    cdef double quad = 0.0
    out[0] = -INFINITY
    out[1] = 0.0
    out[2] = 0.0
    if parts != NULL:
        rc = fh_matern52_symmetric_parts(X, n, d, lengthscales, amplitude, work, parts)
    else:
        rc = fh_matern52_symmetric(X, n, d, lengthscales, amplitude, work)
    if rc != 0:
        out[3] = jitter
        return -1
    # Row-major upper triangle = column-major lower ('L'): dpotrf and the inverse
    # write only there, so the strict lower triangle keeps K for a retry.
    while True:
        for i in range(n):
            work[i * n + i] = amplitude + noise + jitter
        dpotrf(&uplo, &fn, work, &fn, &info)
        if info == 0 or jitter > limit:
            break
        jitter *= 10.0
        for i in range(n):
            for j in range(i + 1, n):
                work[i * n + j] = work[j * n + i]
    out[3] = jitter
    if info != 0:
        return 1
    for i in range(n):
        half_logdet += log(work[i * n + i])
        alpha[i] = r[i]
    dpotrs(&uplo, &fn, &one, work, &fn, alpha, &fn, &info)
    for i in range(n):
        quad += r[i] * alpha[i]
    out[0] = -0.5 * quad - half_logdet - 0.5 * n * _LOG_2PI
    return 0


cdef int _lml_gradient(const double *X, Py_ssize_t n, Py_ssize_t d,
                       const double *lengthscales, double amplitude, double *work,
                       const double *alpha, double *g_log_ls, double *G_X, double *out,
                       double *parts) noexcept nogil:
    """The gradient half of :func:`_lml_pass`, after :func:`_lml_factor` with the same
    arguments left the factor in ``work``: out[1] = g_log_amp, out[2] = trace_W,
    g_log_ls and G_X. Returns 0, 1 when the factor cannot be inverted, or -1."""
    cdef Py_ssize_t i, j
    cdef int rc = 0
    cdef int info = _cholesky_inverse(work, <int>n)
    cdef double trace = 0.0
    cdef double g_log_amp = 0.0
    if info != 0:
        return 1
    for i in range(n):
        for j in range(i, n):
            work[i * n + j] = alpha[i] * alpha[j] - work[i * n + j]
        trace += work[i * n + i]
    if parts != NULL:
        rc = fh_matern52_lml_grad_parts(X, n, d, lengthscales, amplitude, work, parts,
                                        g_log_ls, &g_log_amp, G_X)
    else:
        rc = fh_matern52_lml_grad(X, n, d, lengthscales, amplitude, work, g_log_ls,
                                  &g_log_amp, G_X)
    if rc != 0:
        return -1
    out[1] = g_log_amp
    out[2] = trace
    return 0


cdef int _lml_pass(const double *X, Py_ssize_t n, Py_ssize_t d, const double *r,
                   const double *lengthscales, double amplitude, double noise, double *work,
                   double *alpha, double *g_log_ls, double *G_X, double *out,
                   double *parts=NULL) noexcept nogil:
    """The body of :func:`gp_lml_grad` on checked arguments, n >= 1: out[0..3] receives
    (lml, g_log_amp, trace_W, jitter). Returns 0, 1 when K_y cannot be factorised
    (lml = -inf), or -1 when the kernel's scratch cannot be allocated. ``parts`` (n, n),
    unless NULL, keeps each pair's distance-dependent factors from the kernel for the
    gradient pass (``fh_matern52_symmetric_parts``): the same results, a distance and an
    exponential per pair fewer. With ``g_log_ls`` NULL only the value is computed."""
    cdef double lml
    cdef int rc = _lml_factor(X, n, d, r, lengthscales, amplitude, noise, work, alpha, out,
                              parts if g_log_ls != NULL else NULL)
    if rc != 0 or g_log_ls == NULL:
        return rc
    lml = out[0]
    out[0] = -INFINITY
    rc = _lml_gradient(X, n, d, lengthscales, amplitude, work, alpha, g_log_ls, G_X, out,
                       parts)
    if rc == 0:
        out[0] = lml
    return rc


def gp_lml_grad(const double[:, ::1] X, const double[::1] r,
                const double[::1] lengthscales, double amplitude, double noise,
                double[:, ::1] work, double[::1] alpha, double[::1] g_log_ls,
                double[:, ::1] G_X=None, double[:, ::1] parts=None):
    """One evaluation of the log marginal likelihood and its gradient pieces.

    K_y = k(X, X) + (noise + jitter) I, the jitter escalating x10 from 1e-9 a up
    to 1e-2 a until LAPACK's dpotrf accepts it; alpha (n,) = K_y^-1 r. Then, in
    the scratch ``work`` (n, n), the inverse (:func:`cholesky_inverse`) becomes
    W = alpha alpha^T - K_y^-1 (upper triangle) for the fused gradient pass, which
    fills g_log_ls (d,) and, unless None, G_X (n, d).

    Returns (lml, g_log_amp, trace_W, jitter); lml = -inf (the other outputs
    unspecified) when K_y cannot be factorised even with the largest jitter.
    With g_log_ls None only lml (and alpha) is computed: no inverse, no gradient.
    ``parts`` (n, n), a second scratch, lets the gradient pass reuse each pair's
    distance and exponential from the kernel: the same results, about a quarter
    less time.
    """
    cdef Py_ssize_t n = X.shape[0]
    cdef Py_ssize_t d = X.shape[1]
    cdef int rc = 0
    cdef double out[4]
    cdef double *gx = NULL
    cdef double *gl = NULL
    cdef double *pp = NULL
    _check_lengthscales(lengthscales, d)
    _check_same_length(n, r.shape[0], "r")
    _check_same_length(n, alpha.shape[0], "alpha")
    if g_log_ls is not None:
        _check_same_length(d, g_log_ls.shape[0], "g_log_ls")
        gl = &g_log_ls[0]
    _check_shape(work.shape[0], work.shape[1], n, n, "work")
    if G_X is not None:
        _check_shape(G_X.shape[0], G_X.shape[1], n, d, "output G_X")
        gx = &G_X[0, 0] if n else NULL
    if parts is not None:
        _check_shape(parts.shape[0], parts.shape[1], n, n, "parts")
        pp = &parts[0, 0] if n and g_log_ls is not None else NULL
    if n == 0:
        if g_log_ls is not None:
            g_log_ls[:] = 0.0
        return 0.0, 0.0, 0.0, 1e-9 * amplitude
    if n > 2147483647:
        raise ValueError(f"n={n} is beyond LAPACK's 32-bit sizes")
    with nogil:
        rc = _lml_pass(&X[0, 0], n, d, &r[0], &lengthscales[0], amplitude, noise, &work[0, 0],
                       &alpha[0], gl, gx, out, pp)
    if rc < 0:
        raise MemoryError(f"gp_lml_grad: cannot allocate scratch for n={n}, d={d}")
    return out[0], out[1], out[2], out[3]


def gp_posterior_grad(const double[:, ::1] Z, const double[:, ::1] X, const double[:, ::1] L,
                      const double[::1] alpha, const double[::1] lengthscales,
                      double amplitude, double mean, double[::1] mu, double[::1] std,
                      double[:, ::1] dmu, double[:, ::1] dstd, double[:, ::1] work):
    """Posterior mean mu (m,), standard deviation std (m,) and their gradients (m, d) at Z (m, d).

    L (n, n) is the lower Cholesky factor of K_y (row-major), alpha (n,) = K_y^-1 (y - c);
    work (m, n) is scratch. mu = c + k*^T alpha, v = L^-1 k*, std^2 = a - v.v
    (floored at 1e-12 a), beta = L^-T v; dmu = sum_i alpha_i dk(z, x_i)/dz and
    dstd = -sum_i beta_i / std dk(z, x_i)/dz, both by the cross-gradient kernel.
    """
    cdef Py_ssize_t m = Z.shape[0]
    cdef Py_ssize_t n = X.shape[0]
    cdef Py_ssize_t d = Z.shape[1]
    cdef Py_ssize_t c, i
    cdef int fn = <int>n
    cdef int fm = <int>m
    cdef double one = 1.0
    cdef double acc, var
    cdef char side = b'L'
    cdef char upper = b'U'
    cdef char trans = b'T'
    cdef char notrans = b'N'
    cdef char nonunit = b'N'
    cdef int rc = 0
    _check_posterior(X, d, lengthscales, L, alpha)
    _check_same_length(m, mu.shape[0], "mu")
    _check_same_length(m, std.shape[0], "std")
    _check_shape(dmu.shape[0], dmu.shape[1], m, d, "output dmu")
    _check_shape(dstd.shape[0], dstd.shape[1], m, d, "output dstd")
    _check_shape(work.shape[0], work.shape[1], m, n, "work")
    if m == 0:
        return
    if n == 0:
        mu[:] = mean
        std[:] = sqrt(amplitude)
        dmu[:, :] = 0.0
        dstd[:, :] = 0.0
        return
    if n > 2147483647 or m > 2147483647:
        raise ValueError(f"m={m}, n={n} are beyond BLAS's 32-bit sizes")
    with nogil:
        rc = fh_matern52_cross(&Z[0, 0], m, &X[0, 0], n, d, &lengthscales[0], amplitude,
                               &work[0, 0])
        if rc == 0:
            for c in range(m):
                acc = 0.0
                for i in range(n):
                    acc = acc + work[c, i] * alpha[i]
                mu[c] = mean + acc
            # Row-major work (m, n) is column-major (n, m) with k* in its columns, and
            # row-major lower L is column-major upper L^T: v = L^-1 k* solves L^T' x = k*.
            dtrsm(&side, &upper, &trans, &nonunit, &fn, &fm, &one, &L[0, 0], &fn,
                  &work[0, 0], &fn)
            for c in range(m):
                acc = 0.0
                for i in range(n):
                    acc = acc + work[c, i] * work[c, i]
                var = amplitude - acc
                if var < 1e-12 * amplitude:
                    var = 1e-12 * amplitude
                std[c] = sqrt(var)
            dtrsm(&side, &upper, &notrans, &nonunit, &fn, &fm, &one, &L[0, 0], &fn,
                  &work[0, 0], &fn)
            for c in range(m):
                for i in range(n):
                    work[c, i] = -work[c, i] / std[c]
            rc = fh_matern52_cross_grad(&Z[0, 0], m, &X[0, 0], n, d, &lengthscales[0],
                                        amplitude, &work[0, 0], &dstd[0, 0])
            c = 0
            while rc == 0 and c < m:
                rc = fh_matern52_cross_grad(&Z[c, 0], 1, &X[0, 0], n, d, &lengthscales[0],
                                            amplitude, &alpha[0], &dmu[c, 0])
                c = c + 1
    if rc != 0:
        raise MemoryError(f"gp_posterior_grad: cannot allocate scratch for m={m}, n={n}, d={d}")


cdef enum:
    _FEW_SIDES = 4  # up to this many right-hand sides, one dtrsv each instead of one dtrsm


cdef void _solve_factor(const double *L, Py_ssize_t n, double *work, Py_ssize_t m,
                        bint transposed) noexcept nogil:
    """work (m, n) row-major := L^-1 work^T (or L^-T) column by column, L (n, n) row-major lower.

    Row-major lower L is column-major upper L^T, so L^-1 solves with L^T transposed.
    OpenBLAS's dtrsm takes about as long for one to four right-hand sides as dtrsv
    takes for four (0.3-0.4 ms at n = 1,000 against 0.1 ms per dtrsv): the polish's
    rounds, most of them with one to three starts still running, solve each side alone.
    """
    cdef int fn = <int>n
    cdef int fm = <int>m
    cdef int inc = 1
    cdef double one = 1.0
    cdef char side = b'L'
    cdef char upper = b'U'
    cdef char trans = b'T' if not transposed else b'N'
    cdef char nonunit = b'N'
    cdef Py_ssize_t c
    if m <= _FEW_SIDES:
        for c in range(m):
            dtrsv(&upper, &trans, &nonunit, &fn, <double *>L, &fn, &work[c * n], &inc)
    else:
        dtrsm(&side, &upper, &trans, &nonunit, &fn, &fm, &one, <double *>L, &fn, work, &fn)


cdef int _logei_pass(const double *Z, Py_ssize_t m, const double *X, Py_ssize_t n, Py_ssize_t d,
                     const double *L, const double *alpha, const double *lengthscales,
                     double amplitude, double mean, double best, double *value, double *grad,
                     double *work, double *mu, double *sd, double *d_mu,
                     double *d_sd) noexcept nogil:
    """LogEI (m,) and its gradient (m, d) at Z (m, d), n >= 1; work (m, n), the rest (m,) scratch.

    The chain rule is folded into one cross-gradient pass: grad = sum_i V_ci dk(z_c, x_i)/dz
    with V_ci = dLogEI/dmu alpha_i - dLogEI/dstd beta_ci / std_c (beta = K_y^-1 k*).
    """
    cdef Py_ssize_t c, i
    cdef double acc, var, a, b
    cdef int rc = fh_matern52_cross(Z, m, X, n, d, lengthscales, amplitude, work)
    if rc != 0:
        return rc
    for c in range(m):
        acc = 0.0
        for i in range(n):
            acc = acc + work[c * n + i] * alpha[i]
        mu[c] = mean + acc
    # As in gp_posterior_grad: row-major work (m, n) is column-major (n, m), row-major lower L
    # is column-major upper L^T; first v = L^-1 k*, then beta = L^-T v.
    _solve_factor(L, n, work, m, False)
    for c in range(m):
        acc = 0.0
        for i in range(n):
            acc = acc + work[c * n + i] * work[c * n + i]
        var = amplitude - acc
        if var < 1e-12 * amplitude:
            var = 1e-12 * amplitude
        sd[c] = sqrt(var)
    _solve_factor(L, n, work, m, True)
    fh_log_ei(mu, sd, m, best, value, d_mu, d_sd)
    for c in range(m):
        a = d_mu[c]
        b = -d_sd[c] / sd[c]
        for i in range(n):
            work[c * n + i] = a * alpha[i] + b * work[c * n + i]
    return fh_matern52_cross_grad(Z, m, X, n, d, lengthscales, amplitude, work, grad)


def gp_logei_grad(const double[:, ::1] Z, const double[:, ::1] X, const double[:, ::1] L,
                  const double[::1] alpha, const double[::1] lengthscales, double amplitude,
                  double mean, double best, double[::1] value, double[:, ::1] grad,
                  double[:, ::1] work):
    """LogEI (m,) of the GP posterior at Z (m, d) against ``best``, and its gradient (m, d).

    The posterior as in :func:`gp_posterior_grad` (L, alpha, work (m, n) alike), then
    log EI with its derivatives in (mu, std), chained into one cross-gradient pass.
    """
    cdef Py_ssize_t m = Z.shape[0]
    cdef Py_ssize_t n = X.shape[0]
    cdef Py_ssize_t d = Z.shape[1]
    cdef int rc = 0
    cdef double[::1] scratch
    _check_posterior(X, d, lengthscales, L, alpha)
    _check_same_length(m, value.shape[0], "value")
    _check_shape(grad.shape[0], grad.shape[1], m, d, "output grad")
    _check_shape(work.shape[0], work.shape[1], m, n, "work")
    if n < 1:
        raise ValueError("gp_logei_grad needs at least one observation")
    if n > 2147483647 or m > 2147483647:
        raise ValueError(f"m={m}, n={n} are beyond BLAS's 32-bit sizes")
    if m == 0:
        return
    scratch = cvarray(shape=(4 * m,), itemsize=sizeof(double), format="d")
    with nogil:
        rc = _logei_pass(&Z[0, 0], m, &X[0, 0], n, d, &L[0, 0], &alpha[0], &lengthscales[0],
                         amplitude, mean, best, &value[0], &grad[0, 0], &work[0, 0],
                         &scratch[0], &scratch[m], &scratch[2 * m], &scratch[3 * m])
    if rc != 0:
        raise MemoryError(f"gp_logei_grad: cannot allocate scratch for m={m}, n={n}, d={d}")


# ---- Screening bound from each point's nearest observations ------------------------------

cdef int _neighbour_bound(const double *C, Py_ssize_t m, Py_ssize_t n, const double *X,
                          Py_ssize_t d, const double *lengthscales, const double *diagonal,
                          double amplitude, Py_ssize_t s, double *out) noexcept nogil:
    """The loop of :func:`neighbour_std_bound` on checked arguments; -1 on ENOMEM."""
    cdef Py_ssize_t i, j, a, b, k, pos, count
    cdef double c, acc, q, var
    cdef const double *row
    cdef bint ok
    cdef int rc = 0
    cdef double *Xs = <double *>malloc(s * d * sizeof(double))
    cdef double *A = <double *>malloc(s * s * sizeof(double))
    cdef double *val = <double *>malloc(s * sizeof(double))
    cdef double *v = <double *>malloc(s * sizeof(double))
    cdef Py_ssize_t *idx = <Py_ssize_t *>malloc(s * sizeof(Py_ssize_t))
    if Xs == NULL or A == NULL or val == NULL or v == NULL or idx == NULL:
        rc = -1
    for i in range(m if rc == 0 else 0):
        # The s largest kernel values of the row (the nearest observations), by insertion
        # into a short list kept in decreasing order.
        row = C + i * n
        count = 0
        for j in range(n):
            c = row[j]
            if count < s:
                pos = count
                count += 1
            elif c > val[s - 1]:
                pos = s - 1
            else:
                continue
            while pos > 0 and val[pos - 1] < c:
                val[pos] = val[pos - 1]
                idx[pos] = idx[pos - 1]
                pos -= 1
            val[pos] = c
            idx[pos] = j
        # K_y of those observations (the kernel's own pass, count x count), factorised
        # in place (lower triangle).
        for a in range(count):
            for k in range(d):
                Xs[a * d + k] = X[idx[a] * d + k]
        if fh_matern52_symmetric(Xs, count, d, lengthscales, amplitude, A) != 0:
            rc = -1
            break
        ok = True
        for a in range(count):
            A[a * count + a] = diagonal[idx[a]]
            for b in range(a + 1):
                acc = A[a * count + b]
                for k in range(b):
                    acc -= A[a * count + k] * A[b * count + k]
                if a == b:
                    if not acc > 0.0:
                        ok = False
                        break
                    A[a * count + a] = sqrt(acc)
                else:
                    A[a * count + b] = acc / A[b * count + b]
            if not ok:
                break
        if not ok:
            out[i] = sqrt(amplitude)  # the prior's: a bound whatever the data
            continue
        q = 0.0
        for a in range(count):
            acc = val[a]
            for k in range(a):
                acc -= A[a * count + k] * v[k]
            v[a] = acc / A[a * count + a]
            q += v[a] * v[a]
        var = amplitude - q
        if var < 1e-12 * amplitude:
            var = 1e-12 * amplitude
        # A margin for rounding, so the bound stays above the full model's value.
        out[i] = sqrt(var + 1e-10 * amplitude)
    free_mem(Xs)
    free_mem(A)
    free_mem(val)
    free_mem(v)
    free_mem(idx)
    return rc


def neighbour_std_bound(const double[:, ::1] cross, const double[:, ::1] X,
                        const double[::1] lengthscales, const double[::1] diagonal,
                        double amplitude, Py_ssize_t size, double[::1] out):
    """Upper bounds (m,) on the posterior standard deviation at m points, from k(Z, X) (m, n).

    Each point's bound is its standard deviation given only the ``size`` observations
    with the largest kernel values in its row (its nearest, in the kernel's metric):
    conditioning on fewer observations never lowers the variance. ``diagonal`` (n,) is
    K_y's diagonal (amplitude, noise, jitter and any extra noise of each observation).
    Cost per point: O(n) to select, O(size² d + size³) to factorise.
    """
    cdef Py_ssize_t m = cross.shape[0]
    cdef Py_ssize_t n = X.shape[0]
    cdef Py_ssize_t d = X.shape[1]
    cdef int rc = 0
    _check_lengthscales(lengthscales, d)
    _check_shape(cross.shape[0], cross.shape[1], m, n, "cross")
    _check_same_length(n, diagonal.shape[0], "diagonal")
    _check_same_length(m, out.shape[0], "out")
    if size < 1:
        raise ValueError(f"size must be at least 1, got {size}")
    if m == 0:
        return
    if n == 0:
        raise ValueError("neighbour_std_bound needs at least one observation")
    if size > n:
        size = n
    with nogil:
        rc = _neighbour_bound(&cross[0, 0], m, n, &X[0, 0], d, &lengthscales[0], &diagonal[0],
                              amplitude, size, &out[0])
    if rc != 0:
        raise MemoryError(f"neighbour_std_bound: cannot allocate scratch for n={n}, size={size}")


# ---- Batched polish of LogEI: projected L-BFGS per start, all in one native loop ----------

cdef enum:
    _MEMORY = 8           # (s, y) pairs each start keeps
    _MAX_BACKTRACKS = 20  # shortenings of one step before the start gives up
cdef double _ARMIJO = 1e-4
cdef double _FTOL = 2.220446049250313e-09  # scipy L-BFGS-B's default relative decrease
cdef double _PGTOL = 1e-5                  # and its projected-gradient tolerance


cdef inline double _dot(const double *a, const double *b, Py_ssize_t f) noexcept nogil:
    cdef double acc = 0.0
    cdef Py_ssize_t i
    for i in range(f):
        acc = acc + a[i] * b[i]
    return acc


cdef inline double _clip(double v, double lo, double hi) noexcept nogil:
    return lo if v < lo else (hi if v > hi else v)


cdef void _lbfgs_direction(Py_ssize_t f, const double *x, const double *g, const double *lo,
                           const double *hi, const double *S, const double *Y,
                           const double *rho, int count, int head, double *p,
                           double *coef) noexcept nogil:
    """p = -H g over the coordinates not held at a bound of [lo, hi] (those stay 0).

    H is the L-BFGS inverse-Hessian estimate of the ``count`` newest pairs (ring of
    _MEMORY rows, the newest at head - 1), scaled by s.y / y.y of the newest; with no
    pairs, p is the steepest descent scaled to unit length (scipy's first step).
    """
    cdef Py_ssize_t i
    cdef int j, row
    cdef double nrm, gamma, b
    for i in range(f):
        if (x[i] <= lo[i] and g[i] > 0.0) or (x[i] >= hi[i] and g[i] < 0.0):
            p[i] = 0.0
        else:
            p[i] = g[i]
    if count == 0:
        nrm = sqrt(_dot(p, p, f))
        for i in range(f):
            p[i] = -p[i] / nrm if nrm > 0.0 else 0.0
        return
    for j in range(count):
        row = (head - 1 - j + _MEMORY) % _MEMORY
        coef[j] = rho[row] * _dot(&S[row * f], p, f)
        for i in range(f):
            p[i] -= coef[j] * Y[row * f + i]
    row = (head - 1 + _MEMORY) % _MEMORY
    gamma = _dot(&S[row * f], &Y[row * f], f) / _dot(&Y[row * f], &Y[row * f], f)
    for i in range(f):
        p[i] *= gamma
    for j in range(count - 1, -1, -1):
        row = (head - 1 - j + _MEMORY) % _MEMORY
        b = rho[row] * _dot(&Y[row * f], p, f)
        for i in range(f):
            p[i] += (coef[j] - b) * S[row * f + i]
    for i in range(f):
        if (x[i] <= lo[i] and g[i] > 0.0) or (x[i] >= hi[i] and g[i] < 0.0):
            p[i] = 0.0
        else:
            p[i] = -p[i]


def logei_polish(double[:, ::1] Z, const unsigned char[::1] free, const double[:, ::1] X,
                 const double[:, ::1] L, const double[::1] alpha, const double[::1] lengthscales,
                 double amplitude, double mean, double best, int maxiter, double[::1] values,
                 const double[::1] lower=None, const double[::1] upper=None, bint scaled=True,
                 int lead_after=-1):
    """Maximise LogEI from each row of Z (k, d) in place, over the ``free`` columns in a box.

    The box is [lower, upper] (both (d,); only their free entries are read), [0, 1] when
    they are None. With ``scaled`` (the default) a box is searched in its own unit
    coordinates u, z = lower + (upper - lower) u, as scipy's polish of a trust region
    does (the box's sides, proportional to the lengthscales, precondition the climb);
    otherwise as plain bounds in the model's coordinates.

    Each start runs its own projected L-BFGS (memory 8, backtracking Armijo line search
    with quadratic interpolation; stops like scipy's L-BFGS-B: ``maxiter`` iterations, a
    relative decrease below 2.2e-9 or a projected gradient below 1e-5). The trial points
    of all running starts are scored together by one posterior pass per round, so the
    whole loop stays here. Free coordinates are clipped into the box first; the others
    never move. values (k,) receives the final LogEI (that of the start when it is not
    finite there). With ``lead_after`` >= 0, a start that has made that many iterations
    stops unless its LogEI is the highest so far (the leader climbs on alone: on large
    models each start costs two triangular solves per round). Returns the number of
    batched posterior passes.
    """
    cdef Py_ssize_t k = Z.shape[0]
    cdef Py_ssize_t D = Z.shape[1]
    cdef Py_ssize_t n = X.shape[0]
    cdef Py_ssize_t f = 0
    cdef Py_ssize_t i
    cdef int evaluations = 0
    _check_posterior(X, D, lengthscales, L, alpha)
    _check_same_length(D, free.shape[0], "free")
    _check_same_length(k, values.shape[0], "values")
    if n < 1:
        raise ValueError("logei_polish needs at least one observation")
    if n > 2147483647 or k > 2147483647:
        raise ValueError(f"k={k}, n={n} are beyond BLAS's 32-bit sizes")
    if maxiter < 0:
        raise ValueError(f"maxiter must be >= 0, got {maxiter}")
    if (lower is None) != (upper is None):
        raise ValueError("lower and upper bounds go together")
    if lower is not None:
        _check_same_length(D, lower.shape[0], "lower")
        _check_same_length(D, upper.shape[0], "upper")
    for i in range(D):
        if free[i]:
            if lower is not None and not (lower[i] <= upper[i]):
                raise ValueError(f"lower[{i}]={lower[i]} is not <= upper[{i}]={upper[i]}")
            f += 1
    if k == 0:
        return 0
    cdef double *buf = <double *>malloc(
        (k * (6 * f + 2 * _MEMORY * f + _MEMORY + 2 * D + n + 10) + 4 * f + _MEMORY + 1)
        * sizeof(double))
    cdef Py_ssize_t *ibuf = <Py_ssize_t *>malloc((7 * k + f + 1) * sizeof(Py_ssize_t))
    if buf == NULL or ibuf == NULL:
        free_mem(buf)
        free_mem(ibuf)
        raise MemoryError(f"logei_polish: cannot allocate scratch for k={k}, n={n}, d={D}")
    try:
        evaluations = _polish_loop(Z, free, X, L, alpha, lengthscales, amplitude, mean, best,
                                   maxiter, values, f, lower, upper, scaled, lead_after,
                                   buf, ibuf)
    finally:
        free_mem(buf)
        free_mem(ibuf)
    if evaluations < 0:
        raise MemoryError(f"logei_polish: cannot allocate scratch for k={k}, n={n}, d={D}")
    return evaluations


cdef int _polish_loop(double[:, ::1] Z, const unsigned char[::1] free, const double[:, ::1] X,
                      const double[:, ::1] L, const double[::1] alpha,
                      const double[::1] lengthscales, double amplitude, double mean,
                      double best, int maxiter, double[::1] values, Py_ssize_t f,
                      const double[::1] lower, const double[::1] upper, bint scaled,
                      int lead_after, double *buf, Py_ssize_t *ibuf) noexcept:
    """The loop of :func:`logei_polish` on its checked arguments and scratch; -1 on ENOMEM."""
    cdef Py_ssize_t k = Z.shape[0]
    cdef Py_ssize_t D = Z.shape[1]
    cdef Py_ssize_t n = X.shape[0]
    cdef Py_ssize_t s, i, j, b, nb
    cdef Py_ssize_t leader
    cdef int rc = 0
    cdef int evaluations = 0
    cdef int row
    cdef bint ok
    cdef double ft, sy, yy, dec, pg, t, gdx_t, step
    cdef double *x = buf
    cdef double *g = x + k * f
    cdef double *xt = g + k * f
    cdef double *p = xt + k * f
    cdef double *sv = p + k * f
    cdef double *yv = sv + k * f
    cdef double *S = yv + k * f
    cdef double *Y = S + k * _MEMORY * f
    cdef double *rho = Y + k * _MEMORY * f
    cdef double *Zb = rho + k * _MEMORY
    cdef double *gb = Zb + k * D
    cdef double *work = gb + k * D
    cdef double *vb = work + k * n
    cdef double *fval = vb + k
    cdef double *tstep = fval + k
    cdef double *gdx = tstep + k
    cdef double *sc = gdx + k   # 4 k of pass scratch
    cdef double *coef = sc + 4 * k
    cdef double *lo = coef + _MEMORY + 1
    cdef double *hi = lo + f
    cdef double *off = hi + f   # z = off + w x: the search's coordinates x of a model point z
    cdef double *w = off + f
    cdef Py_ssize_t *idx = ibuf
    cdef Py_ssize_t *rows = idx + f
    cdef Py_ssize_t *count = rows + k
    cdef Py_ssize_t *head = count + k
    cdef Py_ssize_t *iters = head + k
    cdef Py_ssize_t *backtracks = iters + k
    cdef Py_ssize_t *active = backtracks + k
    j = 0
    for i in range(D):
        if free[i]:
            idx[j] = i
            lo[j] = 0.0 if lower is None else lower[i]
            hi[j] = 1.0 if upper is None else upper[i]
            off[j] = 0.0
            w[j] = 1.0
            j += 1
    with nogil:
        for s in range(k):
            for j in range(f):
                Z[s, idx[j]] = _clip(Z[s, idx[j]], lo[j], hi[j])
        if scaled and lower is not None:
            for j in range(f):
                off[j] = lo[j]
                w[j] = hi[j] - lo[j] if hi[j] - lo[j] > 1e-12 else 1e-12
                lo[j] = 0.0
                hi[j] = 1.0
        rc = _logei_pass(&Z[0, 0], k, &X[0, 0], n, D, &L[0, 0], &alpha[0], &lengthscales[0],
                         amplitude, mean, best, vb, gb, work, sc, sc + k, sc + 2 * k, sc + 3 * k)
        evaluations = 1
        for s in range(k):
            values[s] = vb[s]
            fval[s] = -vb[s]
            ok = fval[s] < INFINITY and fval[s] > -INFINITY and f > 0 and maxiter > 0
            for j in range(f):
                x[s * f + j] = _clip((Z[s, idx[j]] - off[j]) / w[j], lo[j], hi[j])
                g[s * f + j] = -gb[s * D + idx[j]] * w[j]
                ok = ok and g[s * f + j] - g[s * f + j] == 0.0  # finite
            count[s] = 0
            head[s] = 0
            iters[s] = 0
            active[s] = _polish_step(s, f, x, g, lo, hi, S, Y, rho, count, head, p, xt,
                                     tstep, gdx, backtracks, coef) if ok else 0
        while rc == 0:
            if lead_after >= 0:
                leader = -1  # the start with the highest finite LogEI so far
                for s in range(k):
                    if values[s] == values[s] and (leader < 0 or values[s] > values[leader]):
                        leader = s
                for s in range(k):
                    if active[s] and s != leader and iters[s] >= lead_after:
                        active[s] = 0
            nb = 0
            for s in range(k):
                if active[s]:
                    rows[nb] = s
                    for j in range(D):
                        Zb[nb * D + j] = Z[s, j]
                    for j in range(f):
                        Zb[nb * D + idx[j]] = off[j] + w[j] * xt[s * f + j]
                    nb += 1
            if nb == 0:
                break
            rc = _logei_pass(Zb, nb, &X[0, 0], n, D, &L[0, 0], &alpha[0], &lengthscales[0],
                             amplitude, mean, best, vb, gb, work, sc, sc + nb, sc + 2 * nb,
                             sc + 3 * nb)
            evaluations += 1
            for b in range(nb):
                s = rows[b]
                ft = -vb[b]
                ok = ft < INFINITY and ft > -INFINITY
                for j in range(f):
                    ok = ok and gb[b * D + idx[j]] - gb[b * D + idx[j]] == 0.0
                if ok and ft <= fval[s] + _ARMIJO * gdx[s]:
                    sy = 0.0
                    yy = 0.0
                    row = head[s]
                    for j in range(f):
                        sv[s * f + j] = xt[s * f + j] - x[s * f + j]
                        yv[s * f + j] = -gb[b * D + idx[j]] * w[j] - g[s * f + j]
                        sy += sv[s * f + j] * yv[s * f + j]
                        yy += yv[s * f + j] * yv[s * f + j]
                    if sy > 1e-10 * yy and yy > 0.0:  # keep H positive definite
                        for j in range(f):
                            S[(s * _MEMORY + row) * f + j] = sv[s * f + j]
                            Y[(s * _MEMORY + row) * f + j] = yv[s * f + j]
                        rho[s * _MEMORY + row] = 1.0 / sy
                        head[s] = (row + 1) % _MEMORY
                        if count[s] < _MEMORY:
                            count[s] += 1
                    dec = fval[s] - ft
                    step = fabs(fval[s])
                    if fabs(ft) > step:
                        step = fabs(ft)
                    if step < 1.0:
                        step = 1.0
                    fval[s] = ft
                    values[s] = -ft
                    pg = 0.0
                    for j in range(f):
                        x[s * f + j] = xt[s * f + j]
                        g[s * f + j] = -gb[b * D + idx[j]] * w[j]
                        Z[s, idx[j]] = off[j] + w[j] * x[s * f + j]
                        t = fabs(_clip(x[s * f + j] - g[s * f + j], lo[j], hi[j]) - x[s * f + j])
                        if t > pg:
                            pg = t
                    iters[s] += 1
                    if dec <= _FTOL * step or pg <= _PGTOL or iters[s] >= maxiter:
                        active[s] = 0
                    else:
                        active[s] = _polish_step(s, f, x, g, lo, hi, S, Y, rho, count, head, p,
                                                 xt, tstep, gdx, backtracks, coef)
                    continue
                backtracks[s] += 1
                if backtracks[s] > _MAX_BACKTRACKS:
                    if count[s] > 0:  # the curvature estimate misled: start over from the gradient
                        count[s] = 0
                        active[s] = _polish_step(s, f, x, g, lo, hi, S, Y, rho, count, head, p,
                                                 xt, tstep, gdx, backtracks, coef)
                    else:
                        active[s] = 0
                    continue
                # Minimiser of the quadratic through f(0), its slope and f(t), kept in [t/10, t/2].
                t = tstep[s]
                if ok and gdx[s] < 0.0:
                    gdx_t = -gdx[s] * t / (2.0 * (ft - fval[s] - gdx[s]))
                else:
                    gdx_t = 0.5 * t
                if gdx_t < 0.1 * t:
                    gdx_t = 0.1 * t
                if gdx_t > 0.5 * t:
                    gdx_t = 0.5 * t
                tstep[s] = gdx_t
                _trial(s, f, x, g, lo, hi, p, gdx_t, xt, gdx)
                if gdx[s] >= 0.0:
                    active[s] = 0
    return evaluations if rc == 0 else -1


cdef inline void _trial(Py_ssize_t s, Py_ssize_t f, const double *x, const double *g,
                        const double *lo, const double *hi, const double *p, double t,
                        double *xt, double *gdx) noexcept nogil:
    """xt = P(x + t p) for start s, and gdx = g.(xt - x), the Armijo slope."""
    cdef Py_ssize_t j
    cdef double acc = 0.0
    for j in range(f):
        xt[s * f + j] = _clip(x[s * f + j] + t * p[s * f + j], lo[j], hi[j])
        acc = acc + g[s * f + j] * (xt[s * f + j] - x[s * f + j])
    gdx[s] = acc


cdef Py_ssize_t _polish_step(Py_ssize_t s, Py_ssize_t f, const double *x, const double *g,
                             const double *lo, const double *hi, const double *S, const double *Y, const double *rho,
                             Py_ssize_t *count, Py_ssize_t *head, double *p, double *xt,
                             double *tstep, double *gdx, Py_ssize_t *backtracks,
                             double *coef) noexcept nogil:
    """A new search direction and unit trial step for start s; 0 when no descent is left."""
    _lbfgs_direction(f, &x[s * f], &g[s * f], lo, hi, &S[s * _MEMORY * f],
                     &Y[s * _MEMORY * f], &rho[s * _MEMORY], <int>count[s], <int>head[s],
                     &p[s * f], coef)
    if count[s] > 0 and _dot(&p[s * f], &g[s * f], f) >= 0.0:
        count[s] = 0  # not a descent direction: drop the memory, take the gradient
        _lbfgs_direction(f, &x[s * f], &g[s * f], lo, hi, &S[s * _MEMORY * f],
                         &Y[s * _MEMORY * f], &rho[s * _MEMORY], 0, <int>head[s], &p[s * f],
                         coef)
    tstep[s] = 1.0
    backtracks[s] = 0
    _trial(s, f, x, g, lo, hi, p, 1.0, xt, gdx)
    return 1 if gdx[s] < 0.0 else 0


# ---- MAP fit of the hyperparameters: projected L-BFGS around _lml_pass, no Python inside ----

cdef struct _Posterior:
    # The data and scratch of one fit: theta = (log ls (d), log a, log noise, c).
    const double *X
    const double *y
    Py_ssize_t n
    Py_ssize_t d
    const double *prior_mean
    const double *prior_precision
    double pooling  # precision of each log lengthscale around their mean (0: none)
    double *ls
    double *r
    double *alpha
    double *work
    double *parts  # (n, n): the kernel's per-pair factors, reused by the gradient pass
    int failed   # set when the kernel's scratch could not be allocated


cdef inline double _mean_log_lengthscale(const double *theta, Py_ssize_t d) noexcept nogil:
    """The mean of theta's d log lengthscales, around which the pooling holds each one."""
    cdef Py_ssize_t i
    cdef double total = 0.0
    for i in range(d):
        total += theta[i]
    return total / d


cdef double _neg_log_posterior_value(_Posterior *P, const double *theta) noexcept nogil:
    """-log p(y | theta) - log p(theta) alone, 1e25 where K_y cannot be factorised. The
    factor and the kernel's parts stay in P's scratch, so :func:`_neg_log_posterior_grad`
    can follow at the same theta: a line-search trial that is rejected never pays for
    the inverse and the gradient pass (a fifth of the evaluations of a fit)."""
    cdef Py_ssize_t i
    cdef Py_ssize_t n = P.n
    cdef Py_ssize_t d = P.d
    cdef double out[4]
    cdef double value, z
    cdef int rc
    for i in range(d):
        P.ls[i] = exp(theta[i])
    for i in range(n):
        P.r[i] = P.y[i] - theta[d + 2]
    rc = _lml_factor(P.X, n, d, P.r, P.ls, exp(theta[d]), exp(theta[d + 1]), P.work,
                     P.alpha, out, P.parts)
    if rc != 0 or not (out[0] > -INFINITY and out[0] < INFINITY):
        if rc < 0:
            P.failed = 1
        return 1e25
    value = out[0]
    for i in range(d + 3):
        z = theta[i] - P.prior_mean[i]
        value -= 0.5 * P.prior_precision[i] * z * z
    if P.pooling > 0.0:
        z = _mean_log_lengthscale(theta, d)
        for i in range(d):
            value -= 0.5 * P.pooling * (theta[i] - z) * (theta[i] - z)
    return -value


cdef int _neg_log_posterior_grad(_Posterior *P, const double *theta, double *grad) noexcept nogil:
    """The gradient of :func:`_neg_log_posterior_value` at the theta it was last called
    with (finite there). Returns 0, or nonzero (grad zeroed) when it cannot be computed."""
    cdef Py_ssize_t i
    cdef Py_ssize_t n = P.n
    cdef Py_ssize_t d = P.d
    cdef double out[4]
    cdef double noise = exp(theta[d + 1])
    cdef double z
    cdef int rc = _lml_gradient(P.X, n, d, P.ls, exp(theta[d]), P.work, P.alpha, grad, NULL,
                                out, P.parts)
    if rc != 0:
        if rc < 0:
            P.failed = 1
        for i in range(d + 3):
            grad[i] = 0.0
        return 1
    grad[d] = out[1]
    grad[d + 1] = 0.5 * noise * out[2]
    z = 0.0
    for i in range(n):
        z += P.alpha[i]
    grad[d + 2] = z
    for i in range(d + 3):
        z = theta[i] - P.prior_mean[i]
        grad[i] = -(grad[i] - P.prior_precision[i] * z)
    if P.pooling > 0.0:
        z = _mean_log_lengthscale(theta, d)
        for i in range(d):
            grad[i] += P.pooling * (theta[i] - z)
    return 0


cdef double _neg_log_posterior(_Posterior *P, const double *theta, double *grad) noexcept nogil:
    """-log p(y | theta) - log p(theta) and its gradient; 1e25 with a zero gradient where
    K_y cannot be factorised (as the NumPy objective ``NegLogPosterior`` does)."""
    cdef Py_ssize_t i
    cdef double value = _neg_log_posterior_value(P, theta)
    if value >= 1e25:
        for i in range(P.d + 3):
            grad[i] = 0.0
        return 1e25
    if _neg_log_posterior_grad(P, theta, grad) != 0:
        return 1e25
    return value


def gp_map_fit(const double[:, ::1] X, const double[::1] y, double[::1] theta,
               const double[::1] lower, const double[::1] upper,
               const double[::1] prior_mean, const double[::1] prior_precision,
               int maxiter, double ftol, double gtol, double[::1] grad=None,
               double pooling=0.0):
    """Minimise -log p(y | theta) - log p(theta) over the box [lower, upper] from theta, in place.

    theta = (log ls (d), log a, log noise, c), p = d + 3 entries; the prior is independent
    Gaussians: -0.5 sum prior_precision_i (theta_i - prior_mean_i)^2 (precision 0: flat),
    plus -0.5 pooling sum_k (log ls_k - mean log ls)^2, which holds the lengthscales near
    each other (``fasthpo.gp.priors.lengthscale_pooling``; 0: none).
    A projected L-BFGS (memory 8, backtracking Armijo line search with quadratic
    interpolation) that stops as scipy's L-BFGS-B does: ``maxiter`` iterations, a relative
    decrease below ``ftol`` or a projected gradient below ``gtol``. Every evaluation is
    one :func:`gp_lml_grad` pass in C, so no Python runs between them. theta is clipped
    into the box first. ``grad`` (p,), unless None, receives the gradient at the returned
    theta. Returns (value, evaluations, iterations).
    """
    cdef Py_ssize_t n = X.shape[0]
    cdef Py_ssize_t d = X.shape[1]
    cdef Py_ssize_t p = d + 3
    cdef Py_ssize_t i
    cdef int evaluations = 0
    cdef int iterations = 0
    cdef double value = 0.0
    cdef _Posterior P
    if d < 1:
        raise ValueError(f"inputs need at least one column, got d={d}")
    if n < 1:
        raise ValueError("gp_map_fit needs at least one observation")
    if n > 2147483647:
        raise ValueError(f"n={n} is beyond LAPACK's 32-bit sizes")
    _check_same_length(n, y.shape[0], "y")
    for name, arr in (("theta", theta), ("lower", lower), ("upper", upper),
                      ("prior_mean", prior_mean), ("prior_precision", prior_precision)):
        _check_same_length(p, arr.shape[0], name)
    if grad is not None:
        _check_same_length(p, grad.shape[0], "grad")
    for i in range(p):
        if not (lower[i] <= upper[i]):
            raise ValueError(f"lower[{i}]={lower[i]} is not <= upper[{i}]={upper[i]}")
    if maxiter < 0:
        raise ValueError(f"maxiter must be >= 0, got {maxiter}")
    if not (pooling >= 0.0 and pooling < INFINITY):
        raise ValueError(f"pooling must be a finite value >= 0, got {pooling}")
    cdef double *buf = <double *>malloc(
        (2 * n * n + 3 * n + d + (8 + 2 * _MEMORY) * p + 2 * _MEMORY + 2) * sizeof(double))
    if buf == NULL:
        raise MemoryError(f"gp_map_fit: cannot allocate scratch for n={n}, d={d}")
    P.X = &X[0, 0]
    P.y = &y[0]
    P.n = n
    P.d = d
    P.prior_mean = &prior_mean[0]
    P.prior_precision = &prior_precision[0]
    P.pooling = pooling
    P.work = buf
    P.parts = buf + n * n
    P.r = P.parts + n * n
    P.alpha = P.r + n
    P.ls = P.alpha + n
    P.failed = 0
    try:
        with nogil:
            value = _lbfgs_minimize(&P, &theta[0], &lower[0], &upper[0], p, maxiter, ftol,
                                    gtol, P.ls + d + n, &evaluations, &iterations)
        if grad is not None:
            for i in range(p):
                grad[i] = (P.ls + d + n)[i]  # the loop keeps the gradient at x first in its scratch
    finally:
        free_mem(buf)
    if P.failed:
        raise MemoryError(f"gp_map_fit: cannot allocate scratch for n={n}, d={d}")
    return value, evaluations, iterations


cdef double _lbfgs_minimize(_Posterior *P, double *x, const double *lo, const double *hi,
                            Py_ssize_t f, int maxiter, double ftol, double gtol,
                            double *buf, int *evaluations, int *iterations) noexcept nogil:
    """The loop of :func:`gp_map_fit`: projected L-BFGS from x (f,) in place; returns f(x).

    The same direction and line search as the LogEI polish, one start at a time."""
    cdef Py_ssize_t j
    cdef int count = 0
    cdef int head = 0
    cdef int backtracks
    cdef double fx, ft, t, gdx, sy, yy, dec, step, pg, q
    cdef double *g = buf
    cdef double *gt = g + f
    cdef double *xt = gt + f
    cdef double *p = xt + f
    cdef double *sv = p + f
    cdef double *yv = sv + f
    cdef double *S = yv + f
    cdef double *Y = S + _MEMORY * f
    cdef double *rho = Y + _MEMORY * f
    cdef double *coef = rho + _MEMORY
    for j in range(f):
        x[j] = _clip(x[j], lo[j], hi[j])
    fx = _neg_log_posterior(P, x, g)
    evaluations[0] = 1
    iterations[0] = 0
    if not (fx < 1e25) or P.failed:
        return fx
    while iterations[0] < maxiter:
        _lbfgs_direction(f, x, g, lo, hi, S, Y, rho, count, head, p, coef)
        if count > 0 and _dot(p, g, f) >= 0.0:
            count = 0  # not a descent direction: drop the memory, take the gradient
            _lbfgs_direction(f, x, g, lo, hi, S, Y, rho, 0, head, p, coef)
        t = 1.0
        backtracks = 0
        while True:
            gdx = 0.0
            for j in range(f):
                xt[j] = _clip(x[j] + t * p[j], lo[j], hi[j])
                gdx += g[j] * (xt[j] - x[j])
            if gdx >= 0.0:  # the bounds turned the step uphill
                if count == 0:
                    return fx  # even the projected gradient: no descent left
                count = 0
                _lbfgs_direction(f, x, g, lo, hi, S, Y, rho, 0, head, p, coef)
                t = 1.0
                backtracks = 0
                continue
            # The value first: the gradient only for a trial the line search accepts.
            ft = _neg_log_posterior_value(P, xt)
            evaluations[0] += 1
            if P.failed:
                return fx
            if ft < 1e25 and ft <= fx + _ARMIJO * gdx:
                if _neg_log_posterior_grad(P, xt, gt) == 0:
                    break
                if P.failed:
                    return fx
                ft = 1e25  # no gradient there: treated as a failed trial
            backtracks += 1
            if backtracks > _MAX_BACKTRACKS:
                if count == 0:
                    return fx
                count = 0  # the curvature estimate misled: start over from the gradient
                _lbfgs_direction(f, x, g, lo, hi, S, Y, rho, 0, head, p, coef)
                t = 1.0
                backtracks = 0
                continue
            # Minimiser of the quadratic through f(0), its slope and f(t), kept in [t/10, t/2].
            q = 0.5 * t
            if ft < 1e25:
                q = -gdx * t / (2.0 * (ft - fx - gdx))
            if q < 0.1 * t:
                q = 0.1 * t
            if q > 0.5 * t:
                q = 0.5 * t
            t = q
        sy = 0.0
        yy = 0.0
        for j in range(f):
            sv[j] = xt[j] - x[j]
            yv[j] = gt[j] - g[j]
            sy += sv[j] * yv[j]
            yy += yv[j] * yv[j]
        if sy > 1e-10 * yy and yy > 0.0:  # keep H positive definite
            for j in range(f):
                S[head * f + j] = sv[j]
                Y[head * f + j] = yv[j]
            rho[head] = 1.0 / sy
            head = (head + 1) % _MEMORY
            if count < _MEMORY:
                count += 1
        dec = fx - ft
        step = fabs(fx)
        if fabs(ft) > step:
            step = fabs(ft)
        if step < 1.0:
            step = 1.0
        fx = ft
        pg = 0.0
        for j in range(f):
            x[j] = xt[j]
            g[j] = gt[j]
            q = fabs(_clip(x[j] - g[j], lo[j], hi[j]) - x[j])
            if q > pg:
                pg = q
        iterations[0] += 1
        # A shortened step says little about convergence (the direction was poor, and the
        # next one uses the new curvature pair): only a full step's small decrease stops.
        if (dec <= ftol * step and backtracks == 0) or pg <= gtol:
            break
    return fx
