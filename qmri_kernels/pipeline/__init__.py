"""Per-subject orchestration shared by the notebooks and the command line.

Each stage computes its maps once and caches them in the manifest's derivative root as
BIDS derivatives (:mod:`qmri_kernels.derivatives`); a chapter asks for what it needs::

    from qmri_kernels.manifest import load_manifest
    from qmri_kernels import pipeline

    manifest = load_manifest()
    fw = pipeline.fat_water_maps(manifest, "13")       # MEGRE grid: pdff, r2star, fieldmap...
    t2 = pipeline.t2_maps(manifest, "13")              # MESE grid: water_t2, t2, b1, ...
    labels = pipeline.transferred_labels(manifest, "13")   # labels_auto_megre / _mese
    table = pipeline.roi_table(manifest)               # tidy ROI table of the cohort

Stages (in dependency order): :func:`ensure_ingested` → :func:`fat_water_maps`,
:func:`segmentation` → :func:`transferred_labels` → :func:`t2_maps` → :func:`roi_table`.
A cohort runs on Dask, one task per subject (:func:`run_cohort`: a local cluster by
default, any scheduler address for a real cluster, ``serial=True`` without Dask); the command
line is ``python -m qmri_kernels.pipeline [--subjects 01 13] [--stages ...] [--force]
[--scheduler ADDRESS] [--workers N] [--serial]``.
"""

from .body import body_mask, otsu_threshold
from .cli import main
from .runner import (ALL_STAGES, STAGES, CohortReport, RunnerError, StageRecord,
                     SubjectReport, run_cohort, run_subject)
from .stages import (FAT_WATER_MAPS, ROI_ERODE_MM, ROI_TABLE_NAME, T2_MAPS, StageInputError,
                     StageResult, ensure_ingested, fat_water_maps, reader_labels, roi_table,
                     roi_table_path, saved_readers, segmentation, t2_maps,
                     transferred_labels)

__all__ = ["StageResult", "ensure_ingested", "fat_water_maps", "segmentation",
           "transferred_labels", "t2_maps", "roi_table", "roi_table_path", "run_subject",
           "main", "STAGES", "ALL_STAGES", "run_cohort", "CohortReport", "SubjectReport",
           "StageRecord", "RunnerError", "FAT_WATER_MAPS", "T2_MAPS", "ROI_TABLE_NAME", "body_mask",
           "otsu_threshold", "reader_labels", "saved_readers", "ROI_ERODE_MM",
           "StageInputError"]
