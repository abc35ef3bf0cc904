"""``ingest``: one subject's DICOM folder → de-identified BIDS NIfTI + JSON, all or nothing.

The steps, each a small function of its own module: :func:`~.discover.discover` (files by
content), :func:`~.headers.read_headers` (headers only), :func:`~.check.check_subject`
(one patient, one study), :func:`~.group.group_series`, :func:`~.classify.classify`,
:func:`~.check.check_series`, :func:`~.sort.sort_series` (with the slice-spacing check),
:func:`~.volume.assemble` (pixels, rescale, phase, affine), :func:`~.deidentify.deidentify`
and :mod:`~.bids` (names, files). Everything is read and checked before anything is
written; files are written under a temporary name in the output folder and moved into
place only when the whole subject succeeded.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from .bids import (ROLE_SUFFIX, bids_name, load_series, parse_name, subject_label, write_json,
                   write_nifti)
from . import _scanner_maps
from .check import check_series, check_subject
from .classify import Classification, classify, complex_parts_note
from .dataset import write_raw_dataset, write_raw_description
from .deidentify import deidentify
from .discover import discover
from .errors import DicomError, report_skip
from .group import Series, group_series
from .headers import read_headers
from .sidecar import PULSE_SEQUENCE_TYPE, provenance, sidecar
from .sort import SortedSeries, sort_series
from .volume import Volume, assemble

__all__ = ["ingest", "plan", "PlannedSeries"]

log = logging.getLogger(__name__)

#: NIfTI files compressed concurrently within one subject.
_WRITE_THREADS = 2


@dataclass(frozen=True, eq=False)
class PlannedSeries:
    """A series found in a subject's folder, with its role (``None``: left alone)."""

    series: Series
    classification: Classification
    run: int | None = None


def plan(source_dir: str | os.PathLike,
         roles: Mapping[int, str] | None = None) -> list[PlannedSeries]:
    """Discover, read headers, check the subject, group and classify — no pixels, no output.

    Parameters
    ----------
    source_dir : path-like
        The subject's DICOM folder.
    roles : mapping of int to str, optional
        ``SeriesNumber -> role`` where the header-based classification cannot tell (e.g.
        ``{5: "megre", 9: "ignore"}``); a role from :data:`ROLE_SUFFIX` or ``"ignore"``.
        These series take that role; the others are classified as usual.

    Returns
    -------
    list of PlannedSeries
        Every series found, in series-number order; series of the same role and part get
        run numbers 1, 2, … (``None`` when there is only one). A ``megre`` whose echoes
        are not complex (e.g. magnitude only) keeps its role, and its reason says what the
        fat-water fit cannot do with it (:func:`~.classify.complex_parts_note`).

    Raises
    ------
    DicomError
        No DICOM files, no images among them, a corrupt image file, two patients or
        studies mixed, or ``roles`` naming a series number that is not in the folder or an
        unknown role.

    Warns
    -----
    DicomWarning
        Each file skipped (not DICOM, or no image: DICOMDIR, presentation state,
        structured report, header without pixel data), with the reason; also logged.
    """
    root = Path(source_dir)
    files = discover(root)
    if not files:
        raise DicomError(f"{root}: no DICOM files found")
    headers = read_headers(files, root)
    if not headers:
        raise DicomError(f"{root}: no DICOM images found (only objects without pixel data, "
                         "each named in the warnings)")
    check_subject(headers, str(root))
    series = group_series(headers)
    roles = dict(roles or {})
    numbers = {s.number for s in series}
    for number, role in roles.items():
        if role not in (*ROLE_SUFFIX, "ignore"):
            raise DicomError(f"{root}: series {number} is given role {role!r}; choose from "
                             f"{', '.join((*ROLE_SUFFIX, 'ignore'))}")
        if number not in numbers:
            raise DicomError(f"{root}: no series number {number} (given role {role!r}); "
                             f"series found: {', '.join(map(str, sorted(numbers)))}")
    planned = [(s, Classification(None if roles[s.number] == "ignore"
                                  else roles[s.number], "role set by the manifest")
                if s.number in roles else classify(s)) for s in series]
    planned = _scanner_maps.one_per_kind(planned)
    note = complex_parts_note({s.part for s, c in planned if c.role == "megre"})
    if note is not None:
        planned = [(s, Classification(c.role, f"{c.reason}; {note}") if c.role == "megre"
                    else c) for s, c in planned]
    counts: dict[tuple[str, str], int] = {}
    for s, c in planned:
        if c.role is not None:
            counts[(c.role, s.part)] = counts.get((c.role, s.part), 0) + 1
    seen: dict[tuple[str, str], int] = {}
    out = []
    for s, c in planned:
        run = None
        if c.role is not None and counts[(c.role, s.part)] > 1:
            seen[(c.role, s.part)] = seen.get((c.role, s.part), 0) + 1
            run = seen[(c.role, s.part)]
        out.append(PlannedSeries(s, c, run))
    return out


