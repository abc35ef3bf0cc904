"""Agreement statistics used across the book.

References
----------
.. [Cohen1968] Cohen J (1968). Weighted kappa: nominal scale agreement with provision for
   scaled disagreement or partial credit. Psychol Bull 70:213-220.
"""

from __future__ import annotations

import numpy as np

__all__ = ["weighted_kappa"]


def weighted_kappa(rater_a, rater_b, categories=(0, 1, 2, 3, 4), weights: str = "linear") -> float:
    """Cohen's weighted kappa between two raters on an ordinal scale [Cohen1968]_.

    κ_w = 1 − Σ w_ij O_ij / Σ w_ij E_ij with disagreement weights w_ij = |i − j| / (k − 1)
    (linear) or ((i − j) / (k − 1))² (quadratic), O the observed and E the chance-expected
    (product of marginals) proportions over the ``categories``.

    Parameters
    ----------
    rater_a, rater_b : (n,) array-like of int
        Scores of the two raters for the same n items.
    categories : sequence of int
        The ordered scale (0–4 Likert in Wang 2023).
    weights : {"linear", "quadratic"}

    Returns
    -------
    float
        κ_w in [−1, 1]; NaN when both raters use a single category (no variation).

    Examples
    --------
    >>> weighted_kappa([0, 1, 2, 3], [0, 1, 2, 3])
    1.0
    """
    a = np.asarray(rater_a)
    b = np.asarray(rater_b)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"rater_a and rater_b must be 1-D of equal length, got {a.shape} and {b.shape}")
    cats = list(categories)
    index = {c: i for i, c in enumerate(cats)}
    bad = [v for v in np.concatenate([a, b]).tolist() if v not in index]
    if bad:
        raise ValueError(f"scores {sorted(set(bad))} are not in categories {cats}")
    k = len(cats)
    obs = np.zeros((k, k))
    for x, y in zip(a.tolist(), b.tolist()):
        obs[index[x], index[y]] += 1
    obs /= obs.sum()
    exp = np.outer(obs.sum(axis=1), obs.sum(axis=0))
    i, j = np.indices((k, k))
    if weights == "linear":
        w = np.abs(i - j) / (k - 1)
    elif weights == "quadratic":
        w = ((i - j) / (k - 1)) ** 2
    else:
        raise ValueError(f"weights must be 'linear' or 'quadratic', got {weights!r}")
    denom = np.sum(w * exp)
    if denom == 0:
        return float("nan")
    return float(1.0 - np.sum(w * obs) / denom)
