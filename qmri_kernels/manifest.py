"""The cohort manifest: ``data_manifest.yaml``, validated on load.

The manifest says where a cohort's data live and which muscle was biopsied on which side,
so that every chapter runs unchanged on the synthetic cohort or on real data: a user points
the manifest at their own DICOM and re-runs the book. Example::

    version: 1
    synthetic: true
    root: data/synthetic                  # relative to this file's directory
    clinical_table: sourcedata/clinical.csv   # the others: relative to root
    scores: sourcedata/scores_pathology.csv   # optional: R3/R4 scores to import
    score_store: derivatives/scores.sqlite
    derivatives: derivatives/qmri
    rawdata: rawdata                      # optional: the raw BIDS dataset (default rawdata)
    truth: truth                          # optional: ground truth (synthetic cohort)
    subjects:
      - {id: "01", dicom_root: sourcedata/sub-01/dicom, biopsy_muscle: RF, biopsy_side: left}

Loading checks the document against :data:`SCHEMA` (a JSON Schema, checked with
``jsonschema``), then what a schema cannot express: subject ids unique after BIDS
normalisation ("01" and "sub-01" are the same subject), ground truth present for a synthetic
cohort, and — unless ``check_paths=False`` — that the inputs exist (DICOM roots, clinical
table, score CSV, truth). The score store, the raw BIDS dataset (the de-identified images
the ingest writes, ``rawdata``) and the derivative root are outputs and may not exist yet.
Every problem is reported in one :class:`ManifestError` naming the manifest file,
the entry (``subjects[3] (sub-04)``) and what is wrong.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from .labels import MUSCLES
from .subject_id import subject_label

__all__ = ["ManifestError", "SubjectEntry", "ReaderMask", "Acquisition", "FAT_SPECTRA", "Manifest", "SCHEMA", "MANIFEST_NAME",
           "RAWDATA_DEFAULT", "ENV_VAR", "GENERATOR_COMMAND", "find_manifest", "load_manifest"]

#: File name of the manifest at the top of the repository.
MANIFEST_NAME = "data_manifest.yaml"
#: Default of the manifest's ``rawdata`` (the raw BIDS dataset), relative to ``root``.
RAWDATA_DEFAULT = "rawdata"
#: Environment variable that, when set, names the manifest to load by default.
ENV_VAR = "QMRI_MANIFEST"
#: Command that writes the synthetic cohort (``{root}`` is the manifest's data root).
GENERATOR_COMMAND = "python -m qmri_kernels.phantom.synthetic_cohort --out {root}"

_SIDES = ("left", "right")
_PATH = {"type": "string", "minLength": 1}
_ROLES = ("megre", "mese", "t2w")
#: Fat spectra a manifest may name (:mod:`qmri_kernels.physics`).
FAT_SPECTRA = ("hamilton2011-6peak", "ren2008-9peak")
#: A reader label name in a mask's label mapping: ``<muscle>_<side>`` (``RF_left``).
_READER_LABEL = "^(" + "|".join(MUSCLES) + ")_(left|right)$"
_SLICE_PROFILE = {
    "type": "object", "additionalProperties": False,
    "properties": {
        "time_bandwidth": {"type": "number", "exclusiveMinimum": 0},
        "refocusing_width": {"type": "number", "exclusiveMinimum": 0},
        "excitation_angle_deg": {"type": "number", "exclusiveMinimum": 0, "maximum": 180},
        "window": {"enum": ["hann", "hamming", "none"]},
        "n_subslices": {"type": "integer", "minimum": 4},
        "excitation_time_bandwidth": {"type": "number", "exclusiveMinimum": 0},
        "refocusing_time_bandwidth": {"type": "number", "exclusiveMinimum": 0},
        "excitation_window": {"enum": ["hann", "hamming", "none"]},
        "refocusing_window": {"enum": ["hann", "hamming", "none"]},
        "b1_scaling": {"enum": ["flip", "pulse"]},
        "extent": {"type": "number", "exclusiveMinimum": 0},
    },
}
#: The model assumptions of the fits a study may set (defaults where DICOM is silent).
_ACQUISITION = {
    "type": "object", "additionalProperties": False,
    "properties": {
        "field_strength_t": {"type": "number", "exclusiveMinimum": 0},
        "fat_spectrum": {"enum": list(FAT_SPECTRA)},
        "fat_t2_ms": {"type": "number", "exclusiveMinimum": 0},
        "mese_repetition_time_s": {"type": "number", "exclusiveMinimum": 0},
        "mese_slice_profile": {"oneOf": [_SLICE_PROFILE, {"const": False}]},
    },
}

#: JSON Schema (draft 2020-12) of the manifest document.
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "qmri_kernels cohort manifest",
    "type": "object",
    "additionalProperties": False,
    "required": ["version", "root", "subjects", "clinical_table", "score_store", "derivatives"],
    "properties": {
        "version": {"const": 1},
        "synthetic": {"type": "boolean"},
        "root": _PATH,
        "clinical_table": _PATH,
        "scores": _PATH,
        "score_store": _PATH,
        "derivatives": _PATH,
        "rawdata": _PATH,
        "truth": _PATH,
        "example_subject": {"type": "string", "pattern": "^(sub-)?[A-Za-z0-9]+$"},
        "acquisition": _ACQUISITION,
        "subjects": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id", "dicom_root", "biopsy_muscle", "biopsy_side"],
                "properties": {
                    "id": {"type": "string", "pattern": "^(sub-)?[A-Za-z0-9]+$"},
                    "dicom_root": _PATH,
                    "biopsy_muscle": {"enum": list(MUSCLES)},
                    "biopsy_side": {"enum": list(_SIDES)},
                    # SeriesNumber of a series whose role the headers cannot tell
                    "series": {"type": "object", "additionalProperties": False,
                               "properties": {r: {"type": "integer", "minimum": 0}
                                              for r in (*_ROLES, "ignore")}},
                    # a reader's own masks (NIfTI on the grid of one of the series), with
                    # the mapping from their label values to this book's muscles
                    "masks": {"type": "object",
                              "propertyNames": {"pattern": "^[A-Za-z0-9]+$",
                                                "not": {"const": "auto"}},
                              "additionalProperties": {
                                  "type": "object", "additionalProperties": False,
                                  "required": ["path", "labels"],
                                  "properties": {
                                      "path": _PATH,
                                      "labels": {"type": "object", "minProperties": 1,
                                                 "propertyNames": {"pattern": "^[0-9]+$"},
                                                 "additionalProperties": {
                                                     "type": "string",
                                                     "pattern": _READER_LABEL}}}}},
                },
            },
        },
    },
}
jsonschema.Draft202012Validator.check_schema(SCHEMA)


class ManifestError(ValueError):
    """A manifest that cannot be loaded.

    Attributes
    ----------
    manifest : Path
        The manifest file.
    problems : tuple of (str, str)
        ``(entry, problem)`` pairs, e.g. ``("subjects[3] (sub-04).biopsy_side",
        "biopsy side 'up' is not 'left' or 'right'")``.
    """

    def __init__(self, manifest: str | Path, problems: list[tuple[str, str]], hint: str = ""):
        self.manifest = Path(manifest)
        self.problems = tuple(problems)
        if len(problems) == 1:
            entry, problem = problems[0]
            msg = f"manifest {manifest}: {entry}: {problem}"
        else:
            msg = f"manifest {manifest}: {len(problems)} problems:" + "".join(
                f"\n  {entry}: {problem}" for entry, problem in problems)
        super().__init__(msg + (f"\n{hint}" if hint else ""))


@dataclass(frozen=True)
class ReaderMask:
    """A reader's own label file for one subject (drawn in another tool).

    Attributes
    ----------
    reader : str
        Reader id (letters and digits, e.g. ``"R1"``).
    path : Path
        The NIfTI label volume, on the grid of one of the subject's series.
    labels : dict of int to (str, str)
        Label value in the file → (muscle abbreviation, side); other values are background.
    """

    reader: str
    path: Path
    labels: dict[int, tuple[str, str]]


@dataclass(frozen=True)
class Acquisition:
    """Model assumptions of the fits: defaults where the DICOM headers are silent.

    Every value is recorded in the sidecars of the maps it shaped.

    Attributes
    ----------
    field_strength_t : float or None
        B0 in T when the headers give no MagneticFieldStrength (None: required from them).
    fat_spectrum : str
        Fat spectrum of the fat-water fit, one of :data:`FAT_SPECTRA`.
    fat_t2_ms : float or None
        Fat T2 of the EPG fit, ms (None: the library's, 133 ms).
    mese_repetition_time_s : float or None
        TR of the spin-echo train when its headers give none, s.
    mese_slice_profile : dict or bool
        Slice-profile settings of the EPG fit (keys of the manifest's
        ``mese_slice_profile``), ``True`` for the library's default, ``False`` for hard
        pulses.
    """

    field_strength_t: float | None = None
    fat_spectrum: str = FAT_SPECTRA[0]
    fat_t2_ms: float | None = None
    mese_repetition_time_s: float | None = None
    mese_slice_profile: dict | bool = True

    def as_dict(self) -> dict:
        """The settings as JSON-ready keys (for sidecars).

        Returns
        -------
        dict
            ``FieldStrengthDefault`` (T or None), ``FatSpectrum`` (name),
            ``FatT2ms`` (ms or None), ``MESERepetitionTimeDefault`` (s or None) and
            ``MESESliceProfile`` (dict of slice-profile settings, or bool). None means
            "not set here: taken from the headers / the library default".
        """
        return {"FieldStrengthDefault": self.field_strength_t,
                "FatSpectrum": self.fat_spectrum, "FatT2ms": self.fat_t2_ms,
                "MESERepetitionTimeDefault": self.mese_repetition_time_s,
                "MESESliceProfile": self.mese_slice_profile}


@dataclass(frozen=True)
class SubjectEntry:
    """One subject of the cohort.

    Attributes
    ----------
    id : str
        BIDS subject label without the prefix, e.g. ``"01"``.
    dicom_root : Path
        Absolute directory holding the subject's DICOM files.
    biopsy_muscle : str
        Abbreviation of the biopsied muscle, one of
        :data:`qmri_kernels.labels.MUSCLES`.
    biopsy_side : str
        ``"left"`` or ``"right"``.
    series : dict of str to int
        Role (``megre``, ``mese``, ``t2w``, ``ignore``) → SeriesNumber, where the headers
        cannot tell.
    masks : tuple of ReaderMask
        Readers' own label files.
    """

    id: str
    dicom_root: Path
    biopsy_muscle: str
    biopsy_side: str
    series: dict = field(default_factory=dict)
    masks: tuple = ()

    def roles(self) -> dict[int, str]:
        """SeriesNumber → role overrides for :func:`qmri_kernels.dicom.ingest`.

        Returns
        -------
        dict of int to str
            The manifest's ``series`` mapping inverted: SeriesNumber → ``"megre"``,
            ``"mese"``, ``"t2w"`` or ``"ignore"``; empty when the headers decide.
        """
        return {number: role for role, number in self.series.items()}

    def reader_mask(self, reader: str) -> ReaderMask | None:
        """The reader's own mask file, if the manifest names one.

        Parameters
        ----------
        reader : str
            Reader id as in the manifest's ``masks`` (``"R1"``; case-sensitive).

        Returns
        -------
        ReaderMask or None
            None if the manifest gives this subject no mask by ``reader`` (the reader's
            labels then come from the pipeline, not from a file).
        """
        return next((m for m in self.masks if m.reader == reader), None)

    @property
    def bids_id(self) -> str:
        """The BIDS subject entity, e.g. ``"sub-01"``."""
        return f"sub-{self.id}"

    @property
    def contralateral_side(self) -> str:
        """The side opposite the biopsy (the paper's contralateral comparison)."""
        return "right" if self.biopsy_side == "left" else "left"


@dataclass(frozen=True)
class Manifest:
    """A validated cohort manifest; all paths are absolute.

    Attributes
    ----------
    path : Path
        The manifest file.
    root : Path
        Data root.
    subjects : tuple of SubjectEntry
        In manifest order.
    clinical_table : Path
        Clinical CSV (input).
    scores : Path or None
        Pathologist (R3/R4) scores CSV to import into the store (input), if any.
    score_store : Path
        SQLite score store (output; created on first use).
    derivatives : Path
        Derivative root, BIDS layout (output).
    truth : Path or None
        Ground-truth root; present for the synthetic cohort.
    synthetic : bool
        Whether the data are the synthetic cohort (the book says so beside results).
    example_id : str or None
        The subject the chapters show in detail (``example_subject``); default the first.
    acquisition : Acquisition
        Model assumptions of the fits (``acquisition``).
    rawdata : Path
        Raw BIDS dataset (output): the de-identified NIfTI + JSON the DICOM ingest writes
        (``sub-01/anat/sub-01_echo-1_part-mag_MEGRE.nii.gz`` ...), with
        ``participants.tsv``. The manifest's ``rawdata`` (relative to ``root``); default
        ``<root>/rawdata``. The derivative dataset links to it (``bids:raw:...``).
    """

    path: Path
    root: Path
    subjects: tuple[SubjectEntry, ...]
    clinical_table: Path
    scores: Path | None
    score_store: Path
    derivatives: Path
    truth: Path | None
    synthetic: bool
    example_id: str | None = None
    acquisition: Acquisition = Acquisition()
    rawdata: Path | None = None

    def __post_init__(self) -> None:
        if self.rawdata is None:
            object.__setattr__(self, "rawdata", Path(self.root) / RAWDATA_DEFAULT)

    @property
    def example_subject(self) -> SubjectEntry:
        """The subject the chapters show in detail: ``example_subject`` if the manifest
        names one, else the first subject."""
        return self.subject(self.example_id) if self.example_id else self.subjects[0]

    def subject(self, subject_id: str) -> SubjectEntry:
        """The subject with ``subject_id`` (``"01"`` or ``"sub-01"``).

        Parameters
        ----------
        subject_id : str
            ``"01"`` or ``"sub-01"``; compared with :attr:`SubjectEntry.id` after
            dropping the ``sub-`` prefix.

        Returns
        -------
        SubjectEntry
            The entry as loaded (paths absolute).

        Raises
        ------
        KeyError
            If the manifest has no such subject (the message lists the ones it has).
        """
        key = _strip_prefix(subject_id)
        for s in self.subjects:
            if s.id == key:
                return s
        raise KeyError(f"no subject {subject_id!r} in manifest {self.path}; "
                       f"have {', '.join(s.bids_id for s in self.subjects)}")


def find_manifest(start: str | Path | None = None) -> Path:
    """Locate the default manifest.

    Order: the file named by ``$QMRI_MANIFEST``; else ``data_manifest.yaml`` in ``start``
    (default: the working directory) or its nearest parent having one; else the one at the
    top of the repository this package is imported from.

    Parameters
    ----------
    start : str or Path, optional
        Directory where the upward search begins. None: the current working directory.
        Ignored when ``$QMRI_MANIFEST`` is set.

    Returns
    -------
    Path
        The manifest file (not read or validated; see :func:`load_manifest`).

    Raises
    ------
    ManifestError
        If ``$QMRI_MANIFEST`` names a missing file, or no manifest is found.
    """
    env = os.environ.get(ENV_VAR)
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise ManifestError(path, [(f"${ENV_VAR}", "file does not exist")])
        return path
    here = Path.cwd() if start is None else Path(start)
    candidates = [d / MANIFEST_NAME for d in (here.resolve(), *here.resolve().parents)]
    candidates.append(Path(__file__).resolve().parents[1] / MANIFEST_NAME)
    for cand in candidates:
        if cand.is_file():
            return cand
    raise ManifestError(MANIFEST_NAME, [(
        "lookup", f"not found in {here} or its parents, nor beside the qmri_kernels package; "
                  f"pass a path or set ${ENV_VAR}")])


def load_manifest(path: str | Path | None = None, *, check_paths: bool = True) -> Manifest:
    """Read and validate a cohort manifest.

    Parameters
    ----------
    path : str or Path, optional
        The YAML file. Default: :func:`find_manifest` (``$QMRI_MANIFEST``, then the
        working directory and its parents, then the repository's ``data_manifest.yaml``).
    check_paths : bool
        Check that the inputs exist: DICOM roots and truth (directories), clinical table and
        score CSV (files). ``False`` validates only the document, e.g. before the synthetic
        cohort has been generated.

    Returns
    -------
    Manifest
        Paths resolved: ``root`` against the manifest's directory, the others against
        ``root`` (absolute paths are kept; ``~`` is expanded).

    Raises
    ------
    ManifestError
        Naming the manifest, each offending entry and its problem: unreadable YAML, an
        unknown or missing key, a wrong type, a muscle not in the label table, a side not
        left/right, duplicate subject ids, a missing input path.
    """
    path = find_manifest() if path is None else Path(path).expanduser()
    data = _read_yaml(path)
    validator = jsonschema.Draft202012Validator(SCHEMA)
    errors = sorted(validator.iter_errors(data),      # in document order, list items by index
                    key=lambda e: [(isinstance(p, int), p) for p in e.absolute_path])
    if errors:
        raise ManifestError(path, [(_entry(data, e.absolute_path), _describe(e))
                                   for e in errors])

    problems: list[tuple[str, str]] = []
    seen: dict[str, int] = {}
    for i, sub in enumerate(data["subjects"]):
        key = _strip_prefix(sub["id"])
        if key in seen:
            problems.append((_entry(data, ["subjects", i]),
                             f"duplicate subject id; sub-{key} is also subjects[{seen[key]}]"))
        else:
            seen[key] = i
    synthetic = data.get("synthetic", False)
    if "example_subject" in data and _strip_prefix(data["example_subject"]) not in seen:
        problems.append(("example_subject", f"{data['example_subject']!r} is not one of the "
                                            "subjects listed"))
    if synthetic and "truth" not in data:
        problems.append(("truth", "a synthetic cohort needs a ground-truth root"))
    if problems:
        raise ManifestError(path, problems)

    root = _resolve(path.resolve().parent, data["root"])
    manifest = Manifest(
        path=path.resolve(),
        root=root,
        subjects=tuple(_subject_entry(root, s) for s in data["subjects"]),
        clinical_table=_resolve(root, data["clinical_table"]),
        scores=_resolve(root, data["scores"]) if "scores" in data else None,
        score_store=_resolve(root, data["score_store"]),
        derivatives=_resolve(root, data["derivatives"]),
        truth=_resolve(root, data["truth"]) if "truth" in data else None,
        synthetic=synthetic,
        example_id=_strip_prefix(data["example_subject"]) if "example_subject" in data
        else None,
        acquisition=_acquisition(data.get("acquisition", {})),
        rawdata=_resolve(root, data.get("rawdata", RAWDATA_DEFAULT)),
    )
    if check_paths:
        _check_paths(manifest, data)
    return manifest


def _subject_entry(root: Path, s: dict) -> SubjectEntry:
    masks = tuple(ReaderMask(reader, _resolve(root, spec["path"]),
                             {int(v): tuple(name.split("_")) for v, name in
                              spec["labels"].items()})
                  for reader, spec in s.get("masks", {}).items())
    return SubjectEntry(_strip_prefix(s["id"]), _resolve(root, s["dicom_root"]),
                        s["biopsy_muscle"], s["biopsy_side"], dict(s.get("series", {})), masks)


def _acquisition(a: dict) -> Acquisition:
    profile = a.get("mese_slice_profile", True)
    if isinstance(profile, dict):
        import math

        profile = dict(profile)
        if "excitation_angle_deg" in profile:
            profile["excitation_angle"] = math.radians(profile.pop("excitation_angle_deg"))
    return Acquisition(a.get("field_strength_t"), a.get("fat_spectrum", FAT_SPECTRA[0]),
                       a.get("fat_t2_ms"), a.get("mese_repetition_time_s"), profile)


def _check_paths(m: Manifest, data: dict) -> None:
    hint = ""
    if m.synthetic:
        cmd = GENERATOR_COMMAND.format(root=shlex.quote(str(m.root)))
        hint = (f"The synthetic cohort is generated, not committed: run `{cmd}` "
                "(or load with check_paths=False to validate the manifest alone).")
    if not m.root.is_dir():
        raise ManifestError(m.path, [("root", f"data directory {m.root} does not exist")], hint)
    problems = []
    for key, want_dir in (("clinical_table", False), ("scores", False), ("truth", True)):
        p = getattr(m, key)
        if p is not None:
            problems += [(key, msg) for msg in _missing(p, want_dir)]
    for i, s in enumerate(m.subjects):
        problems += [(_entry(data, ["subjects", i, "dicom_root"]), msg)
                     for msg in _missing(s.dicom_root, True)]
        problems += [(_entry(data, ["subjects", i, "masks", mask.reader, "path"]), msg)
                     for mask in s.masks for msg in _missing(mask.path, False)]
    if problems:
        raise ManifestError(m.path, problems, hint)


def _missing(p: Path, want_dir: bool) -> list[str]:
    kind = "directory" if want_dir else "file"
    if not p.exists():
        return [f"{kind} {p} does not exist"]
    if p.is_dir() != want_dir:
        return [f"{p} is not a {kind}"]
    return []


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects a key given twice in one mapping (PyYAML keeps the last)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for knode, _ in node.value:
            key = self.construct_object(knode, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", knode.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _read_yaml(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as fh:
            data = yaml.load(fh, Loader=_UniqueKeyLoader)
    except OSError as exc:
        raise ManifestError(path, [("file", f"cannot be read ({exc.strerror or exc})")]) from exc
    except yaml.YAMLError as exc:
        raise ManifestError(path, [("YAML", " ".join(str(exc).split()))]) from exc
    if not isinstance(data, dict):
        raise ManifestError(path, [("top level", "must be a mapping of keys "
                                    f"({', '.join(SCHEMA['properties'])}), got "
                                    f"{type(data).__name__}")])
    return data


def _strip_prefix(subject_id: str) -> str:
    """The label of an id the schema has already checked (``sub-01`` → ``01``); an id
    looked up by a caller (:meth:`Manifest.subject`) that is not a label matches nothing."""
    try:
        return subject_label(subject_id)
    except ValueError:
        return str(subject_id)


def _resolve(base: Path, value: str) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else (base / p).resolve()


def _entry(data: Any, where) -> str:
    """Name the entry at JSON path ``where``: ``subjects[3] (sub-04).biopsy_side``."""
    parts = list(where)
    if not parts:
        return "top level"
    out = str(parts[0])
    if parts[0] == "subjects" and len(parts) > 1:
        i = parts[1]
        out = f"subjects[{i}]"
        item = data["subjects"][i]
        sid = item.get("id") if isinstance(item, dict) else None
        if isinstance(sid, str):
            out += f" ({sid if sid.startswith('sub-') else 'sub-' + sid})"
        parts = parts[2:]
    else:
        parts = parts[1:]
    return out + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)


def _describe(err: jsonschema.ValidationError) -> str:
    """A reader's message for one schema violation."""
    key = err.absolute_path[-1] if err.absolute_path else None
    if err.validator == "additionalProperties":
        unknown = sorted(set(err.instance) - set(err.schema["properties"]))
        return (f"unknown key{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
                f"allowed: {', '.join(err.schema['properties'])}")
    if err.validator == "required":
        return f"missing required key; {err.message}"
    if key == "biopsy_muscle" and err.validator == "enum":
        return (f"biopsy muscle {err.instance!r} is not in the label table "
                f"(qmri_kernels.labels.MUSCLES: {', '.join(MUSCLES)})")
    if key == "biopsy_side" and err.validator == "enum":
        return f"biopsy side {err.instance!r} is not 'left' or 'right'"
    if key == "id" and err.validator == "type" and isinstance(err.instance, (int, float)):
        return (f"id {err.instance!r} is a number (YAML reads 01 as 1); "
                'quote it, e.g. id: "01"')
    if key == "id" and err.validator == "pattern":
        return (f"id {err.instance!r} is not a BIDS subject label "
                "(letters and digits, optionally prefixed 'sub-')")
    if key == "version":
        return f"version {err.instance!r} is not supported; this loader reads version 1"
    return err.message