def _convert(item: PlannedSeries) -> tuple[SortedSeries, Volume]:
    check_series(item.series)
    sorted_series = sort_series(item.series)
    return sorted_series, assemble(sorted_series)


def _removed(series: Series, pseudonym: str) -> tuple[object, list[str]]:
    """De-identified first header and the union of removed names over the series."""
    def run(h):
        try:
            return deidentify(h.dataset, pseudonym)
        except (ValueError, TypeError, KeyError, OverflowError) as exc:
            raise DicomError(f"{h.name}: malformed header element ({exc})") from None

    clean, removed = run(series.headers[0])
    names = set(removed)
    seen_tags = set(series.headers[0].dataset.keys())
    for h in series.headers[1:]:
        extra = [tag for tag in h.dataset.keys() if tag not in seen_tags]
        if extra:
            names.update(run(h)[1])
            seen_tags.update(extra)
    return clean, sorted(names)


def _stage(stage_anat: Path, label: str, item: PlannedSeries, sorted_series: SortedSeries,
           volume: Volume, jobs: list) -> list[str]:
    """Write one series' sidecars into the staging folder and queue its NIfTI writes.

    Returns the file names; ``jobs`` receives one callable per NIfTI file.
    """
    role, part = item.classification.role, item.series.part
    pseudonym = f"sub-{label}"
    clean, removed = _removed(item.series, pseudonym)
    prov = provenance(series_uid=item.series.series_uid, series_number=item.series.number,
                      n_images=sum(len(r) for r in sorted_series.images), removed=removed,
                      pseudonym=pseudonym, phase_convention=volume.phase_convention)
    names = []
    n_echoes = volume.data.shape[3]
    for e in range(n_echoes):
        multi = role in ("megre", "mese")
        stem = bids_name(label, role, echo=e + 1 if multi else None,
                         part=part if role == "megre" else None, run=item.run)
        te = float(sorted_series.echo_times[e])
        payload = sidecar(clean, echo_number=e + 1 if multi else None,
                          echo_time=te if np.isfinite(te) else None,
                          spacing=sorted_series.spacing, units=volume.units,
                          provenance_block=prov,
                          pulse_sequence_type=PULSE_SEQUENCE_TYPE.get(role))
        jobs.append(partial(write_nifti, stage_anat / f"{stem}.nii.gz", volume.data[..., e],
                            volume.affine, volume.slope, volume.inter))
        write_json(stage_anat / f"{stem}.json", payload)
        names += [f"{stem}.nii.gz", f"{stem}.json"]
    return names


def _commit(stage_sub: Path, final_sub: Path, names: list[str]) -> list[Path]:
    """Move the staged subject into place; replace earlier ingest output of that subject."""
    if not final_sub.exists():
        os.replace(stage_sub, final_sub)
    else:
        anat = final_sub / "anat"
        anat.mkdir(parents=True, exist_ok=True)
        for name in names:
            os.replace(stage_sub / "anat" / name, anat / name)
        for old in anat.iterdir():  # stale ingest output (e.g. a role no longer present)
            info = parse_name(old.name)
            if info is not None and old.name not in names:
                old.unlink()
    return sorted(final_sub / "anat" / n for n in names)


