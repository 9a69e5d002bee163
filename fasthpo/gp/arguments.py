"""Checks of the arrays and scalars handed to the native kernels, one place for all of them.

Each function returns a C-contiguous float64 array (no copy for input that is
already one) or a float, or raises ``ValueError`` naming the argument and, for
arrays, the first offending entry — so the C code can trust its inputs and the
user learns which value was wrong.
"""

from __future__ import annotations

import numbers

import numpy as np
from numpy.typing import ArrayLike


def as_float64(value: ArrayLike, name: str) -> np.ndarray:
    """Convert a real numeric array-like to C-contiguous float64."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    # order="C" rather than np.ascontiguousarray, which would turn 0-d into (1,).
    return np.asarray(arr, dtype=np.float64, order="C")


def first_bad(arr: np.ndarray, bad: np.ndarray) -> str:
    """Describe the first flagged entry as ``[i, j] = value`` for an error message."""
    index = tuple(int(i) for i in np.argwhere(bad)[0])
    return f"[{', '.join(map(str, index))}] = {float(arr[index])!r}"


def as_points(value: ArrayLike, name: str) -> np.ndarray:
    """Validate an (n, d) matrix of finite points with d >= 1."""
    arr = as_float64(value, name)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D with shape (n, d), got shape {arr.shape}")
    if arr.shape[1] < 1:
        raise ValueError(f"{name} must have at least one column, got shape {arr.shape}")
    finite = np.isfinite(arr)
    if not finite.all():
        raise ValueError(f"{name} must be finite, but {name}{first_bad(arr, ~finite)}")
    return arr


def as_matrix(value: ArrayLike, name: str, shape: tuple[int, int], why: str) -> np.ndarray:
    """Validate a finite matrix of an exact shape (``why`` says where the shape comes from)."""
    arr = as_float64(value, name)
    if arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape} {why}, got shape {arr.shape}")
    finite = np.isfinite(arr)
    if not finite.all():
        raise ValueError(f"{name} must be finite, but {name}{first_bad(arr, ~finite)}")
    return arr


def as_lengthscales(value: ArrayLike, d: int, points: str = "X1") -> np.ndarray:
    """Validate a (d,) vector of positive finite lengthscales (``points`` names the source of d)."""
    arr = as_float64(value, "lengthscales")
    if arr.shape != (d,):
        raise ValueError(
            f"lengthscales must have shape ({d},) to match {points}'s d={d}, got shape {arr.shape}"
        )
    ok = np.isfinite(arr) & (arr > 0)
    if not ok.all():
        raise ValueError(f"lengthscales must be positive and finite, but lengthscales{first_bad(arr, ~ok)}")
    return arr


def as_positive_scalar(value: object, name: str) -> float:
    """Validate a positive finite real scalar (Python or NumPy), returned as float."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    x = float(value)
    if not (np.isfinite(x) and x > 0):
        raise ValueError(f"{name} must be positive and finite, got {x!r}")
    return x

def as_unit_interval(value: ArrayLike, name: str) -> np.ndarray:
    """Validate finite values in [0, 1]; returns C-contiguous float64 of the same shape."""
    arr = as_float64(value, name)
    ok = np.isfinite(arr) & (arr >= 0.0) & (arr <= 1.0)
    if not ok.all():
        where = first_bad(arr, ~ok) if arr.ndim else f" = {float(arr)!r}"
        raise ValueError(f"{name} must be finite and in [0, 1], but {name}{where}")
    return arr

def as_vector(value: ArrayLike, name: str) -> np.ndarray:
    """Validate a finite 1-D array; returns C-contiguous float64."""
    arr = as_float64(value, name)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D with shape (m,), got shape {arr.shape}")
    finite = np.isfinite(arr)
    if not finite.all():
        raise ValueError(f"{name} must be finite, but {name}{first_bad(arr, ~finite)}")
    return arr

def as_finite_scalar(value: object, name: str) -> float:
    """Validate a finite real scalar (Python or NumPy), returned as float."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    x = float(value)
    if not np.isfinite(x):
        raise ValueError(f"{name} must be finite, got {x!r}")
    return x
