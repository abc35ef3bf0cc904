"""Cross-check with the field's standard converter, dcm2niix: same affine, same voxels.

dcm2niix flips the row axis (its NIfTI is in a different voxel order), so both images are
brought to the closest canonical (RAS) orientation with nibabel before comparing: the
world position of every voxel must agree within 0.01 mm, and the voxel values within the
float32 precision of the stored rescale.
"""

from __future__ import annotations

import json

import dcm2niix
import nibabel as nib
import numpy as np
import pytest

from qmri_kernels.dicom import ingest
from qmri_kernels.dicom.bids import bids_path


def _ours(study, info):
    series, echo = info["SeriesNumber"], info.get("EchoNumber", 1)
    role, part = {5: ("megre", "mag"), 105: ("megre", "phase"), 7: ("mese", None),
                  3: ("t2w", None)}[series]
    echo = None if role == "t2w" else echo
    return bids_path(study.out, "07", role, echo=echo, part=part)


def test_affine_and_voxels_match_dcm2niix(study, tmp_path):
    ingest(study.dicom, study.out, "sub-07")
    ref_dir = tmp_path / "dcm2niix"
    ref_dir.mkdir()
    done = dcm2niix.main(["-z", "n", "-b", "y", "-f", "%s_%e_%z", "-o", str(ref_dir),
                          str(study.dicom)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    refs = sorted(ref_dir.glob("*.nii"))
    assert len(refs) == 6 + 6 + 8 + 1  # every echo of every series, magnitude and phase
    for ref_path in refs:
        info = json.loads(ref_path.with_suffix(".json").read_text())
        ours = nib.as_closest_canonical(nib.load(_ours(study, info)))
        ref = nib.as_closest_canonical(nib.load(ref_path))
        np.testing.assert_allclose(ours.affine, ref.affine, atol=0.01, err_msg=ref_path.name)
        a = ours.get_fdata()
        b = ref.get_fdata().reshape(a.shape)
        scale = max(np.abs(b).max(), 1.0)
        np.testing.assert_allclose(a, b, atol=2e-6 * scale, err_msg=ref_path.name)
        if info["SeriesNumber"] == 105:
            assert np.abs(a).max() <= np.pi + 1e-4  # dcm2niix applies our rescale to radians


@pytest.mark.parametrize("role", ["megre", "mese", "t2w"])
def test_affine_equals_the_phantom_grid(study, role):
    """The writer's grid → DICOM → ingest round trip (an independent geometry check)."""
    ingest(study.dicom, study.out, "sub-07")
    echo = None if role == "t2w" else 2
    img = nib.load(bids_path(study.out, "07", role, echo=echo,
                             part="mag" if role == "megre" else None))
    np.testing.assert_allclose(img.affine, study.grids[role].affine, atol=1e-6)
