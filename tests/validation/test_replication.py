"""The replication simulation: seeded, and the tests a strong latent coupling drives are
significant far more often than the weakly coupled ones."""

import numpy as np

from qmri_kernels.validation.replication import LatentStudyModel, draw_study, replication_table


def test_a_study_has_the_papers_moments_on_average():
    rng = np.random.default_rng(0)
    big = draw_study(LatentStudyModel(ff_error_pp=0, t2_error_ms=0), 20000, rng)
    assert abs(big["ff_percent"].mean() - 7.3) < 0.2
    assert abs(big["ff_percent"].std() - 6.1) < 0.4
    assert abs(big["water_t2_ms"].mean() - 54.7) < 0.4
    assert big["fat"].between(0, 4).all()


def test_replication_is_seeded_and_orders_the_tests():
    a = replication_table(LatentStudyModel(), n_studies=60, seed=3)
    b = replication_table(LatentStudyModel(), n_studies=60, seed=3)
    assert a.equals(b)
    share = a.set_index("item")["share_significant"]
    assert share["inflammatory_cells"] > share["mhc1"]
    assert (a["rho_p05"] <= a["rho_median"]).all() and (a["rho_median"] <= a["rho_p95"]).all()
