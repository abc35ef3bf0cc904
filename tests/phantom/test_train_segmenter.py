import json

import pytest
import torch

from qmri_kernels.segment import Segmenter
from qmri_kernels.phantom.training_slices import check_disjoint_from_cohort, phantom_slices
from qmri_kernels.phantom.train_segmenter import main


def test_cohort_seeds_are_refused():
    with pytest.raises(ValueError, match="belong to the synthetic cohort"):
        check_disjoint_from_cohort([100_000, 101])
    with pytest.raises(ValueError, match="cohort"):
        phantom_slices([113])


@pytest.mark.slow
def test_training_is_deterministic_and_writes_a_loadable_sidecar(tmp_path):
    args = ["--n-train", "1", "--n-val", "1", "--epochs", "1", "--batch-size", "5",
            "--base-channels", "4", "--depth", "2", "--threads", "1"]
    threads = torch.get_num_threads()
    main(args + ["--out", str(tmp_path / "a")])
    main(args + ["--out", str(tmp_path / "b")])
    assert torch.get_num_threads() == threads          # restored
    a = json.loads((tmp_path / "a" / "unet_t2w.json").read_text())
    b = json.loads((tmp_path / "b" / "unet_t2w.json").read_text())
    assert a["sha256"] == b["sha256"]
    assert a["log"][0]["loss"] == b["log"][0]["loss"]
    assert a["network"]["base_channels"] == 4 and a["training"]["n_train_slices"] == 9
    seg = Segmenter(tmp_path / "a" / "unet_t2w.pt")      # hash verified, weights_only load
    assert seg.model.config["depth"] == 2


def test_bad_arguments():
    with pytest.raises(ValueError, match=">= 1"):
        main(["--epochs", "0"])
