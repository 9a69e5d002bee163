"""Gaussian-process maths: native kernels, input warping and their NumPy references."""
