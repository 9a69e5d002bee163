"""Train a one-hidden-layer MLP on scikit-learn's bundled digits, one epoch per ``partial_fit``.

Run by the tuner with ``--hidden_units=... --alpha=... --learning_rate_init=...
--batch_size=... --epochs=27`` (``epochs`` is Hyperband's resource: the most a
trial may train). After every epoch it reports the held-out error with
``fasthpo.report(step=epoch, validation-error=...)``; the tuner stops it at a
rung when it is behind. Run it by hand too: ``python train.py --epochs=5``.
"""

import argparse
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

import fasthpo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hidden_units", type=int, default=64)
    parser.add_argument("--alpha", type=float, default=1e-4)
    parser.add_argument("--learning_rate_init", type=float, default=1e-3)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=27)
    args = parser.parse_args()

    X, y = load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(y))  # a fixed split: every trial sees the same
    X, y = X[order] / 16.0, y[order]
    train, held_out = slice(0, 1000), slice(1000, None)
    model = MLPClassifier(
        hidden_layer_sizes=(args.hidden_units,), alpha=args.alpha,
        learning_rate_init=args.learning_rate_init, batch_size=args.batch_size, random_state=0,
    )
    for epoch in range(1, args.epochs + 1):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.partial_fit(X[train], y[train], classes=np.arange(10))
        error = 1.0 - model.score(X[held_out], y[held_out])
        fasthpo.report(step=epoch, **{"validation-error": error})
        print(f"epoch {epoch}: validation-error={error:.4f}", flush=True)


if __name__ == "__main__":
    main()
