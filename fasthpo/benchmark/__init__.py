"""Benchmarks: a suite of problems with known optima and real tuning tasks, to compare optimizers.

``problems`` is the catalogue that names and builds problems; it registers the
synthetic functions of ``synthetic`` and the real tasks of ``tasks`` (scikit-learn's
bundled data sets) in ``registry``, and applies the ``variants``. Nothing is
imported here, so ``import fasthpo.benchmark`` stays light.
"""
