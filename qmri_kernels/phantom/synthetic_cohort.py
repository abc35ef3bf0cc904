"""The synthetic 13-patient cohort of Wang et al. 2023, written to disk as real DICOM.

Each subject mirrors a row of the paper's Table 1 (sex, age, chief complaint, course, CK,
electromyography, MRI-to-biopsy interval, biopsy site, diagnosis). Two latent disease
dimensions per subject — *activity* (inflammation/edema) and *chronicity* (fatty and
fibrous replacement) — drive the biopsied muscle's water T2 and PDFF, the contralateral
muscle's, the rest of the thigh, and the two pathologists' 0–4 scores. The targets are
moment-matched to the paper's Results (biopsied FF 7.3 ± 6.1 %, range 0.8–26.2 %; water
T2 54.7 ± 14.1 ms; contralateral FF 7.5 ± 6.6 %, T2 44.5 ± 4.4 ms), keeping the values the
paper names for single patients (patient 8: FF 6.0 %; patient 9: T2 34.1 ms; patient 13:
FF 26.2 %, T2 69.7 ms). Reader noise per score is tuned so that the linearly weighted
kappa between the simulated R3 and R4 lands near the paper's agreement (Results and
Discussion; Table S1 itself is not public).

Run ``python -m qmri_kernels.phantom.synthetic_cohort --out data/synthetic``. Everything is seeded:
re-running writes byte-identical files.

A *scaling cohort* (``--n-subjects N``, :func:`generate_scaling_cohort`) is something else: N
made-up subjects ``s0001``, ``s0002``, … drawn with the same phantom and physics from the
phantom seeds after the 13 patients', for measuring throughput (``benchmarks/scaling.py``).
It is written to its own folder (default ``data/scaling``) with its own manifest, labelled
as a scaling cohort in its files, and never mixed with the paper's 13 patients.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from ..paper import TABLE1
from ..provenance import GENERATOR_SOURCES, code_digest
from ..stats import weighted_kappa
from .dicom_writer import Identity, write_study
from ..labels import MUSCLES, SIDES, label_index, write_dseg_tsv
from .protocol import DEFAULT_MATRIX, IDEAL_IQ_MAPS, PROTOCOL, series_grid
from .subject import _MUSCLE_PD, _SCALE, HEALTHY_FF, HEALTHY_WATER_T2, DiseaseSpec, make_subject
from .vendor_recon import ge_stored, grid_points, ideal_iq_maps

__all__ = ["CLINICAL", "COHORT_SEEDS", "SCORES", "cohort_targets", "simulate_scores",
           "identities", "generate_cohort", "SCALING_FIRST_SEED", "scaling_subject_ids",
           "scaling_targets", "generate_scaling_cohort", "main"]

#: Wang et al. 2023, Table 1 (public, non-identifying clinical summary): the cohort's
#: clinical table is the paper's (:data:`qmri_kernels.paper.TABLE1`).
CLINICAL: pd.DataFrame = TABLE1.copy()

#: Phantom seed of each cohort subject (segmentation training uses seeds ≥ 100000).
COHORT_SEEDS: dict[int, int] = {p: 100 + p for p in range(1, 14)}
#: Phantom seed of the scaling cohort's first subject (``s0001``): the one after the
#: paper's 13 patients; subject k has seed ``SCALING_FIRST_SEED + k - 1``.
SCALING_FIRST_SEED: int = max(COHORT_SEEDS.values()) + 1
_TRAINING_FIRST_SEED = 100_000

#: Histopathology scores: name → (latent mix: weight on activity, weight on chronicity;
#: coupling to the latent; target mean; target SD; target R3/R4 linearly weighted kappa).
#: Means/SDs of myofiber size variation, inflammatory cells, connective tissue and fat are
#: the paper's; the others are plausible values (not reported). Kappas: size variation,
#: inflammatory cells, CD4, CD68 0.639–0.753; fat and connective tissue 0.841–0.927;
#: MHC-1 0.128; necrosis, ACP, complement 0.444–0.589 (Results, Discussion).
SCORES: dict[str, tuple[float, float, float, float, float, float]] = {
    "myofiber_size_variation": (0.7, 0.3, 0.85, 2.38, 1.18, 0.70),
    "necrosis":                (1.0, 0.0, 0.45, 1.20, 1.00, 0.52),
    "inflammatory_cells":      (1.0, 0.0, 0.85, 1.81, 1.42, 0.68),
    "connective_tissue":       (0.6, 0.4, 0.85, 1.69, 1.20, 0.84),
    "fat":                     (0.0, 1.0, 0.70, 1.73, 1.12, 0.93),
    "acp":                     (1.0, 0.0, 0.45, 1.50, 1.10, 0.50),
    "cd4":                     (1.0, 0.0, 0.45, 1.30, 1.10, 0.64),
    "cd68":                    (1.0, 0.0, 0.50, 1.90, 1.20, 0.75),
    "mhc1":                    (1.0, 0.0, 0.30, 2.60, 1.00, 0.13),
    "complement":              (1.0, 0.0, 0.45, 1.00, 1.00, 0.45),
}

_TARGET_SEED = 2023
_PAPER = {"ff_b": (7.3, 6.1), "t2_b": (54.7, 14.1), "ff_c": (7.5, 6.6), "t2_c": (44.5, 4.4)}
_ANCHORS = {"ff_b": {13: 26.2, 8: 6.0}, "t2_b": {9: 34.1, 13: 69.7}, "ff_c": {}, "t2_c": {}}


def _match_moments(draws: np.ndarray, fixed: dict[int, float], mean: float, sd: float) -> np.ndarray:
    """Affinely map the free entries of ``draws`` so all 13 values have ``mean`` and ``sd``.

    The entries named in ``fixed`` (patient number → value) are kept; the others become
    a + b·z with z the standardised free draws, solving the two moment equations.
    """
    n = len(draws)
    free = np.array([p not in fixed for p in range(1, n + 1)])
    z = draws[free]
    z = (z - z.mean()) / z.std(ddof=1)
    fv = np.array(list(fixed.values()), dtype=float)
    m = int(free.sum())
    a = (n * mean - fv.sum()) / m
    total_ss = (n - 1) * sd ** 2 + n * mean ** 2
    b2 = (total_ss - np.sum(fv ** 2) - m * a ** 2) / (m - 1)
    out = np.empty(n)
    out[free] = a + np.sqrt(max(b2, 0.0)) * z
    for p, v in fixed.items():
        out[p - 1] = v
    return out


def cohort_targets(seed: int = _TARGET_SEED) -> pd.DataFrame:
    """Per-patient latent severities and the muscle targets they imply.

    Parameters
    ----------
    seed : int
        Seed of the random draws (default 2023, the cohort's); the same seed gives the
        same targets.

    Returns
    -------
    pandas.DataFrame
        One row per patient of :data:`CLINICAL` (13): ``patient``, ``activity``,
        ``chronicity`` (correlated standard normal latents, ρ = 0.35),
        ``ff_biopsy_percent``, ``t2_biopsy_ms``, ``ff_contra_percent`` (at least 0.5 %),
        ``t2_contra_ms`` (targets of the mean over the whole muscle; fat fractions in
        percent, water T2 in ms).
    """
    rng = np.random.default_rng(seed)
    n = len(CLINICAL)
    lat = rng.multivariate_normal([0, 0], [[1, 0.35], [0.35, 1]], size=n)
    activity, chronicity = lat[:, 0], lat[:, 1]
    # the named patients sit where the paper puts them
    activity[12], activity[8] = 2.0, -1.8
    chronicity[12] = 2.6
    ff_shape = np.exp(0.7 * chronicity)                    # right-skewed like the paper's FF
    ff_b = _match_moments(ff_shape, _ANCHORS["ff_b"], *_PAPER["ff_b"])
    t2_b = _match_moments(activity, _ANCHORS["t2_b"], *_PAPER["t2_b"])
    ff_c = _match_moments(np.exp(1.1 * (0.85 * chronicity + 0.5 * rng.normal(size=n))),
                          {}, *_PAPER["ff_c"])
    t2_c = _match_moments(0.6 * activity + 0.8 * rng.normal(size=n), {}, *_PAPER["t2_c"])
    return pd.DataFrame({
        "patient": CLINICAL["patient"], "activity": activity, "chronicity": chronicity,
        "ff_biopsy_percent": ff_b, "t2_biopsy_ms": t2_b,
        "ff_contra_percent": np.maximum(ff_c, 0.5), "t2_contra_ms": t2_c,
    })


def _disease(row: pd.Series, clinical: pd.Series, rng: np.random.Generator) -> DiseaseSpec:
    """Per-muscle means for one patient: biopsied muscle and twin from the targets."""
    side_b = clinical["biopsy_side"]
    side_c = "left" if side_b == "right" else "right"
    muscle = clinical["biopsy_muscle"]
    ff, t2 = {}, {}
    for side, f_ref, t_ref in ((side_b, row.ff_biopsy_percent, row.t2_biopsy_ms),
                               (side_c, row.ff_contra_percent, row.t2_contra_ms)):
        for m in MUSCLES:
            if m == muscle:
                ff[(m, side)], t2[(m, side)] = f_ref / 100, t_ref / 1000
            else:
                ff[(m, side)] = max(HEALTHY_FF, f_ref / 100 * rng.uniform(0.4, 1.1))
                t2[(m, side)] = HEALTHY_WATER_T2 + max(t_ref / 1000 - HEALTHY_WATER_T2, 0) * rng.uniform(0.3, 1.0)
    return DiseaseSpec(ff, t2, patchiness=0.45)


def simulate_scores(targets: pd.DataFrame, seed: int = _TARGET_SEED) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Simulated R3 and R4 pathology scores (0–4 Likert) from the latent severities.

    For each score, a patient's underlying severity is ``coupling``·z + √(1−coupling²)·ε
    with z the standardised mix of the patient's latent activity and chronicity (taken from
    the simulated biopsied-muscle T2 and FF) and ε patient-level biology the MRI does not
    see; each reader adds their own Gaussian noise and rounds to the scale. The reader-noise
    SD is the value on a 0.01 grid whose realised linearly weighted kappa is nearest the
    target.

    Parameters
    ----------
    targets : pandas.DataFrame
        From :func:`cohort_targets`; the columns ``patient``, ``t2_biopsy_ms`` (ms) and
        ``ff_biopsy_percent`` (percent, positive: its logarithm is taken) are used, one row
        per patient (at least two).
    seed : int
        Seed of the severity and reader-noise draws (default 2023, the cohort's).

    Returns
    -------
    scores : DataFrame
        Tidy, one row per patient, reader and score of :data:`SCORES`: ``patient``,
        ``reader`` ("R3"/"R4"), ``score``, ``value`` (int 0–4).
    tuning : DataFrame
        One row per score: ``score``, ``reader_noise_sd`` (in score points),
        ``kappa_target``, ``kappa_simulated``, ``mean_simulated`` (mean of the two readers'
        average) and ``mean_target``.
    """
    rng = np.random.default_rng([seed, 4])
    z_act = _standardise(targets["t2_biopsy_ms"].to_numpy())
    z_chr = _standardise(np.log(targets["ff_biopsy_percent"].to_numpy()))
    rows, tuning = [], []
    for name, (w_act, w_chr, coupling, mean, sd, kappa_target) in SCORES.items():
        z = _standardise(w_act * z_act + w_chr * z_chr)
        severity = coupling * z + np.sqrt(1 - coupling ** 2) * rng.normal(size=len(z))
        latent = mean + sd * _standardise(severity)
        eps = rng.normal(size=(2, len(z)))
        best = None
        for sigma in np.arange(0.0, 2.0001, 0.01):
            r3, r4 = (np.clip(np.rint(latent + sigma * e), 0, 4).astype(int) for e in eps)
            k = weighted_kappa(r3, r4, weights="linear", categories=range(5)).value
            if np.isfinite(k) and (best is None or abs(k - kappa_target) < best[0] - 1e-12):
                best = (abs(k - kappa_target), sigma, r3, r4, k)
        _, sigma, r3, r4, k = best
        for reader, vals in (("R3", r3), ("R4", r4)):
            rows += [(int(p), reader, name, int(v)) for p, v in zip(targets["patient"], vals)]
        tuning.append((name, round(float(sigma), 2), kappa_target, k, float(np.mean((r3 + r4) / 2)), mean))
    scores = pd.DataFrame(rows, columns=["patient", "reader", "score", "value"])
    tuning = pd.DataFrame(tuning, columns=["score", "reader_noise_sd", "kappa_target",
                                           "kappa_simulated", "mean_simulated", "mean_target"])
    return scores, tuning


def _standardise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    return (x - x.mean()) / x.std(ddof=1)


_FAMILY = ("Vasquez-Lindqvist", "Okonkwo-Brandt", "Haraldsdottir", "Ferreira-Nakamura",
           "Abernathy-Oyelaran", "Kowalczyk-Dubois", "Mbeki-Sorensen", "Castellanos-Ivanova",
           "Thorsteinsson-Adeyemi", "Rautenbach-Moreau", "Szymanski-Achebe", "Delacroix-Petrov",
           "Quimby-Nakashima")
_GIVEN_M = ("Aurelio", "Bartholomew", "Casimir", "Desmond", "Evander", "Florian", "Gideon", "Horatio")
_GIVEN_F = ("Annelise", "Briseis", "Clementine", "Delphine", "Eulalia")


def identities() -> dict[int, Identity]:
    """Made-up patient identities that ingest must strip (none belongs to a real person).

    Returns
    -------
    dict of int to Identity
        One :class:`~qmri_kernels.phantom.dicom_writer.Identity` per patient number (1–13)
        of :data:`CLINICAL`: name, patient id, birth date consistent with the age, sex,
        accession number, institution, physicians and study date/time; seeded, the same on
        every call.
    """
    rng = np.random.default_rng([_TARGET_SEED, 7])
    out = {}
    m_i = f_i = 0
    for row in CLINICAL.itertuples():
        if row.sex == "M":
            given, m_i = _GIVEN_M[m_i], m_i + 1
        else:
            given, f_i = _GIVEN_F[f_i], f_i + 1
        study = np.datetime64("2019-01-07") + int(rng.integers(0, 1280))
        year = int(str(study)[:4])
        birth = f"{year - row.age_years - 1}{int(rng.integers(1, 13)):02d}{int(rng.integers(1, 29)):02d}"
        out[row.patient] = Identity(
            patient_name=f"{_FAMILY[row.patient - 1]}^{given}",
            patient_id=f"SYN{int(rng.integers(10**6, 10**7))}",
            birth_date=birth, sex=row.sex, age_years=int(row.age_years),
            accession_number=f"ACC{int(rng.integers(10**8, 10**9))}",
            institution_name="Meridian Synthetic Myositis Clinic",
            referring_physician="Wexford-Ilunga^Theodora",
            operator="Pennington-Okafor^Marisol",
            study_date=str(study).replace("-", ""),
            study_time=f"{int(rng.integers(8, 18)):02d}{int(rng.integers(0, 60)):02d}{int(rng.integers(0, 60)):02d}",
        )
    return out


def _save_nifti(data: np.ndarray, affine: np.ndarray, path: Path, unit: str | None = None) -> None:
    img = nib.Nifti1Image(data, affine)
    img.header.set_xyzt_units("mm", "sec")
    img.set_qform(affine, code=1)
    img.set_sform(affine, code=1)
    if unit:
        img.header["descrip"] = unit.encode()[:79]
    nib.save(img, path)


_TRUTH_MAPS = {"pdff": ("pdff", "fraction"), "water_t2": ("watert2", "s"),
               "fat_t2": ("fatt2", "s"), "r2star": ("r2star", "1/s"), "b0": ("b0", "Hz"),
               "b1": ("b1", "relative"), "pd": ("pd", "relative")}


def _generate_subject(patient: int, root: Path, targets: pd.Series, identity: Identity,
                      matrix: tuple[int, int]) -> dict:
    clinical = CLINICAL.set_index("patient").loc[patient]
    sub = f"sub-{patient:02d}"
    seed = COHORT_SEEDS[patient]
    return _write_subject(sub, seed, clinical, targets, identity, root, matrix,
                          {"patient": patient, "seed": seed},
                          uid_seed=f"qmri-synthetic-cohort-{sub}")


def _write_subject(sub: str, seed: int, clinical: pd.Series, targets: pd.Series,
                   identity: Identity, root: Path, matrix: tuple[int, int], summary: dict,
                   uid_seed: str) -> dict:
    """Simulate one subject from its phantom ``seed`` and write its DICOM and truth maps.

    ``clinical`` gives ``sex``, ``biopsy_side`` and ``biopsy_muscle``; ``targets`` the
    biopsied and contralateral muscle means (:func:`cohort_targets` columns). Returns
    ``summary`` completed with the truth means of the biopsied and contralateral muscle.
    """
    rng = np.random.default_rng([seed, 11])
    subject = make_subject(seed, clinical["sex"], _disease(targets, clinical, rng))
    truth_dir = root / "truth" / sub
    truth_dir.mkdir(parents=True, exist_ok=True)
    series, derived = [], []
    for role, proto in PROTOCOL.items():
        grid = series_grid(proto, matrix=matrix)
        truth = subject.truth(grid)
        noise = np.random.default_rng([seed, proto.series_number])
        if role == "megre":
            images = subject.simulate_megre(grid, proto.echo_times, noise, truth=truth)
            derived += _ideal_iq_series(subject, proto, grid, truth, seed)
        elif role == "mese":
            images = subject.simulate_mese(grid, proto.echo_times[0], proto.n_echoes,
                                           proto.repetition_time, noise, truth=truth)
            share = subject.fat_share_mese(grid, proto.repetition_time, truth=truth)
            _save_nifti(share.astype(np.float32), grid.affine,
                        truth_dir / f"{sub}_{role}_desc-fatshare_truth.nii.gz", "fraction")
        else:
            images = subject.simulate_t2w(grid, noise, echo_time=proto.echo_times[0],
                                          repetition_time=proto.repetition_time, truth=truth)
        series.append((proto, grid, images))
        _save_nifti(truth["labels"], grid.affine, truth_dir / f"{sub}_{role}_desc-truth_dseg.nii.gz")
        for key, (name, unit) in _TRUTH_MAPS.items():
            _save_nifti(truth[key].astype(np.float32), grid.affine,
                        truth_dir / f"{sub}_{role}_desc-{name}_truth.nii.gz", unit)
        for which, side in (("biopsy", clinical["biopsy_side"]),
                            ("contra", "left" if clinical["biopsy_side"] == "right" else "right")):
            sel = truth["labels"] == label_index(clinical["biopsy_muscle"], side)
            summary[f"{role}_{which}_n_voxels"] = int(sel.sum())
            summary[f"{role}_{which}_ff_percent"] = float(100 * truth["pdff"][sel].mean())
            summary[f"{role}_{which}_t2_ms"] = float(1000 * truth["water_t2"][sel].mean())
    write_study(root / "sourcedata" / sub / "dicom", identity, series, uid_seed=uid_seed,
                derived=derived)
    return summary


#: Echo SNR of the simulated IDEAL-IQ (``Subject.simulate_megre``'s default).
_MEGRE_SNR = 60.0


def _ideal_iq_series(subject, proto, grid, truth: dict, seed: int) -> list[tuple]:
    """The scanner's own IDEAL-IQ maps (water, fat, FF, R2*) as GE stores them, for
    :func:`~.dicom_writer.write_study` (made by :mod:`.vendor_recon` from the truth, with a
    noise stream of their own; not by the book's fit)."""
    amplitude = _SCALE * truth["pd"] * subject.coil_sensitivity(grid_points(grid))
    maps = ideal_iq_maps(truth["pdff"], truth["r2star"], amplitude,
                         _SCALE * _MUSCLE_PD / _MEGRE_SNR,
                         np.random.default_rng([seed, proto.series_number, 17]))
    return [(proto, d, grid, ge_stored(d.kind, maps[d.kind])) for d in IDEAL_IQ_MAPS]


@contextlib.contextmanager
def _one_writer(out: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``out`` + ``.lock`` (``flock``): one writer per cohort.

    A second generator of the same folder (a book build and a pipeline started together)
    waits, then finds the cohort complete and keeps it. The lock is released when the
    process exits, however it exits.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.with_name(out.name + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _swap_in(tmp: Path, out: Path) -> None:
    """Replace ``out`` by the finished ``tmp``: the old folder is renamed aside before the
    new one is renamed in and deleted after, so that ``out`` is missing only between two
    renames, never half deleted."""
    old = out.with_name(out.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if out.exists():
        out.rename(old)
    tmp.rename(out)
    if old.exists():
        shutil.rmtree(old)


def _completion_marker(matrix, patients) -> str:
    """Content of ``.complete``: what made the cohort (see :func:`generate_cohort`)."""
    return (f"complete\ngenerator {code_digest(GENERATOR_SOURCES)}\n"
            f"matrix {list(matrix)}\npatients {sorted(patients)}\n")


def generate_cohort(out: str | Path, matrix: tuple[int, int] = DEFAULT_MATRIX,
                    patients: list[int] | None = None, force: bool = False) -> Path:
    """Write the synthetic cohort under ``out`` (atomically: a temporary folder, then a rename).

    Layout: ``sourcedata/sub-XX/dicom/`` (DICOM), ``sourcedata/clinical.csv``,
    ``sourcedata/scores_pathology.csv``, ``truth/sub-XX/*_truth.nii.gz`` and
    ``truth/dseg.tsv``, ``truth/cohort_truth.csv`` (biopsied/contralateral muscle means of
    the truth maps on each series' grid), ``truth/targets.csv``, ``truth/score_tuning.csv``.
    An existing complete cohort is kept unless ``force`` or unless it was made by other
    generator code or settings: the ``.complete`` marker records the digest of the
    generator's sources (:data:`qmri_kernels.provenance.GENERATOR_SOURCES`), the matrix and
    the patients, and a cohort whose marker differs is made again (derivatives under
    ``out`` included: they were computed from the old images). One writer at a time: a
    second call for the same folder (e.g. from another process) waits on a lock file
    beside it (``out`` + ``.lock``), then keeps what the first one wrote.

    Parameters
    ----------
    out : str or Path
        Output folder; replaced as a whole when the cohort is made again. Must not hold a
        scaling cohort (:func:`generate_scaling_cohort`).
    matrix : (int, int)
        In-plane matrix of every series, voxels (default 256 × 256; smaller is faster, the
        field of view stays the same).
    patients : list of int, optional
        Patient numbers (1–13) to write; default all 13.
    force : bool
        Regenerate even if a complete cohort of the same generator and settings exists.

    Returns
    -------
    Path
        ``out``.

    Raises
    ------
    ValueError
        If ``out`` holds a scaling cohort, or ``patients`` names a patient not in
        :data:`CLINICAL` (checked only when the cohort is to be written).
    """
    out = Path(out)
    with _one_writer(out):
        return _generate_cohort(out, matrix, patients, force)


def _generate_cohort(out: Path, matrix: tuple[int, int], patients: list[int] | None,
                     force: bool) -> Path:
    """The body of :func:`generate_cohort`, run while holding the writer's lock."""
    patients = list(CLINICAL["patient"]) if patients is None else list(patients)
    marker = _completion_marker(matrix, patients)
    done = out / ".complete"
    _refuse_other_cohort(out, scaling=False)
    if done.exists() and not force:
        if done.read_text() == marker:
            return out
        print(f"{out}: made by other generator code or settings; generating it again",
              flush=True)
    unknown = sorted(set(patients) - set(CLINICAL["patient"]))
    if unknown:
        raise ValueError(f"patients {unknown} are not in the cohort (1–13)")
    tmp = out.with_name(out.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    (tmp / "sourcedata").mkdir(parents=True)
    (tmp / "truth").mkdir()
    targets = cohort_targets()
    ids = identities()
    summaries = []
    for p in patients:
        start = time.perf_counter()
        summaries.append(_generate_subject(p, tmp, targets.set_index("patient").loc[p], ids[p], matrix))
        print(f"sub-{p:02d}: {time.perf_counter() - start:.1f} s", flush=True)
    clinical = CLINICAL[CLINICAL["patient"].isin(patients)].copy()
    clinical.insert(0, "participant_id", [f"sub-{p:02d}" for p in clinical["patient"]])
    clinical.to_csv(tmp / "sourcedata" / "clinical.csv", index=False)
    scores, tuning = simulate_scores(targets)
    scores = scores[scores["patient"].isin(patients)].copy()
    scores.insert(0, "participant_id", [f"sub-{p:02d}" for p in scores["patient"]])
    scores.to_csv(tmp / "sourcedata" / "scores_pathology.csv", index=False)
    tuning.to_csv(tmp / "truth" / "score_tuning.csv", index=False, float_format="%.6g")
    targets.to_csv(tmp / "truth" / "targets.csv", index=False, float_format="%.6g")
    pd.DataFrame(summaries).to_csv(tmp / "truth" / "cohort_truth.csv", index=False, float_format="%.6g")
    write_dseg_tsv(tmp / "truth" / "dseg.tsv")
    (tmp / "truth" / "generator.json").write_text(json.dumps(
        {"generator": "qmri_kernels.phantom.synthetic_cohort", "matrix": list(matrix),
         "seeds": {f"sub-{p:02d}": COHORT_SEEDS[p] for p in patients},
         "protocol": {k: {kk: vv for kk, vv in asdict(v).items() if kk != "extra"}
                      for k, v in PROTOCOL.items()}}, indent=1, sort_keys=True))
    (tmp / ".complete").write_text(marker)
    _swap_in(tmp, out)
    return out


# ------------------------------------------------------------------- scaling cohort

_SCALING_TAG = "cohort scaling"
_SCALING_NOTE = ("Scaling cohort: made-up subjects for measuring the pipeline's throughput; "
                 "not the 13 patients of Wang et al. 2023 and never to be analysed with them.")


def _refuse_other_cohort(out: Path, scaling: bool) -> None:
    """Refuse to replace the paper's cohort by a scaling cohort, or the other way round."""
    done = out / ".complete"
    if not done.exists():
        return
    is_scaling = _SCALING_TAG in done.read_text().splitlines()
    if is_scaling != scaling:
        held = "a scaling cohort" if is_scaling else "the paper's 13-patient cohort"
        raise ValueError(f"{out} holds {held}; write the "
                         f"{'scaling cohort' if scaling else 'paper cohort'} to another "
                         "folder (--out)")


def scaling_subject_ids(n_subjects: int) -> list[str]:
    """Subject labels of a scaling cohort: ``s0001`` … (BIDS labels, letters and digits).

    Parameters
    ----------
    n_subjects : int
        At least 1.

    Returns
    -------
    list of str

    Examples
    --------
    >>> scaling_subject_ids(3)
    ['s0001', 's0002', 's0003']
    """
    n = _check_n_subjects(n_subjects)
    return [f"s{k:04d}" for k in range(1, n + 1)]


def _check_n_subjects(n_subjects) -> int:
    n = int(n_subjects)
    most = _TRAINING_FIRST_SEED - SCALING_FIRST_SEED
    if n != n_subjects or not 1 <= n <= most:
        raise ValueError(f"n_subjects must be an integer from 1 to {most} (the seeds after "
                         f"it are the segmentation network's training data), got "
                         f"{n_subjects!r}")
    return n


def scaling_targets(n_subjects: int) -> pd.DataFrame:
    """Clinical profile and muscle targets of each scaling-cohort subject.

    Subject k (``s0001`` is k = 1) is drawn from its own phantom seed
    ``SCALING_FIRST_SEED + k - 1`` alone, so its data do not depend on ``n_subjects``.
    The latent activity and chronicity are correlated standard normals (ρ = 0.35, as for
    the 13 patients); the biopsied muscle's FF is log-normal with the paper's mean and SD
    (7.3 ± 6.1 %), its water T2 normal (54.7 ± 14.1 ms), the contralateral muscle's FF
    log-normal (7.5 ± 6.6 %) and water T2 normal (44.5 ± 4.4 ms) — clipped to plausible
    ranges, and driven by the latents as in :func:`cohort_targets`.

    Parameters
    ----------
    n_subjects : int

    Returns
    -------
    pandas.DataFrame
        One row per subject: ``subject``, ``seed``, ``sex``, ``age_years``,
        ``biopsy_side``, ``biopsy_muscle``, ``activity``, ``chronicity``,
        ``ff_biopsy_percent``, ``t2_biopsy_ms``, ``ff_contra_percent``, ``t2_contra_ms``.
    """
    def lognormal(mean: float, sd: float) -> tuple[float, float]:
        sigma2 = np.log1p((sd / mean) ** 2)
        return np.log(mean) - sigma2 / 2, np.sqrt(sigma2)

    mu_b, s_b = lognormal(*_PAPER["ff_b"])
    mu_c, s_c = lognormal(*_PAPER["ff_c"])
    rows = []
    for k, sid in enumerate(scaling_subject_ids(n_subjects), start=1):
        seed = SCALING_FIRST_SEED + k - 1
        rng = np.random.default_rng([seed, 23])
        activity, chronicity = rng.multivariate_normal([0, 0], [[1, 0.35], [0.35, 1]])
        e1, e2 = rng.normal(size=2)
        rows.append({
            "subject": sid, "seed": seed,
            "sex": "M" if rng.random() < 7 / 13 else "F",
            "age_years": int(rng.integers(18, 76)),
            "biopsy_side": "right" if rng.random() < 3 / 13 else "left",
            "biopsy_muscle": "VL" if rng.random() < 1 / 13 else "RF",
            "activity": activity, "chronicity": chronicity,
            "ff_biopsy_percent": float(np.clip(np.exp(mu_b + s_b * chronicity), 0.8, 40.0)),
            "t2_biopsy_ms": float(np.clip(_PAPER["t2_b"][0] + _PAPER["t2_b"][1] * activity,
                                          32.0, 95.0)),
            "ff_contra_percent": float(np.clip(np.exp(
                mu_c + s_c * (0.85 * chronicity + np.sqrt(1 - 0.85 ** 2) * e1)), 0.5, 40.0)),
            "t2_contra_ms": float(np.clip(_PAPER["t2_c"][0] + _PAPER["t2_c"][1]
                                          * (0.6 * activity + 0.8 * e2), 35.0, 60.0)),
        })
    return pd.DataFrame(rows)


def _scaling_identity(row: pd.Series) -> Identity:
    """A made-up identity (ingest strips it) for a scaling-cohort subject."""
    k = int(row["seed"]) - SCALING_FIRST_SEED + 1
    study = np.datetime64("2024-01-08") + (k - 1) % 1000
    year = int(str(study)[:4])
    return Identity(
        patient_name=f"Scaling^Subject{k:05d}", patient_id=f"SCL{int(row['seed']):07d}",
        birth_date=f"{year - int(row['age_years']) - 1}0615", sex=row["sex"],
        age_years=int(row["age_years"]), accession_number=f"ACCS{int(row['seed']):08d}",
        institution_name="Meridian Synthetic Myositis Clinic (scaling cohort)",
        referring_physician="Wexford-Ilunga^Theodora", operator="Pennington-Okafor^Marisol",
        study_date=str(study).replace("-", ""), study_time="093000")


def _scaling_manifest(n_subjects: int, targets: pd.DataFrame) -> str:
    lines = ["# Scaling cohort written by qmri_kernels.phantom.synthetic_cohort --n-subjects "
             f"{n_subjects}.",
             f"# {_SCALING_NOTE}",
             "version: 1", "synthetic: true", "root: .",
             "clinical_table: sourcedata/clinical.csv",
             "score_store: derivatives/scores.sqlite", "derivatives: derivatives/qmri",
             "truth: truth", "subjects:"]
    lines += [f'  - {{id: "{r.subject}", dicom_root: sourcedata/sub-{r.subject}/dicom, '
              f"biopsy_muscle: {r.biopsy_muscle}, biopsy_side: {r.biopsy_side}}}"
              for r in targets.itertuples()]
    return "\n".join(lines) + "\n"


def generate_scaling_cohort(out: str | Path, n_subjects: int,
                            matrix: tuple[int, int] = DEFAULT_MATRIX,
                            force: bool = False) -> Path:
    """Write a scaling cohort of ``n_subjects`` made-up subjects under ``out``.

    The subjects ``s0001`` … are simulated exactly like the paper's patients (phantom,
    physics, DICOM writer; :func:`scaling_targets` for their disease), from the phantom
    seeds after the 13 patients'. The layout is :func:`generate_cohort`'s plus a manifest,
    ``out/data_manifest.yaml``, so that the pipeline runs on it directly; the files say it
    is a scaling cohort (``truth/generator.json``, the ``cohort`` column of
    ``sourcedata/clinical.csv``, the manifest's header). There are no pathology scores.
    Written atomically, one writer at a time (as :func:`generate_cohort`); an existing
    complete scaling cohort made by the same generator code and settings is kept unless
    ``force``.

    Parameters
    ----------
    out : str or Path
        Output folder; must not hold the paper's cohort.
    n_subjects : int
        Number of subjects (1 to 99886).
    matrix : (int, int)
        In-plane matrix of every series (smaller is faster).
    force : bool
        Regenerate even if complete.

    Returns
    -------
    Path
        ``out``; its manifest is ``out / "data_manifest.yaml"``.

    Raises
    ------
    ValueError
        If ``n_subjects`` is out of range or ``out`` holds the paper's cohort.
    """
    out = Path(out)
    with _one_writer(out):
        return _generate_scaling_cohort(out, n_subjects, matrix, force)


def _generate_scaling_cohort(out: Path, n_subjects: int, matrix: tuple[int, int],
                             force: bool) -> Path:
    """The body of :func:`generate_scaling_cohort`, run while holding the writer's lock."""
    n = _check_n_subjects(n_subjects)
    _refuse_other_cohort(out, scaling=True)
    marker = (f"complete\n{_SCALING_TAG}\ngenerator {code_digest(GENERATOR_SOURCES)}\n"
              f"matrix {list(matrix)}\nsubjects {n}\n")
    done = out / ".complete"
    if done.exists() and not force and done.read_text() == marker:
        return out
    tmp = out.with_name(out.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    (tmp / "sourcedata").mkdir(parents=True)
    (tmp / "truth").mkdir()
    targets = scaling_targets(n)
    summaries = []
    for row in targets.itertuples(index=False):
        row = pd.Series(row._asdict())
        start = time.perf_counter()
        summaries.append(_write_subject(
            f"sub-{row['subject']}", int(row["seed"]), row, row, _scaling_identity(row), tmp,
            matrix, {"subject": row["subject"], "seed": int(row["seed"])},
            uid_seed=f"qmri-scaling-cohort-sub-{row['subject']}"))
        print(f"sub-{row['subject']}: {time.perf_counter() - start:.1f} s", flush=True)
    clinical = targets[["subject", "sex", "age_years", "biopsy_side", "biopsy_muscle"]].copy()
    clinical.insert(0, "participant_id", [f"sub-{s}" for s in clinical.pop("subject")])
    clinical["diagnosis"] = "synthetic"
    clinical["cohort"] = "scaling"
    clinical.to_csv(tmp / "sourcedata" / "clinical.csv", index=False)
    targets.to_csv(tmp / "truth" / "targets.csv", index=False, float_format="%.6g")
    pd.DataFrame(summaries).to_csv(tmp / "truth" / "cohort_truth.csv", index=False,
                                   float_format="%.6g")
    write_dseg_tsv(tmp / "truth" / "dseg.tsv")
    (tmp / "truth" / "generator.json").write_text(json.dumps(
        {"generator": "qmri_kernels.phantom.synthetic_cohort", "cohort": "scaling",
         "note": _SCALING_NOTE, "matrix": list(matrix), "n_subjects": n,
         "seeds": {f"sub-{r.subject}": int(r.seed) for r in targets.itertuples()},
         "protocol": {k: {kk: vv for kk, vv in asdict(v).items() if kk != "extra"}
                      for k, v in PROTOCOL.items()}}, indent=1, sort_keys=True))
    (tmp / "data_manifest.yaml").write_text(_scaling_manifest(n, targets))
    (tmp / ".complete").write_text(marker)
    _swap_in(tmp, out)
    return out


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m qmri_kernels.phantom.synthetic_cohort --out data/synthetic``.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (``--out``, ``--matrix``, ``--patients``, ``--n-subjects``, ``--force``);
        default ``sys.argv[1:]``.

    Returns
    -------
    int
        Exit status, 0 once the cohort is written (or found complete).

    Raises
    ------
    SystemExit
        From :mod:`argparse`: status 2 for invalid arguments, ``--patients`` together with
        ``--n-subjects``, or a scaling cohort :func:`generate_scaling_cohort` refuses
        (its ``ValueError`` message is shown); status 0 after ``--help``.
    ValueError
        From :func:`generate_cohort`: ``--patients`` names a patient not in the cohort, or
        ``--out`` holds a scaling cohort.
    """
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", help="output folder (default: data/synthetic, or data/scaling "
                                  "with --n-subjects)")
    ap.add_argument("--matrix", type=int, default=DEFAULT_MATRIX[0], help="in-plane matrix (square)")
    ap.add_argument("--patients", type=int, nargs="*", help="subset of patients 1–13")
    ap.add_argument("--n-subjects", type=int, metavar="N",
                    help="write a scaling cohort of N made-up subjects s0001… instead of the "
                         "paper's patients (its own folder and manifest)")
    ap.add_argument("--force", action="store_true", help="regenerate even if complete")
    args = ap.parse_args(argv)
    start = time.perf_counter()
    if args.n_subjects is not None:
        if args.patients is not None:
            ap.error("--patients and --n-subjects exclude each other")
        out = args.out or "data/scaling"
        try:
            generate_scaling_cohort(out, args.n_subjects, (args.matrix, args.matrix),
                                    args.force)
        except ValueError as exc:
            ap.error(str(exc))
        print(f"scaling cohort ({args.n_subjects} subjects) at {out} in "
              f"{time.perf_counter() - start:.1f} s; manifest {Path(out) / 'data_manifest.yaml'}")
        return 0
    out = args.out or "data/synthetic"
    generate_cohort(out, (args.matrix, args.matrix), args.patients, args.force)
    print(f"cohort at {out} in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
