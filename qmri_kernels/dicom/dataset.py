"""The raw BIDS dataset the ingest writes: its dataset-level files.

The de-identified images of every subject form a raw BIDS dataset of their own
(``manifest.rawdata``, default ``<root>/rawdata``), separate from the pipeline's maps, which
are a derivative dataset pointing back at it
(:func:`qmri_kernels.derivatives.write_dataset_files`)::

    rawdata/
      dataset_description.json    DatasetType "raw", GeneratedBy the ingest
      README                      what the images are and how they were made
      participants.tsv (+ .json)  one row per subject: non-identifying columns only
      sub-01/anat/sub-01_echo-1_part-mag_MEGRE.nii.gz ...   (:func:`~.ingest`)

``participants.tsv`` copies only an allow-list of the clinical table's columns
(:data:`PARTICIPANT_COLUMNS`: age, sex, diagnosis) and the biopsy site of the manifest;
everything else a clinical table may hold (names, patient numbers, dates, free-text
complaints, laboratory values) stays in ``sourcedata``. Ages of 89 and above are written as
89, as the HIPAA Safe Harbor rule asks (45 CFR 164.514(b)(2)(i)(C)).
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable
from pathlib import Path

from ..derivatives import write_text_atomic
from ..subject_id import subject_label
from .errors import DicomError
from .sidecar import software_versions

__all__ = ["PARTICIPANT_COLUMNS", "AGE_CAP_YEARS", "write_raw_description",
           "write_participants", "write_raw_dataset"]

#: Oldest age written as it is; older participants are written as this age (years).
AGE_CAP_YEARS = 89

#: Columns of ``participants.tsv`` taken from the clinical table: BIDS column →
#: (accepted clinical-table column names, ``participants.json`` entry).
PARTICIPANT_COLUMNS: dict[str, tuple[tuple[str, ...], dict]] = {
    "age": (("age_years", "age"), {
        "Description": f"Age at the MRI examination; {AGE_CAP_YEARS} and above are written "
                       f"as {AGE_CAP_YEARS}.", "Units": "year"}),
    "sex": (("sex",), {
        "Description": "Sex as recorded in the clinical table.",
        "Levels": {"M": "male", "F": "female", "O": "other"}}),
    "diagnosis": (("diagnosis",), {
        "Description": "Clinical diagnosis (idiopathic inflammatory myopathy subtype).",
        "Levels": {"PM": "polymyositis", "DM": "dermatomyositis",
                   "IMNM": "immune-mediated necrotising myopathy",
                   "ASS": "antisynthetase syndrome", "IBM": "inclusion body myositis",
                   "OM": "overlap myositis"}}),
}

#: Columns from the manifest (study design, not the clinical table).
_MANIFEST_COLUMNS: dict[str, dict] = {
    "biopsy_muscle": {"Description": "Abbreviation of the biopsied thigh muscle "
                                     "(qmri_kernels.labels.MUSCLES)."},
    "biopsy_side": {"Description": "Side of the biopsy.",
                    "Levels": {"left": "left thigh", "right": "right thigh"}},
}

_README = """# Thigh MRI, de-identified (raw BIDS)

De-identified NIfTI images and JSON sidecars converted from DICOM by
`qmri_kernels.dicom.ingest`: the multi-echo gradient echo (`MEGRE`, magnitude and phase
per echo), the multi-echo spin echo (`MESE`, one image per echo) and the T2-weighted
series (`T2w`) of each subject's thighs. Echo and repetition times are in seconds.

Patient identity was removed before conversion (DICOM PS3.15 basic profile); each
sidecar's `Provenance` lists the attributes removed and a hash of the source series.
`participants.tsv` holds only non-identifying columns (age, sex, diagnosis, biopsy site).
"""


def _write_json(path: Path, payload: dict) -> None:
    write_text_atomic(path, json.dumps(payload, indent=2, ensure_ascii=False) + "\n")


def write_raw_description(root: str | os.PathLike) -> None:
    """Write the raw dataset's ``dataset_description.json`` and ``README`` if missing.

    Parameters
    ----------
    root : path-like
        The raw BIDS root (created if missing). Existing files are left alone (a study may
        have written its own, with name, authors and licence).
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    desc = root / "dataset_description.json"
    if not desc.is_file():
        _write_json(desc, {
            "Name": "Thigh MRI, de-identified (qmri_kernels ingest)",
            "BIDSVersion": "1.9.0", "DatasetType": "raw",
            "GeneratedBy": [{"Name": "qmri_kernels.dicom.ingest",
                             "Version": software_versions()["qmri_kernels"],
                             "Description": "DICOM to de-identified NIfTI + JSON."}]})
    if not (root / "README").is_file():
        write_text_atomic(root / "README", _README)


