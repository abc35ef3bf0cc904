"""The statistics of the book: reader agreement, rank correlation, power, attenuation.

Agreement (chapter on readers)
    :func:`icc` / :func:`icc_table` — Shrout & Fleiss (1979) ICCs with McGraw & Wong (1996)
    aliases and exact F-based intervals; :func:`weighted_kappa` — Cohen's kappa, unweighted,
    linear or quadratic, with the Fleiss, Levin & Paik (2003) standard error.
Correlation (chapter on qMRI vs histology)
    :func:`spearman` (SPSS's ρ and t-approximation p), :func:`p_from_r`,
    :func:`spearman_permutation_p`, :func:`spearman_bootstrap_ci` (paired BCa),
    :func:`benjamini_hochberg`, :func:`leave_one_out_rho`, :func:`correlation_table`.
Beyond the paper
    :func:`spearman_power`, :func:`min_detectable_rho`, :func:`required_n`,
    :func:`replication_rate`; :func:`attenuated_rho` / :func:`disattenuated_rho`
    (Spearman 1904).

Every function validates its input first and raises :class:`StatsError` (a ``ValueError``)
naming the argument. All are pure: arrays in, numbers or new objects out; the resampling
functions take a ``seed`` and are reproducible.
"""

from ._checks import StatsError
from .agreement import (ICC_KINDS, KAPPA_WEIGHTS, ICCResult, KappaResult, icc, icc_table,
                        weighted_kappa)
from .attenuation import attenuated_rho, disattenuated_rho
from .correlation import (CORRELATION_COLUMNS, BootstrapCI, SpearmanResult, benjamini_hochberg,
                          correlation_table, leave_one_out_rho, p_from_r, spearman,
                          spearman_bootstrap_ci, spearman_permutation_p)
from .power import (POWER_METHODS, ReplicationResult, min_detectable_rho, replication_rate,
                    required_n, spearman_power)

__all__ = [
    "StatsError",
    # agreement
    "icc", "icc_table", "ICCResult", "ICC_KINDS", "weighted_kappa", "KappaResult",
    "KAPPA_WEIGHTS",
    # correlation
    "spearman", "SpearmanResult", "p_from_r", "spearman_permutation_p",
    "spearman_bootstrap_ci", "BootstrapCI", "benjamini_hochberg", "leave_one_out_rho",
    "correlation_table", "CORRELATION_COLUMNS",
    # power and replication
    "spearman_power", "min_detectable_rho", "required_n", "replication_rate",
    "ReplicationResult", "POWER_METHODS",
    # attenuation
    "attenuated_rho", "disattenuated_rho",
]
