"""The paper's results from the pipeline's ROI table and the score store.

- :mod:`.measurements` — the biopsied (and contralateral) muscle's FF and water T2 per
  reader, from the tidy ROI table; the readers' mean;
- :mod:`.agreement` — ICC of R1/R2 (both two-way forms), linearly weighted kappa of R3/R4
  per item (Table S1), the "average if agreement is good" rule;
- :mod:`.correlation` — the ten Spearman tests of the paper with SPSS p, permutation p,
  bootstrap interval and Benjamini–Hochberg q; the contralateral analysis;
- :mod:`.paper_check` — every number the paper reports beside the book's, and a
  consistency audit of the paper's own numbers.

Everything takes DataFrames and returns DataFrames; nothing here reads files.
"""

from .agreement import (AGREEMENT_BANDS, agreement_band, reader_icc, score_kappa,
                        scores_for_correlation)
from .correlation import PAPER_TESTS, contralateral_correlations, study_correlations
from .measurements import biopsy_measurements, reader_mean
from .paper_check import audit_paper, paper_vs_book

__all__ = ["biopsy_measurements", "reader_mean", "reader_icc", "score_kappa",
           "scores_for_correlation", "agreement_band", "AGREEMENT_BANDS", "PAPER_TESTS",
           "study_correlations", "contralateral_correlations", "paper_vs_book",
           "audit_paper"]
