"""Train a support-vector classifier on scikit-learn's bundled digits data set.

Run by the tuner with ``--C=... --gamma=... --kernel=... --degree=... --folds=...``;
prints ``validation-error=<value>`` (mean k-fold cross-validation error), which the
job file's metric regex reads. Run it by hand too: ``python train.py --C=10``.
"""

import argparse

from sklearn.datasets import load_digits
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--C", type=float, default=1.0)
    parser.add_argument("--gamma", type=float, default=1e-3)
    parser.add_argument("--kernel", choices=["rbf", "poly"], default="rbf")
    parser.add_argument("--degree", type=int, default=3)
    parser.add_argument("--folds", type=int, default=3)
    args = parser.parse_args()

    X, y = load_digits(return_X_y=True)
    model = make_pipeline(
        StandardScaler(),
        SVC(C=args.C, gamma=args.gamma, kernel=args.kernel, degree=args.degree),
    )
    scores = cross_val_score(model, X, y, cv=args.folds)
    for fold, score in enumerate(scores):
        print(f"fold {fold}: accuracy={score:.4f}")
    print(f"validation-error={1.0 - scores.mean():.6f}")


if __name__ == "__main__":
    main()
