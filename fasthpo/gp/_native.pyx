# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""Thin Cython binding of the C kernels in ``csrc/`` (Matérn-5/2, Kumaraswamy warp).

Private: call :mod:`fasthpo.gp.kernels` and :mod:`fasthpo.gp.warping`, which
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
