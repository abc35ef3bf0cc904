"""The paper's results from the pipeline's ROI table and the score store.

- :mod:`.measurements` — the biopsied (and contralateral) muscle's FF and water T2 per
  reader, from the tidy ROI table; the readers' mean;
- :mod:`.agreement` — ICC of R1/R2 (both two-way forms), Bland–Altman bias and limits of
  agreement, linearly weighted kappa of R3/R4 per item (Table S1), the "average if
  agreement is good" rule;
- :mod:`.correlation` — the ten Spearman tests of the paper with SPSS p, permutation p,
  bootstrap interval and Benjamini–Hochberg q; the contralateral analysis; each
  pathologist alone; leave-one-out influence;
- :mod:`.beyond` — power of n patients, the paper's effect sizes, attenuation by
  measurement error;
- :mod:`.paper_check` — every number the paper reports beside the book's, and a
  consistency audit of the paper's own numbers;
- :mod:`.tables` — Table 1 from the clinical table, split to fit a page;
- :mod:`.inputs` — the I/O edge: scores from the store (imported from the cohort's CSV),
  the clinical table, the image slices of the figures. Import it explicitly
  (``from qmri_kernels.results import inputs``).

Everything except :mod:`.inputs` takes DataFrames and returns DataFrames; it reads no file.
"""

from .agreement import (AGREEMENT_BANDS, agreement_band, bland_altman, reader_icc,
                        score_kappa, scores_for_correlation)
from .beyond import (attenuation_table, paper_effect_sizes, power_table, rho_at_p,
                     spearman_brown)
from .correlation import (FIGURE2_TESTS, MIN_SUBJECTS, PAPER_TESTS,
                          contralateral_correlations, influence_table, reader_sensitivity,
                          study_correlations)
from .measurements import biopsy_measurements, reader_mean, readers_present
from .paper_check import (DASH, MEASURE_LABELS, audit_paper, correlations_vs_paper,
                          figure_values, icc_vs_paper, kappa_vs_paper, paper_vs_book,
                          readers_vs_paper)
from .tables import table1

__all__ = ["biopsy_measurements", "reader_mean", "readers_present", "reader_icc",
           "score_kappa", "scores_for_correlation", "agreement_band", "AGREEMENT_BANDS",
           "bland_altman", "PAPER_TESTS", "FIGURE2_TESTS", "MIN_SUBJECTS",
           "study_correlations", "contralateral_correlations", "reader_sensitivity",
           "influence_table", "rho_at_p", "paper_effect_sizes", "power_table",
           "spearman_brown", "attenuation_table", "paper_vs_book", "audit_paper",
           "readers_vs_paper", "icc_vs_paper", "kappa_vs_paper", "correlations_vs_paper",
           "figure_values", "DASH", "MEASURE_LABELS", "table1"]
