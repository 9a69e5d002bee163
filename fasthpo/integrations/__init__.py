"""fasthpo's optimizer inside other tools: an Optuna sampler and a scikit-learn search estimator.

Each module imports its tool on first import of the module itself, never from
``import fasthpo``; a missing tool is one line naming the extra to install.
"""
