# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""Thin Cython binding of the C kernels in ``csrc/`` (Matérn-5/2 and its gradients,
Kumaraswamy warp, log expected improvement).

Private: call :mod:`fasthpo.gp.kernels`, :mod:`fasthpo.gp.warping` and
:mod:`fasthpo.gp.logei`, which
validate values (dtype, finiteness, positivity) once. This layer only checks
the O(1) facts the C code needs to stay inside its buffers (matching shapes,
d >= 1), since an unchecked mismatch here would corrupt memory rather than
raise. Arrays arrive as typed memoryviews, so no NumPy headers are needed;
outputs are allocated by the caller. Every call releases the GIL.
"""

from libc.stddef cimport ptrdiff_t


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
    int fh_matern52_cross_grad(const double *Xc, ptrdiff_t m,
                               const double *X, ptrdiff_t n, ptrdiff_t d,
                               const double *lengthscales, double amplitude,
                               const double *V, double *G)
    void fh_log_ei(const double *mu, const double *sigma, ptrdiff_t m, double best,
                   double *log_ei, double *d_mu, double *d_sigma)
    void fh_erfcx(const double *x, ptrdiff_t n, double *out)


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
