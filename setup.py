"""Build the native extension ``fasthpo.gp._native``; metadata lives in pyproject.toml.

One extension module: the Cython binding plus the plain-C kernels in ``csrc/``.
It is compiled with portable optimisation flags only (no -march=native), so a
wheel built here runs on any CPU of its platform; the hot Matérn loops carry
their own AVX2 clones, picked at load time (csrc/simd_clones.h). GCC and Clang
both accept the flags below: -ffp-contract=off so that no multiply-add is fused
(the clones then give the same bits), -fno-math-errno and -fno-trapping-math
(value-safe: no errno, no FP traps) so that loops with sqrt or a clamp vectorise.
"""

import os

from Cython.Build import cythonize
from setuptools import Extension, setup

if os.name == "nt":  # MSVC: its own flag spelling, and the maths library is the CRT
    compile_args = ["/O2"]
    libraries: list[str] = []
else:
    compile_args = ["-O3", "-ffp-contract=off", "-fno-math-errno", "-fno-trapping-math"]
    libraries = ["m"]

native = Extension(
    "fasthpo.gp._native",
    sources=[
        "fasthpo/gp/_native.pyx",
        "csrc/matern52.c",
        "csrc/exp_nonpositive.c",
        "csrc/kumaraswamy.c",
        "csrc/logei.c",
    ],
    include_dirs=["csrc"],
    extra_compile_args=compile_args,
    libraries=libraries,
)

setup(
    ext_modules=cythonize([native], compiler_directives={"language_level": 3}),
)
