"""A scrambled Sobol sequence in NumPy, so that proposing needs no ``scipy.stats``.

Importing ``scipy.stats`` (for ``qmc.Sobol``) took most of a new process's time to
its first proposal; this module gives the same kind of sequence from a table of
direction numbers written into the source. Joe and Kuo's direction numbers
(``new-joe-kuo-6.21201``, the table SciPy ships) cover the first
:data:`TABLE_DIMENSIONS` dimensions; the unscrambled points are SciPy's
``qmc.Sobol(d, scramble=False)`` points exactly. Scrambling is Matoušek's linear
matrix scramble with a digital random shift (as SciPy's), drawn from the caller's
NumPy ``Generator`` in the order SciPy draws it (the same generator state gives
SciPy's scrambled points too). For more dimensions than the table holds,
:func:`scrambled_sobol` falls back to SciPy's ``qmc.Sobol``, imported only then.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

#: Bits of each coordinate (SciPy's default): points are multiples of 2**-BITS.
BITS = 30

#: Largest number of points one sequence gives.
MAX_POINTS = 2**BITS

#: Joe–Kuo primitive polynomials and initial direction numbers m_1..m_s of
#: dimensions 2 to 64 (dimension 1 is the van der Corput sequence), as
#: ``(polynomial, (m_1, ..., m_s))``: the polynomial's bits, leading and constant
#: terms included, so its degree s is ``polynomial.bit_length() - 1``.
_JOE_KUO = (
    (3, (1,)), (7, (1, 3)), (11, (1, 3, 1)), (13, (1, 1, 1)), (19, (1, 1, 3, 3)),
    (25, (1, 3, 5, 13)), (37, (1, 1, 5, 5, 17)), (41, (1, 1, 5, 5, 5)), (47, (1, 1, 7, 11, 19)),
    (55, (1, 1, 5, 1, 1)), (59, (1, 1, 1, 3, 11)), (61, (1, 3, 5, 5, 31)),
    (67, (1, 3, 3, 9, 7, 49)), (91, (1, 1, 1, 15, 21, 21)), (97, (1, 3, 1, 13, 27, 49)),
    (103, (1, 1, 1, 15, 7, 5)), (109, (1, 3, 1, 15, 13, 25)), (115, (1, 1, 5, 5, 19, 61)),
    (131, (1, 3, 7, 11, 23, 15, 103)), (137, (1, 3, 7, 13, 13, 15, 69)),
    (143, (1, 1, 3, 13, 7, 35, 63)), (145, (1, 3, 5, 9, 1, 25, 53)),
    (157, (1, 3, 1, 13, 9, 35, 107)), (167, (1, 3, 1, 5, 27, 61, 31)),
    (171, (1, 1, 5, 11, 19, 41, 61)), (185, (1, 3, 5, 3, 3, 13, 69)),
    (191, (1, 1, 7, 13, 1, 19, 1)), (193, (1, 3, 7, 5, 13, 19, 59)),
    (203, (1, 1, 3, 9, 25, 29, 41)), (211, (1, 3, 5, 13, 23, 1, 55)),
    (213, (1, 3, 7, 3, 13, 59, 17)), (229, (1, 3, 1, 3, 5, 53, 69)),
    (239, (1, 1, 5, 5, 23, 33, 13)), (241, (1, 1, 7, 7, 1, 61, 123)),
    (247, (1, 1, 7, 9, 13, 61, 49)), (253, (1, 3, 3, 5, 3, 55, 33)),
    (285, (1, 3, 1, 15, 31, 13, 49, 245)), (299, (1, 3, 5, 15, 31, 59, 63, 97)),
    (301, (1, 3, 1, 11, 11, 11, 77, 249)), (333, (1, 3, 1, 11, 27, 43, 71, 9)),
    (351, (1, 1, 7, 15, 21, 11, 81, 45)), (355, (1, 3, 7, 3, 25, 31, 65, 79)),
    (357, (1, 3, 1, 1, 19, 11, 3, 205)), (361, (1, 1, 5, 9, 19, 21, 29, 157)),
    (369, (1, 3, 7, 11, 1, 33, 89, 185)), (391, (1, 3, 3, 3, 15, 9, 79, 71)),
    (397, (1, 3, 7, 11, 15, 39, 119, 27)), (425, (1, 1, 3, 1, 11, 31, 97, 225)),
    (451, (1, 1, 1, 3, 23, 43, 57, 177)), (463, (1, 3, 7, 7, 17, 17, 37, 71)),
    (487, (1, 3, 1, 5, 27, 63, 123, 213)), (501, (1, 1, 3, 5, 11, 43, 53, 133)),
    (529, (1, 3, 5, 5, 29, 17, 47, 173, 479)), (539, (1, 3, 3, 11, 3, 1, 109, 9, 69)),
    (545, (1, 1, 1, 5, 17, 39, 23, 5, 343)), (557, (1, 3, 1, 5, 25, 15, 31, 103, 499)),
    (563, (1, 1, 1, 11, 11, 17, 63, 105, 183)), (601, (1, 1, 5, 11, 9, 29, 97, 231, 363)),
    (607, (1, 1, 5, 15, 19, 45, 41, 7, 383)), (617, (1, 3, 7, 7, 31, 19, 83, 137, 221)),
    (623, (1, 1, 1, 3, 23, 15, 111, 223, 83)), (631, (1, 1, 5, 13, 31, 15, 55, 25, 161)),
    (637, (1, 1, 3, 13, 25, 47, 39, 87, 257)),
)

#: Dimensions the table covers.
TABLE_DIMENSIONS = len(_JOE_KUO) + 1


class PointSource(Protocol):
    """Anything that gives the next points of a sequence in the unit cube."""

    def random(self, n: int = 1) -> np.ndarray:
        """The next ``n`` points, shape (n, d), in [0, 1)."""
        ...


def direction_numbers(d: int) -> np.ndarray:
    """Direction numbers of the first ``d`` dimensions as integers of ``BITS`` bits, shape (d, BITS).

    Column j holds v_{j+1} * 2**BITS; the point of index k is the XOR of the
    columns at the set bits of k's Gray code.
    """
    if not 0 <= d <= TABLE_DIMENSIONS:
        raise ValueError(
            f"d={d} is outside the Sobol table's 0..{TABLE_DIMENSIONS} dimensions"
        )
    v = np.zeros((d, BITS), dtype=np.uint32)
    if d == 0:
        return v
    m = np.ones((d, BITS), dtype=np.int64)  # m_j: dimension 1 has m_j = 1 for all j
    for row, (poly, initial) in enumerate(_JOE_KUO[: d - 1], start=1):
        s = poly.bit_length() - 1
        m[row, :s] = initial
        # Bratley and Fox's recurrence: m_j = m_{j-s} XOR (XOR over k = 1..s of 2^k a_k m_{j-k}),
        # a_k the polynomial's bits below its leading one (a_s, the constant term, is 1).
        for j in range(s, BITS):
            new = int(m[row, j - s])
            for k in range(1, s + 1):
                if (poly >> (s - k)) & 1:
                    new ^= int(m[row, j - k]) << k
            m[row, j] = new
    # v_j = m_j / 2^j, held as the integer m_j * 2^(BITS - j) for j = 1..BITS.
    shifts = np.arange(BITS - 1, -1, -1, dtype=np.int64)
    v[:] = (m << shifts).astype(np.uint32)
    return v


def linear_matrix_scramble(v: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Direction numbers multiplied, per dimension, by a random lower-triangular bit matrix.

    Each dimension's digits (most significant first) go through its own unit
    lower-triangular matrix over GF(2): a digit changes only with the digits
    above it, so every 1-D projection keeps its stratification.
    """
    d, bits = v.shape
    lower = np.tril(rng.integers(2, size=(d, bits, bits), dtype=np.uint32)).astype(np.int64)
    lower[:, np.arange(bits), np.arange(bits)] = 1
    weights = np.int64(1) << np.arange(bits - 1, -1, -1, dtype=np.int64)
    digits = (v.astype(np.int64)[:, :, None] // weights) & 1  # (d, column, digit), MSB first
    scrambled = np.einsum("dij,dcj->dci", lower, digits) & 1
    return (scrambled @ weights).astype(np.uint32)


class Sobol:
    """The Sobol sequence in ``d`` dimensions (d ≤ :data:`TABLE_DIMENSIONS`), optionally scrambled.

    Like SciPy's ``qmc.Sobol``, successive calls to :meth:`random` give
    successive points of one sequence (in Gray-code order, starting at index 0),
    so the first 2**k points drawn form a (t, k, d)-net.

    Parameters
    ----------
    d
        Number of dimensions.
    rng
        Generator the scramble is drawn from; required when ``scramble`` is true.
    scramble
        Apply the linear matrix scramble and a digital random shift.
    """

    def __init__(
        self, d: int, *, rng: np.random.Generator | None = None, scramble: bool = True
    ) -> None:
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1:
            raise ValueError(f"d must be a positive integer, not {d!r}")
        if d > TABLE_DIMENSIONS:
            raise ValueError(
                f"d={d} is more than the {TABLE_DIMENSIONS} dimensions of the Sobol table"
            )
        self.d = int(d)
        v = direction_numbers(self.d)
        if scramble:
            if rng is None:
                raise ValueError("rng is required to scramble the Sobol sequence")
            # The shift's bits (least significant first), then the matrices: drawn as
            # SciPy draws them, so a generator in the same state gives SciPy's points.
            shift_bits = rng.integers(2, size=(self.d, BITS), dtype=np.uint32)
            self._shift = shift_bits @ (np.uint32(1) << np.arange(BITS, dtype=np.uint32))
            v = linear_matrix_scramble(v, rng)
        else:
            self._shift = np.zeros(self.d, dtype=np.uint32)
        self._v = v
        self.num_generated = 0

    def random(self, n: int = 1) -> np.ndarray:
        """The next ``n`` points of the sequence, shape (n, d), in [0, 1)."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"n must be a non-negative integer, not {n!r}")
        end = self.num_generated + int(n)
        if end > MAX_POINTS:
            raise ValueError(
                f"n={n} would take the Sobol sequence past its {MAX_POINTS} points"
            )
        index = np.arange(self.num_generated, end, dtype=np.int64)
        gray = index ^ (index >> 1)
        points = np.tile(self._shift, (len(index), 1))
        for bit in range(max(end - 1, 0).bit_length()):
            chosen = ((gray >> bit) & 1).astype(bool)
            points[chosen] ^= self._v[:, bit]
        self.num_generated = end
        return points * (1.0 / MAX_POINTS)


def scrambled_sobol(d: int, rng: np.random.Generator) -> PointSource:
    """A scrambled Sobol sequence in ``d`` dimensions drawn from ``rng``.

    Ours up to :data:`TABLE_DIMENSIONS` dimensions; beyond, SciPy's
    ``qmc.Sobol`` (imported here, on use, as ``scipy.stats`` is slow to import).
    """
    if d <= TABLE_DIMENSIONS:
        return Sobol(d, rng=rng)
    from scipy.stats import qmc

    return qmc.Sobol(d, scramble=True, seed=rng)