def ingest(source_dir: str | os.PathLike, out_dir: str | os.PathLike, subject: str, *,
           roles: Mapping[int, str] | None = None,
           maps_dir: str | os.PathLike | None = None) -> list[Path]:
    """Convert one subject's DICOM export to de-identified BIDS NIfTI + JSON.

    Parameters
    ----------
    source_dir : path-like
        The subject's DICOM folder: any nesting and file names; non-DICOM files and
        DICOMDIR are skipped.
    out_dir : path-like
        Raw BIDS root (``manifest.rawdata``); files go to ``out_dir/sub-<label>/anat/``,
        and the root gets a ``dataset_description.json`` (``DatasetType`` "raw") and a
        ``README`` if it has none (:mod:`.dataset`; ``participants.tsv`` needs the
        manifest: :func:`~.dataset.write_raw_dataset`). Files get the mode a plain
        ``open`` gives (``0644`` under umask ``022``).
    subject : str
        Pseudonymous subject ID from the manifest, ``"sub-01"`` or ``"01"``; it replaces
        the patient's identity.
    roles : mapping of int to str, optional
        ``SeriesNumber -> role`` overrides of the classification (:func:`plan`).
    maps_dir : path-like, optional
        Derivative root for the maps the scanner computed itself (:mod:`.vendor_maps`:
        e.g. GE IDEAL-IQ fat fraction, water, fat, R2*), written in SI units as
        ``desc-scanner`` derivatives (``scanner_pdff`` ... of
        :data:`qmri_kernels.derivatives.MAPS`); default ``out_dir``. A subject may have
        only such maps (no raw echoes).

    Returns
    -------
    list of Path
        The NIfTI and JSON files written, sorted.

    Raises
    ------
    DicomError
        Any failed check (the message names the file or series); nothing is written.

    Warns
    -----
    DicomWarning
        Files skipped (not DICOM, or holding no image); series left alone, unclassified
        (with the reason); a multi-echo gradient echo whose echoes are not complex (written,
        but the fat-water fit cannot use it). Each is also logged.

    Notes
    -----
    Series roles: multi-echo gradient echo → ``MEGRE`` (per echo and part), multi-echo
    spin echo → ``MESE`` (per echo), T2-weighted → ``T2w``; see
    :mod:`qmri_kernels.dicom.classify`. De-identification: :mod:`qmri_kernels.dicom.deidentify`.
    Enhanced multi-frame MR files are split into their frames (:mod:`.enhanced`);
    compressed pixel data is decoded by pydicom's plug-ins (:mod:`.decoders`).
    """
    label = subject_label(subject)
    out_dir = Path(out_dir)
    planned = plan(source_dir, roles)
    targets = [p for p in planned if p.classification.role is not None]
    scanner = [p for p in planned if p.classification.scanner_map is not None]
    for p in planned:
        if p.classification.role is None and p.classification.scanner_map is None:
            how = ("left alone (role 'ignore' given)" if p.classification.reason ==
                   "role set by the manifest" else
                   f"unclassified, left alone: {p.classification.reason}")
            report_skip(f"sub-{label}: {p.series.label} {how}")
    note = complex_parts_note({p.series.part for p in targets
                               if p.classification.role == "megre"})
    if note is not None:
        report_skip(f"sub-{label}: {note}")
    if not targets and not scanner:
        found = "; ".join(f"{p.series.label}: {p.classification.reason}" for p in planned)
        raise DicomError(f"{source_dir}: no series of a known role "
                         f"({', '.join(ROLE_SUFFIX)}) found — {found}")
    converted = [(p, *_convert(p)) for p in targets]  # all checks and pixels, before writing
    scanner_maps = [_scanner_maps.convert(p.series, p.classification.scanner_map,
                                          f"sub-{label}") for p in scanner]
    if not targets:
        paths = _scanner_maps.write(maps_dir or out_dir, label, scanner_maps)
        log.info("sub-%s: %d scanner-map files written", label, len(paths))
        return paths
    out_dir.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".ingest-sub-{label}-", dir=out_dir))
    try:
        stage_anat = stage / f"sub-{label}" / "anat"
        stage_anat.mkdir(parents=True)
        names: list[str] = []
        jobs: list = []
        for item, sorted_series, volume in converted:
            names += _stage(stage_anat, label, item, sorted_series, volume, jobs)
        # gzip releases the GIL: compress two files at a time
        with ThreadPoolExecutor(max_workers=_WRITE_THREADS) as pool:
            for future in [pool.submit(job) for job in jobs]:
                future.result()
        if len(set(names)) != len(names):
            raise DicomError(f"sub-{label}: two series would be written to the same file name")
        paths = _commit(stage / f"sub-{label}", out_dir / f"sub-{label}", names)
        write_raw_description(out_dir)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    paths = sorted(paths + _scanner_maps.write(maps_dir or out_dir, label, scanner_maps))
    log.info("sub-%s: %d files written to %s", label, len(paths), out_dir)
    return paths


def load_subject_series(manifest, subject: str, role: str, part: str = "mag"):
    """A manifest subject's ingested series, ingesting its DICOM first if needed.

    Parameters
    ----------
    manifest : qmri_kernels.manifest.Manifest
        Gives the subject's DICOM root and the raw BIDS root (``manifest.rawdata``) the
        series are ingested into.
    subject : str
        ``"13"`` or ``"sub-13"``.
    role : {"megre", "mese", "t2w"}
    part : str
        As for :func:`~qmri_kernels.dicom.load_series` (``"complex"`` for ``megre``).

    Returns
    -------
    LoadedSeries

    Raises
    ------
    KeyError
        If the subject is not in the manifest.
    DicomError
        If its DICOM cannot be ingested or holds no such series.
    """
    entry = manifest.subject(subject)
    raw = Path(manifest.rawdata)
    try:
        return load_series(raw, entry.bids_id, role, part)
    except DicomError:
        if _ingested(raw, entry.bids_id, role):
            raise  # ingested, but not usable as asked (e.g. a magnitude-only MEGRE)
        ingest(entry.dicom_root, raw, entry.id, roles=getattr(entry, "roles", dict)(),
               maps_dir=getattr(manifest, "derivatives", None))
        write_raw_dataset(manifest)
        return load_series(raw, entry.bids_id, role, part)


def _ingested(bids_dir: Path, subject: str, role: str) -> bool:
    """Whether ingest output of ``role`` exists for ``subject`` under the raw root
    ``bids_dir``."""
    anat = bids_dir / f"sub-{subject_label(subject)}" / "anat"
    return anat.is_dir() and any((parse_name(p.name) or {}).get("role") == role
                                 for p in anat.iterdir())
