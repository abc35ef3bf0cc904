"""The scaling cohort (``synthetic_cohort --n-subjects N``): its own subjects, seeds, folder
and manifest, never mixed with the paper's 13 patients, and a pipeline input like them."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from qmri_kernels.manifest import load_manifest
from qmri_kernels.phantom import synthetic_cohort as sc


def test_subjects_and_seeds_follow_the_papers_patients():
    assert sc.scaling_subject_ids(3) == ["s0001", "s0002", "s0003"]
    targets = sc.scaling_targets(5)
    assert list(targets["seed"]) == [114, 115, 116, 117, 118]
    assert targets["seed"].min() > max(sc.COHORT_SEEDS.values())
    # a subject's draw depends on its seed alone, not on the cohort's size
    pd.testing.assert_frame_equal(sc.scaling_targets(3), targets.iloc[:3])
    for bad in (0, -1, 2.5, 10 ** 6):
        with pytest.raises(ValueError, match="n_subjects"):
            sc.scaling_subject_ids(bad)


def test_targets_have_the_papers_distributions():
    t = sc.scaling_targets(2000)
    assert abs(t["ff_biopsy_percent"].mean() - 7.3) < 0.6
    assert abs(t["t2_biopsy_ms"].mean() - 54.7) < 1.5
    assert abs(t["t2_contra_ms"].mean() - 44.5) < 0.5
    assert t["ff_biopsy_percent"].between(0.8, 40).all()
    assert set(t["biopsy_side"]) == {"left", "right"} and set(t["sex"]) == {"M", "F"}
    rho = np.corrcoef(np.log(t["ff_biopsy_percent"]), t["t2_biopsy_ms"])[0, 1]
    assert 0.2 < rho < 0.5                      # the latents' correlation, through the maps


def test_the_two_cohorts_never_share_a_folder(tmp_path):
    paper = tmp_path / "paper"
    paper.mkdir()
    (paper / ".complete").write_text("complete\ngenerator x\nmatrix [48, 48]\npatients [1]\n")
    with pytest.raises(ValueError, match="holds the paper's 13-patient cohort"):
        sc.generate_scaling_cohort(paper, 1, matrix=(48, 48))
    scaling = tmp_path / "scaling"
    scaling.mkdir()
    (scaling / ".complete").write_text("complete\ncohort scaling\ngenerator x\n")
    with pytest.raises(ValueError, match="holds a scaling cohort"):
        sc.generate_cohort(scaling, matrix=(48, 48), patients=[1])
    with pytest.raises(SystemExit):                    # the command line says why
        sc.main(["--out", str(paper), "--n-subjects", "1", "--matrix", "48"])
    assert sorted(p.name for p in paper.iterdir()) == [".complete"]
    assert sorted(p.name for p in scaling.iterdir()) == [".complete"]


@pytest.mark.slow
def test_a_scaling_cohort_is_labelled_and_runs_through_ingest(tmp_path, capsys):
    from qmri_kernels import pipeline

    out = tmp_path / "scaling"
    assert sc.main(["--out", str(out), "--n-subjects", "1", "--matrix", "48"]) == 0
    assert "scaling cohort (1 subjects)" in capsys.readouterr().out
    manifest = load_manifest(out / "data_manifest.yaml")
    assert [s.id for s in manifest.subjects] == ["s0001"] and manifest.synthetic
    assert "Scaling cohort" in (out / "data_manifest.yaml").read_text()
    clinical = pd.read_csv(out / "sourcedata" / "clinical.csv")
    assert list(clinical["participant_id"]) == ["sub-s0001"]
    assert set(clinical["cohort"]) == {"scaling"}
    generator = json.loads((out / "truth" / "generator.json").read_text())
    assert generator["cohort"] == "scaling" and generator["seeds"] == {"sub-s0001": 114}
    assert not (out / "sourcedata" / "scores_pathology.csv").exists()
    marker = (out / ".complete").read_text()
    assert sc.generate_scaling_cohort(out, 1, matrix=(48, 48)) == out      # kept
    assert (out / ".complete").read_text() == marker
    with pytest.raises(SystemExit):
        sc.main(["--out", str(out), "--n-subjects", "1", "--patients", "1"])
    result = pipeline.ensure_ingested(manifest, "s0001")
    assert result.computed and any(n.startswith("sub-s0001_") for n in result.paths)
