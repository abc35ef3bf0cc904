"""The chapter's figures draw from ingested output (qmri_kernels.figures.dicom)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from qmri_kernels.dicom import ingest  # noqa: E402
from qmri_kernels.figures.dicom import plot_echo_montage, plot_slice_positions  # noqa: E402


def test_figures_show_every_series(study):
    ingest(study.dicom, study.out, "sub-07")
    fig = plot_slice_positions(study.out, "sub-07")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == \
        ["T2w", "MEGRE (IDEAL-IQ echoes)", "MESE (T2 map)"]
    assert len(ax.patches) == sum(study.grids[r].shape[2] for r in ("megre", "mese", "t2w"))
    # the slabs sit at the grid's slice centres, with the protocol's thickness
    centres = sorted(p.get_x() + p.get_width() / 2 for p in ax.patches if p.get_width() == 8.0)
    np.testing.assert_allclose(centres, study.grids["t2w"].slice_z())
    plt.close(fig)
    fig = plot_echo_montage(study.out, "sub-07", z_mm=0.0)
    assert len(fig.axes) == 4 and "phase" in fig.axes[2].get_title()
    assert fig.axes[2].images[0].get_clim() == (-np.pi, np.pi)
    plt.close(fig)