def _clinical_rows(table: Path) -> dict[str, dict[str, str]]:
    """Clinical rows by subject label (``participant_id`` or ``subject`` column)."""
    try:
        with table.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise DicomError(f"{table}: clinical table cannot be read ({exc.strerror or exc})"
                         ) from exc
    key = next((k for k in ("participant_id", "subject") if rows and k in rows[0]), None)
    if key is None:
        return {}
    out = {}
    for row in rows:
        try:
            out[subject_label(str(row[key]).strip())] = row
        except ValueError:
            continue
    return out


def _value(column: str, raw: str | None) -> str:
    text = "" if raw is None else str(raw).strip()
    if not text:
        return "n/a"
    if column == "age":
        try:
            age = float(text)
        except ValueError:
            return "n/a"
        age = float(min(age, AGE_CAP_YEARS))
        return str(int(age)) if age.is_integer() else f"{age:g}"
    return text.replace("\t", " ")


def write_participants(root: str | os.PathLike, subjects: Iterable,
                       clinical_table: str | os.PathLike | None = None) -> Path:
    """Write ``participants.tsv`` and ``participants.json`` of the raw dataset.

    Parameters
    ----------
    root : path-like
        The raw BIDS root.
    subjects : iterable of SubjectEntry
        The manifest's subjects (``id``, ``biopsy_muscle``, ``biopsy_side``); one row each,
        in this order. Subjects not ingested yet may be listed: BIDS asks that every
        ``sub-*`` folder have a row, not the converse.
    clinical_table : path-like, optional
        CSV with a ``participant_id`` (``sub-01``) or ``subject`` column; only the columns
        of :data:`PARTICIPANT_COLUMNS` are copied (``n/a`` where missing).

    Returns
    -------
    Path
        ``participants.tsv``.

    Raises
    ------
    DicomError
        If the clinical table cannot be read.
    """
    root = Path(root)
    clinical = _clinical_rows(Path(clinical_table)) if clinical_table is not None \
        and Path(clinical_table).is_file() else {}
    present = [col for col, (names, _) in PARTICIPANT_COLUMNS.items()
               if any(n in row for row in clinical.values() for n in names)]
    columns = ["participant_id", *present, *_MANIFEST_COLUMNS]
    lines = ["\t".join(columns)]
    for s in subjects:
        row = clinical.get(s.id, {})
        values = [f"sub-{s.id}"]
        for col in present:
            names = PARTICIPANT_COLUMNS[col][0]
            values.append(_value(col, next((row[n] for n in names if n in row), None)))
        values += [s.biopsy_muscle, s.biopsy_side]
        lines.append("\t".join(values))
    sidecar = {"participant_id": {"Description": "Pseudonymous subject label of the "
                                                 "manifest (not the hospital's ID)."}}
    for col in present:
        entry = dict(PARTICIPANT_COLUMNS[col][1])
        if "Levels" in entry:   # the values found: known ones described, others as they are
            found = sorted({line.split("\t")[columns.index(col)] for line in lines[1:]}
                           - {"n/a"})
            entry["Levels"] = {v: entry["Levels"].get(v, v) for v in found}
        sidecar[col] = entry
    sidecar.update(_MANIFEST_COLUMNS)
    path = write_text_atomic(root / "participants.tsv", "\n".join(lines) + "\n")
    _write_json(root / "participants.json", sidecar)
    return path


def write_raw_dataset(manifest) -> Path:
    """Dataset-level files of the manifest's raw BIDS dataset (description, README,
    participants).

    Parameters
    ----------
    manifest : qmri_kernels.manifest.Manifest
        Its ``rawdata`` root, ``subjects`` and ``clinical_table``.

    Returns
    -------
    Path
        The raw root.
    """
    root = Path(manifest.rawdata)
    write_raw_description(root)
    write_participants(root, manifest.subjects, manifest.clinical_table)
    return root
