"""Benchmarks: a suite of problems with known optima and real tuning tasks, to compare optimizers.

``problems`` names and builds problems (synthetic functions and their variants),
``tasks`` holds the real tasks on scikit-learn's bundled data sets. Nothing is
imported here, so ``import fasthpo.benchmark`` stays light.
"""
