"""Mask QA: a reader reviews and corrects the network's labels on the T2-weighted series.

Wang et al. (2023) had two readers (R1, R2) check and correct every muscle mask
independently before measuring; :class:`MaskSession` is that step as a library object. It
holds one reader's label volume of one subject on the T2-weighted grid and edits it with a
brush, slice by slice:

- :meth:`MaskSession.paint` sets a disc of voxels to a label, :meth:`MaskSession.erase` sets
  it to background, :meth:`MaskSession.fill` fills an enclosed background hole;
- :meth:`MaskSession.undo` / :meth:`MaskSession.redo` step through the edits;
- :meth:`MaskSession.save` writes the reader's labels as a BIDS derivative
  (``sub-01_desc-R1_dseg.nii.gz`` with its ``dseg.tsv``) with an edit log and the Dice
  overlap of every muscle with the network's labels in the JSON sidecar;
- :meth:`MaskSession.stats` gives the biopsied muscle's mean PDFF and water T2 inside the
  current labels, for the reader to see what an edit changes.

Terms
-----
*Disc* of radius r around voxel (i, j) of slice k: the voxels (i + di, j + dj, k) of the
volume with di² + dj² ≤ r² (voxel units, in-plane; the slices are 8 mm thick with 10 mm gaps,
so the brush never reaches across slices).

*Enclosed hole* around a seed voxel: the 4-connected component of background (0) voxels of
the seed's slice that contains the seed, provided it does not touch the slice's border (a
component that does is the outside of the thigh, not a hole, and is refused).

*Edit*: one call of paint, erase or fill that changed at least one voxel (a call that changes
nothing is not recorded). Undo reverts the latest edit (or group of edits made inside
:meth:`MaskSession.stroke`, e.g. one drag of the mouse); any new edit clears the redo stack.
The history keeps only the changed voxels (flat indices and old values), never whole volumes.

The session is pure: no widget code (the view is :class:`qmri_kernels.widgets.mask_qa.
MaskQAWidget`), no global state; every array it hands out is read-only (copies of the
labels, views of what never changes).

References
----------
Wang F, Fang S, Li J, et al. (2023). Correlation analysis of quantitative MRI measurements
of thigh muscles with histopathology in patients with idiopathic inflammatory myopathy. Eur
Radiol Exp 7:45. doi:10.1186/s41747-023-00350-z

Dice LR (1945). Measures of the amount of ecologic association between species. Ecology
26(3):297–302. doi:10.2307/1932409
"""

from __future__ import annotations

import contextlib
import math
import numbers
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from .. import derivatives as D
from ..grids import Grid
from ..labels import LABELS, label_by_index, label_index, muscle_labels
from .geometry import GridMismatchError, check_same_grid
from .roi import MAP_UNITS
from .transfer import transfer_labels

__all__ = ["MaskSession", "MaskSessionError", "STATS_MAPS", "EDIT_LOG_KEYS"]

#: Maps :meth:`MaskSession.stats` reads from the derivatives when none are given.
STATS_MAPS: tuple[str, ...] = ("pdff", "water_t2")
#: Keys of one entry of the sidecar's ``EditLog``.
EDIT_LOG_KEYS: tuple[str, ...] = ("operation", "slice", "label", "center", "radius",
                                  "voxels_changed", "time", "reader")
_VALID_LABELS = frozenset([0] + [lab.index for lab in LABELS])
_MUSCLE_INDICES = tuple(sorted(lab.index for lab in muscle_labels()))
_CROP_MARGIN = 3     # voxels around a muscle's bounding box kept by the cropped transfer


class MaskSessionError(ValueError):
    """A mask-QA request that cannot be done (names the argument or file and the problem).

    The session's labels are unchanged when it is raised.
    """


@dataclass(frozen=True)
class _Change:
    """One recorded edit: the log entry and what undo needs (changed voxels only)."""

    record: dict
    index: np.ndarray     # (n,) int64 flat indices into the C-ordered label volume
    old: np.ndarray       # (n,) int16 values before the edit
    new: int              # the value the edit wrote


def _readonly(arr: np.ndarray) -> np.ndarray:
    """A copy that cannot be made writeable again (a view of a read-only array)."""
    out = np.array(arr, copy=True)
    out.setflags(write=False)
    return out.view()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _as_int(value: Any, name: str) -> int:
    """An integer argument (int, numpy integer or an integral float); else the error."""
    if isinstance(value, bool):
        raise MaskSessionError(f"{name} must be an integer, got {value!r}")
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real) and math.isfinite(value) and float(value).is_integer():
        return int(value)
    raise MaskSessionError(f"{name} must be an integer voxel index, got {value!r}")


class MaskSession:
    """One reader's correction of one subject's labels on the T2-weighted grid.

    Create it with :meth:`open`. The labels follow :mod:`qmri_kernels.labels` (0 background,
    right muscles 11–21, left 31–41); arrays are indexed ``[i, j, k]`` as the NIfTI file
    (``k`` the slice).

    Attributes
    ----------
    subject : str
        Subject label, e.g. ``"01"``.
    reader : str
        The reader (``"R1"``); names the file :meth:`save` writes.
    affine : (4, 4) ndarray
        Voxel centre → world RAS mm of the T2-weighted series (read-only).
    biopsy_muscle, biopsy_side : str
        The biopsied muscle (abbreviation) and side, from the manifest.
    started_from : str
        ``"labels_<reader>"`` if the reader's saved labels were reopened, else
        ``"labels_auto"``.
    path : Path
        The NIfTI file :meth:`save` writes (``…/sub-01_desc-R1_dseg.nii.gz``).
    """

    def __init__(self, *, manifest: Any, subject: str, reader: str, image: np.ndarray,
                 affine: np.ndarray, slice_thickness: float, labels: np.ndarray,
                 auto_labels: np.ndarray, started_from: str, prior_log: list[dict],
                 biopsy_muscle: str, biopsy_side: str, image_path: Path | None = None):
        # Private: use MaskSession.open. Arrays are validated and copied by open().
        self._manifest = manifest
        self.subject = subject
        self.reader = reader
        self._image = _readonly(np.asarray(image, dtype=np.float32))
        self._affine = _readonly(np.asarray(affine, dtype=np.float64))
        self._slice_thickness = float(slice_thickness)
        self._labels = np.ascontiguousarray(labels, dtype=np.int16).copy()
        self._auto = _readonly(np.ascontiguousarray(auto_labels, dtype=np.int16))
        self._saved = self._labels.copy()
        self.started_from = started_from
        self._prior_log = [dict(e) for e in prior_log]
        self.biopsy_muscle = biopsy_muscle
        self.biopsy_side = biopsy_side
        self._image_path = image_path
        self._undo: list[list[_Change]] = []
        self._redo: list[list[_Change]] = []
        self._group: list[_Change] | None = None
        self._maps_cache: dict[str, tuple[np.ndarray, np.ndarray]] | None = None

    # ------------------------------------------------------------------------- opening

    @classmethod
    def open(cls, manifest: Any, subject: str, reader: str) -> "MaskSession":
        """Start (or resume) a reader's review of one subject's labels.

        The session starts from the reader's saved labels (``labels_<reader>`` in the
        manifest's derivatives) if there are any, else from the network's labels
        (``labels_auto``; computed by :func:`qmri_kernels.pipeline.segmentation` only if
        they are not on disk).

        Parameters
        ----------
        manifest : qmri_kernels.manifest.Manifest
            The cohort (derivative root, biopsy site).
        subject : str
            ``"01"`` or ``"sub-01"``.
        reader : str
            Letters and digits (it becomes the BIDS ``desc`` entity), e.g. ``"R1"``; not
            ``"auto"`` (the network's labels are never overwritten).

        Returns
        -------
        MaskSession
            The session on the T2-weighted grid, with nothing to undo and no unsaved
            changes.

        Raises
        ------
        MaskSessionError
            Unknown subject; bad reader id; a reader whose mask file the manifest names
            (the pipeline's labels of that reader come from the file); no ingested
            T2-weighted image that can be made; saved labels (the reader's or the
            network's) whose shape or affine differs from the T2-weighted image, or holding
            values not in the label table; a saved label volume without its sidecar.
        """
        reader = _check_reader(reader)
        try:
            entry = manifest.subject(subject)
        except KeyError as exc:
            raise MaskSessionError(f"subject {subject!r}: {exc.args[0] if exc.args else exc}"
                                   ) from None
        own = getattr(entry, "reader_mask", lambda _: None)(reader)
        if own is not None:
            # the pipeline rebuilds labels_<reader> from that file; edits would be lost
            raise MaskSessionError(
                f"reader {reader} of {entry.bids_id} has a mask file named in the manifest "
                f"({getattr(own, 'path', own)}); the pipeline takes that reader's labels from "
                "it, so correct that file, or review under another reader id")
        root = Path(manifest.derivatives)
        series = _load_t2w(manifest, entry.id)
        shape, affine = tuple(series.data.shape[:3]), np.asarray(series.affine, float)

        auto = _read_labels(root, entry.id, "labels_auto", shape, affine)
        if auto is None:
            # the only upward call: the network's labels are made by the pipeline stage
            from ..pipeline import stages
            result = stages.segmentation(manifest, entry.id)
            data, aff = result.maps["labels_auto"]
            auto = _checked_labels(np.asarray(data), np.asarray(aff), shape, affine,
                                   "labels_auto (segmentation stage)")
        name = D.label_spec(reader).name
        saved = _read_labels(root, entry.id, name, shape, affine, with_sidecar=True)
        if saved is None:
            labels, started_from, prior = auto, "labels_auto", []
        else:
            labels, sidecar = saved
            started_from = name
            prior = [e for e in sidecar.get("EditLog", []) if isinstance(e, dict)]
        return cls(manifest=manifest, subject=entry.id, reader=reader, image=series.data,
                   affine=affine, slice_thickness=series.slice_thickness, labels=labels,
                   auto_labels=auto, started_from=started_from, prior_log=prior,
                   biopsy_muscle=entry.biopsy_muscle, biopsy_side=entry.biopsy_side,
                   image_path=series.paths[0] if series.paths else None)

    # ----------------------------------------------------------------------- accessors

    @property
    def labels(self) -> np.ndarray:
        """Current labels, (nx, ny, nz) int16 — a read-only copy."""
        return _readonly(self._labels)

    @property
    def auto_labels(self) -> np.ndarray:
        """The network's labels, (nx, ny, nz) int16 (a read-only view)."""
        return self._auto.view()

    @property
    def image(self) -> np.ndarray:
        """The T2-weighted image, (nx, ny, nz) float32 (a read-only view)."""
        return self._image.view()

    @property
    def affine(self) -> np.ndarray:
        """Voxel centre → world RAS mm, (4, 4) (a read-only view)."""
        return self._affine.view()

    @property
    def shape(self) -> tuple[int, int, int]:
        """(nx, ny, nz) of the T2-weighted grid."""
        return tuple(int(s) for s in self._labels.shape)

    @property
    def grid(self) -> Grid:
        """The T2-weighted :class:`~qmri_kernels.grids.Grid` (with its slab thickness).

        Raises
        ------
        MaskSessionError
            If the T2-weighted sidecar gave no ``SliceThickness`` (the label transfer needs
            the slab thickness).
        """
        if not (math.isfinite(self._slice_thickness) and self._slice_thickness > 0):
            raise MaskSessionError(f"sub-{self.subject}: the T2-weighted sidecar gives no "
                                   "SliceThickness; the label transfer needs the slab "
                                   "thickness")
        return Grid(self.shape, self._affine, self._slice_thickness)

    @property
    def biopsy_label(self) -> int:
        """Label index of the biopsied muscle on the biopsied side."""
        return label_index(self.biopsy_muscle, self.biopsy_side)

    @property
    def path(self) -> Path:
        """Where :meth:`save` writes the reader's labels."""
        return D.map_path(self._manifest.derivatives, self.subject, D.label_spec(self.reader))

    def slice_labels(self, slice_index: int) -> np.ndarray:
        """Labels of one slice, (nx, ny) int16 — a read-only copy (cheap, for views).

        Parameters
        ----------
        slice_index : int
            Slice k of the T2-weighted grid, 0 ≤ k < nz.

        Returns
        -------
        (nx, ny) ndarray of int16
            Read-only copy of the current labels of slice k (later edits do not show in
            it): 0 background, else an index of :data:`qmri_kernels.labels.LABELS`.

        Raises
        ------
        MaskSessionError
            ``slice_index`` is not an integer or lies outside the volume.
        """
        k = self._check_slice(slice_index)
        return _readonly(self._labels[:, :, k])

    @property
    def can_undo(self) -> bool:
        """Whether there is an edit to undo."""
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        """Whether there is an undone edit to redo."""
        return bool(self._redo)

    @property
    def has_unsaved_changes(self) -> bool:
        """Whether the labels differ from what was opened or last saved."""
        return not np.array_equal(self._labels, self._saved)

    @property
    def edit_log(self) -> list[dict]:
        """The edits in effect, oldest first: those of earlier saved sessions, then this one's
        (undone edits are not in it). Entries have the keys :data:`EDIT_LOG_KEYS`."""
        return [dict(e) for e in self._prior_log] + [
            dict(c.record) for group in self._undo for c in group]

    @property
    def history_nbytes(self) -> int:
        """Bytes held by the undo and redo history (changed voxels only)."""
        return int(sum(c.index.nbytes + c.old.nbytes for stack in (self._undo, self._redo)
                       for group in stack for c in group))

    # -------------------------------------------------------------------------- checks

    def _check_slice(self, slice_index: Any) -> int:
        k = _as_int(slice_index, "slice_index")
        nz = self._labels.shape[2]
        if not 0 <= k < nz:
            raise MaskSessionError(f"slice_index {k} is outside the volume (0..{nz - 1})")
        return k

    def _check_point(self, point: Any, name: str) -> tuple[int, int]:
        try:
            i, j = point
        except (TypeError, ValueError):
            raise MaskSessionError(f"{name} must be a pair (i, j) of voxel indices, got "
                                   f"{point!r}") from None
        i, j = _as_int(i, f"{name}[0]"), _as_int(j, f"{name}[1]")
        nx, ny = self._labels.shape[:2]
        if not (0 <= i < nx and 0 <= j < ny):
            raise MaskSessionError(f"{name} ({i}, {j}) is outside the slice (i in 0..{nx - 1},"
                                   f" j in 0..{ny - 1})")
        return i, j

    @staticmethod
    def _check_radius(radius: Any) -> float:
        if isinstance(radius, bool) or not isinstance(radius, numbers.Real):
            raise MaskSessionError(f"radius must be a positive number of voxels, got "
                                   f"{radius!r}")
        r = float(radius)
        if not (math.isfinite(r) and r > 0):
            raise MaskSessionError(f"radius must be positive and finite (voxels), got {radius}")
        return r

    @staticmethod
    def _check_label(label: Any) -> int:
        lab = _as_int(label, "label")
        if lab not in _VALID_LABELS:
            raise MaskSessionError(f"label {lab} is neither background (0) nor in the label "
                                   "table (qmri_kernels.labels.LABELS)")
        return lab

    # --------------------------------------------------------------------------- edits

    def paint(self, slice_index: int, center: tuple[int, int], radius: float,
              label: int) -> int:
        """Set a disc of slice ``slice_index`` to ``label``.

        Parameters
        ----------
        slice_index : int
            Slice k, 0 ≤ k < nz.
        center : (int, int)
            Voxel (i, j) of the disc centre, inside the slice.
        radius : float
            Radius in voxels (> 0): voxels with di² + dj² ≤ radius² are painted; radius 1
            paints the centre and its four neighbours. The disc is clipped to the slice.
        label : int
            0 (background) or an index of :data:`qmri_kernels.labels.LABELS`.

        Returns
        -------
        int
            Number of voxels whose label changed.

        Raises
        ------
        MaskSessionError
            Slice or centre outside the volume, radius not positive, unknown label.

        Examples
        --------
        Only the bounding box of the disc is touched; undo restores the old values:

        >>> s = MaskSession._blank((9, 9, 2))
        >>> s.paint(1, center=(4, 4), radius=2, label=31)
        13
        >>> s.undo(), int(s.labels.sum())
        (13, 0)
        """
        k = self._check_slice(slice_index)
        ci, cj = self._check_point(center, "center")
        r = self._check_radius(radius)
        lab = self._check_label(label)
        return self._disc("paint", k, ci, cj, r, lab)

    def erase(self, slice_index: int, center: tuple[int, int], radius: float) -> int:
        """Set a disc of slice ``slice_index`` to background (0); see :meth:`paint`.

        Parameters
        ----------
        slice_index : int
            Slice k, 0 ≤ k < nz.
        center : (int, int)
            Voxel (i, j) of the disc centre, inside the slice.
        radius : float
            Radius in voxels (> 0): voxels with di² + dj² ≤ radius² are erased; the disc
            is clipped to the slice.

        Returns
        -------
        int
            Number of voxels whose label changed.

        Raises
        ------
        MaskSessionError
            Slice or centre outside the volume, radius not positive.
        """
        k = self._check_slice(slice_index)
        ci, cj = self._check_point(center, "center")
        r = self._check_radius(radius)
        return self._disc("erase", k, ci, cj, r, 0)

    def _disc(self, op: str, k: int, ci: int, cj: int, r: float, lab: int) -> int:
        nx, ny = self._labels.shape[:2]
        ri = int(math.floor(r))
        i0, i1 = max(ci - ri, 0), min(ci + ri + 1, nx)
        j0, j1 = max(cj - ri, 0), min(cj + ri + 1, ny)
        di = np.arange(i0, i1)[:, None] - ci
        dj = np.arange(j0, j1)[None, :] - cj
        box = self._labels[i0:i1, j0:j1, k]
        sel = (di * di + dj * dj <= r * r) & (box != lab)
        ii, jj = np.nonzero(sel)
        index = np.ravel_multi_index((ii + i0, jj + j0, np.full(ii.size, k)),
                                     self._labels.shape)
        return self._apply(op, k, lab, (ci, cj), r, index)

    def fill(self, slice_index: int, seed: tuple[int, int], label: int) -> int:
        """Fill the enclosed background hole around ``seed`` in one slice with ``label``.

        Parameters
        ----------
        slice_index : int
            Slice k.
        seed : (int, int)
            A background voxel (i, j) inside the hole.
        label : int
            A label of the table (not 0).

        Returns
        -------
        int
            Number of voxels filled.

        Raises
        ------
        MaskSessionError
            Slice or seed outside the volume, unknown label or label 0, a seed that is not
            background, or a background component that touches the slice border (not an
            enclosed hole: filling it would label the outside of the thigh).
        """
        k = self._check_slice(slice_index)
        si, sj = self._check_point(seed, "seed")
        lab = self._check_label(label)
        if lab == 0:
            raise MaskSessionError("fill needs a label, not background (0); use erase")
        plane = self._labels[:, :, k]
        if plane[si, sj] != 0:
            raise MaskSessionError(f"seed ({si}, {sj}) of slice {k} has label "
                                   f"{int(plane[si, sj])}, not background: fill fills holes")
        comp, _ = ndimage.label(plane == 0)     # 2-D default structure: 4-connectivity
        hole = comp == comp[si, sj]
        if hole[0].any() or hole[-1].any() or hole[:, 0].any() or hole[:, -1].any():
            raise MaskSessionError(f"the background around seed ({si}, {sj}) of slice {k} "
                                   "reaches the slice border: it is not an enclosed hole")
        ii, jj = np.nonzero(hole)
        index = np.ravel_multi_index((ii, jj, np.full(ii.size, k)), self._labels.shape)
        return self._apply("fill", k, lab, (si, sj), None, index)

    def _apply(self, op: str, k: int, lab: int, center: tuple[int, int],
               radius: float | None, index: np.ndarray) -> int:
        n = int(index.size)
        if n == 0:
            return 0
        flat = self._labels.reshape(-1)          # a view: the volume is C-contiguous
        old = flat[index].copy()
        flat[index] = lab
        rad = None if radius is None else (int(radius) if float(radius).is_integer()
                                           else float(radius))
        record = {"operation": op, "slice": k, "label": lab, "center": [int(center[0]),
                                                                        int(center[1])],
                  "radius": rad, "voxels_changed": n, "time": _now(), "reader": self.reader}
        change = _Change(record, index.astype(np.int64), old, lab)
        if self._group is not None:
            self._group.append(change)
        else:
            self._undo.append([change])
        self._redo.clear()
        return n

    @contextlib.contextmanager
    def stroke(self) -> Iterator["MaskSession"]:
        """Group the edits made inside the ``with`` block into one undo step.

        A drag of the brush paints many discs; undo should take the whole stroke back.
        Nested strokes join the outermost one; an empty stroke adds no undo step.

        Yields
        ------
        MaskSession
            This session, to edit inside the block.

        Examples
        --------
        >>> s = MaskSession._blank((9, 9, 1))
        >>> with s.stroke():
        ...     s.paint(0, (2, 2), 1, 31) + s.paint(0, (6, 6), 1, 31)
        10
        >>> s.undo()
        10
        """
        if self._group is not None:           # nested: part of the outer stroke
            yield self
            return
        self._group = []
        try:
            yield self
        finally:
            group, self._group = self._group, None
            if group:
                self._undo.append(group)

    def undo(self) -> int:
        """Revert the latest edit (or stroke).

        Returns
        -------
        int
            Number of voxels restored; 0 if there was nothing to undo.
        """
        if not self._undo or self._group is not None:
            return 0
        group = self._undo.pop()
        flat = self._labels.reshape(-1)
        for change in reversed(group):
            flat[change.index] = change.old
        self._redo.append(group)
        return sum(int(c.index.size) for c in group)

    def redo(self) -> int:
        """Re-apply the latest undone edit (or stroke).

        Returns
        -------
        int
            Number of voxels changed; 0 if there was nothing to redo.
        """
        if not self._redo or self._group is not None:
            return 0
        group = self._redo.pop()
        flat = self._labels.reshape(-1)
        for change in group:
            flat[change.index] = change.new
        self._undo.append(group)
        return sum(int(c.index.size) for c in group)

    # ------------------------------------------------------------------------ overlap

    def dice(self) -> dict[str, float]:
        """Dice overlap of each muscle with the network's labels.

        Dice = 2 |A ∩ B| / (|A| + |B|) (Dice 1945, Ecology 26:297) of the voxels of one
        muscle label in the current labels (A) and in ``labels_auto`` (B), for every muscle
        label present in either.

        Returns
        -------
        dict of str to float
            By label abbreviation (``"RF_L"``), in label order; 1.0 = unchanged.
        """
        out: dict[str, float] = {}
        cur, auto = self._labels.reshape(-1), self._auto.reshape(-1)
        n_cur = np.bincount(cur, minlength=256)
        n_auto = np.bincount(auto, minlength=256)
        n_both = np.bincount(cur[cur == auto], minlength=256)
        for idx in _MUSCLE_INDICES:
            total = int(n_cur[idx] + n_auto[idx])
            if total:
                out[label_by_index(idx).abbreviation] = 2.0 * float(n_both[idx]) / total
        return out

    # --------------------------------------------------------------------------- saving

    def save(self) -> Path:
        """Write the reader's labels (``labels_<reader>``) atomically.

        The NIfTI (int16, the T2-weighted affine), its ``dseg.tsv`` label table and a JSON
        sidecar are written all-or-nothing by :func:`qmri_kernels.derivatives.write_maps`.
        The sidecar holds ``Reader``, ``StartedFrom``, ``Sources`` (the T2-weighted image and
        the network's labels), ``EditLog`` (:attr:`edit_log`: every edit in effect since the
        network's labels, entries with :data:`EDIT_LOG_KEYS`, ISO 8601 UTC times) and
        ``DiceToAuto`` (:meth:`dice`). Only this reader's file is written.

        Returns
        -------
        Path
            The NIfTI file (:attr:`path`).

        Raises
        ------
        MaskSessionError
            If the derivatives cannot be written (the message says why).
        """
        root = Path(self._manifest.derivatives)
        spec = D.label_spec(self.reader)
        if self.reader.lower() == "auto":      # guarded at open; never overwrite the network
            raise MaskSessionError("reader 'auto' is the network; readers save under their id")
        raw = getattr(self._manifest, "rawdata", None)
        if raw is not None and self._image_path is not None:
            D.write_dataset_files(root, raw=raw)   # link the raw dataset: bids:raw:... URIs
        sources = [D.bids_uri(root, D.map_path(root, self.subject, "labels_auto"))]
        if self._image_path is not None:
            sources.insert(0, D.bids_uri(root, self._image_path))
        sidecar = {
            "Reader": self.reader,
            "StartedFrom": self.started_from,
            "Sources": sources,
            "EditLog": self.edit_log,
            "DiceToAuto": self.dice(),
            "DiceDefinition": "2|A∩B|/(|A|+|B|) of each muscle label, this reader (A) vs "
                              "the network's labels_auto (B)",
            "BiopsySite": {"muscle": self.biopsy_muscle, "side": self.biopsy_side},
        }
        if self._image_path is not None:
            sidecar["SpatialReference"] = D.bids_uri(root, self._image_path)
        try:
            out = D.write_maps(root, self.subject,
                               {spec: (self._labels, self._affine, sidecar)})[spec.name]
        except (D.DerivativesError, OSError) as exc:
            raise MaskSessionError(f"could not save {spec.name} of sub-{self.subject}: "
                                   f"{exc}") from exc
        self._saved = self._labels.copy()
        return out

    # ---------------------------------------------------------------------------- stats

    def load_maps(self, names: tuple[str, ...] = STATS_MAPS
                  ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """The quantitative maps on disk among ``names`` (read once, then cached).

        Parameters
        ----------
        names : tuple of str
            Map names of :mod:`qmri_kernels.derivatives` (default :data:`STATS_MAPS`:
            ``"pdff"`` and ``"water_t2"``).

        Returns
        -------
        dict of str to (ndarray, ndarray)
            ``name -> (data, affine)`` of the maps that exist (SI units, NaN outside the
            fit); maps not yet computed are left out.
        """
        if self._maps_cache is None:
            self._maps_cache = {}
        root = self._manifest.derivatives
        for name in names:
            if name not in self._maps_cache and D.map_exists(root, self.subject, name):
                data, affine, _ = D.read_map(root, self.subject, name)
                data.setflags(write=False)
                affine.setflags(write=False)
                self._maps_cache[name] = (data.view(), affine.view())   # cannot be unlocked
        return {n: self._maps_cache[n] for n in names if n in self._maps_cache}

    def stats(self, maps: Mapping[str, Any] | None = None, *, erode_mm: float | None = None,
              labels: str = "current") -> dict[str, Any]:
        """Mean PDFF and water T2 of the biopsied muscle inside the current labels.

        The biopsied muscle's label is carried from the T2-weighted grid onto each map's
        grid in world coordinates and eroded in-plane exactly as the pipeline's ROI table
        does it (:func:`qmri_kernels.masks.transfer_labels`, shape-based, then
        :func:`qmri_kernels.masks.erode_labels` by
        :data:`qmri_kernels.pipeline.ROI_ERODE_MM`), but only that one label and only
        within its bounding box (a few voxels wider): tens of milliseconds instead of a
        second for the whole label volume. The result equals the full transfer except where
        the muscle's interpolated shape would overlap a neighbour's in a slab gap (the
        deeper one wins there in the full transfer; for the cohort's biopsied muscles no
        voxel differs).

        Parameters
        ----------
        maps : mapping of str to (array, affine) or image, optional
            Maps in SI units keyed by library name: ``"pdff"`` (MEGRE grid) and
            ``"water_t2"`` (MESE grid); others of :data:`qmri_kernels.masks.MAP_UNITS` are
            measured too, maps of the derivatives table without a unit there (``"water"``,
            residuals) are skipped, so ``{**fat_water.maps, **t2.maps}`` of the pipeline's
            stages can be passed as they are (a stage result itself too). Default: those on
            disk (:meth:`load_maps`).
        erode_mm : float, optional
            In-plane erosion of the carried label (mm); default the pipeline's
            :data:`~qmri_kernels.pipeline.ROI_ERODE_MM` (1.7 mm, one pixel of the cohort's
            images); 0 measures the carried label as it is.
        labels : {"current", "auto"}
            Measure the current labels, or the network's (for comparison).

        Returns
        -------
        dict
            ``muscle``, ``side``, ``label``, ``abbreviation``; for each map its mean in the
            table unit (``ff_percent``, ``water_t2_ms``; NaN if the map is missing or the
            ROI is empty) and ``n_voxels_<name>`` (finite voxels used). ``ff_percent`` and
            ``water_t2_ms`` are always present.

        Raises
        ------
        MaskSessionError
            An unknown map name, a map not 3-D, or without an affine; no slab thickness;
            ``labels`` not "current" or "auto"; a negative ``erode_mm``.
        """
        if labels not in ("current", "auto"):
            raise MaskSessionError(f"labels must be 'current' or 'auto', got {labels!r}")
        if maps is None:
            maps = self.load_maps()
        if erode_mm is None:
            from ..pipeline.stages import ROI_ERODE_MM     # the pipeline's setting
            erode_mm = ROI_ERODE_MM
        erode_mm = float(erode_mm)
        if not (math.isfinite(erode_mm) and erode_mm >= 0):
            raise MaskSessionError(f"erode_mm must be a non-negative number of mm, got "
                                   f"{erode_mm}")
        idx = self.biopsy_label
        out: dict[str, Any] = {"muscle": self.biopsy_muscle, "side": self.biopsy_side,
                               "label": idx,
                               "abbreviation": label_by_index(idx).abbreviation,
                               "ff_percent": float("nan"), "water_t2_ms": float("nan")}
        src = self.grid
        mask = (self._labels if labels == "current" else self._auto) == idx
        rois: dict[tuple, np.ndarray] = {}      # one transfer per target grid
        for name, vol in getattr(maps, "maps", maps).items():
            if name not in MAP_UNITS:
                if name in D.MAPS:                 # a known map without a table unit
                    continue
                raise MaskSessionError(f"map {name!r} has no unit; use one of "
                                       f"{sorted(MAP_UNITS)}")
            data, affine = _map_volume(vol, name)
            key = (data.shape, np.round(affine, 6).tobytes())
            if key not in rois:
                rois[key] = _transfer_one(mask, src, data.shape, affine, erode_mm)
            values = data[rois[key]]
            values = values[np.isfinite(values)]
            column, factor = MAP_UNITS[name]
            out[column] = float(values.mean(dtype=np.float64) * factor) if values.size \
                else float("nan")
            out[f"n_voxels_{name}"] = int(values.size)
        return out

    # ------------------------------------------------------------------------- helpers

    @classmethod
    def _blank(cls, shape: tuple[int, int, int], reader: str = "R1") -> "MaskSession":
        """A session on an empty volume with an identity affine (for examples)."""
        z = np.zeros(shape, np.int16)

        class _M:
            derivatives = Path(".")

        return cls(manifest=_M(), subject="00", reader=reader, image=z.astype(np.float32),
                   affine=np.eye(4), slice_thickness=1.0, labels=z, auto_labels=z,
                   started_from="labels_auto", prior_log=[], biopsy_muscle="RF",
                   biopsy_side="left")

    def __repr__(self) -> str:
        return (f"MaskSession(subject={self.subject!r}, reader={self.reader!r}, "
                f"shape={self.shape}, edits={sum(len(g) for g in self._undo)}, "
                f"started_from={self.started_from!r})")


# ----------------------------------------------------------------------- module helpers

def _check_reader(reader: Any) -> str:
    if not isinstance(reader, str) or not re.fullmatch(r"[A-Za-z0-9]+", reader):
        raise MaskSessionError(f"reader {reader!r} must be letters and digits, e.g. 'R1' (it "
                               "becomes the BIDS desc entity of the saved labels)")
    if reader.lower() == "auto":
        raise MaskSessionError("reader 'auto' names the network's labels, which a reader never "
                               "overwrites; open the session as a reader, e.g. 'R1'")
    return reader


def _load_t2w(manifest: Any, subject: str):
    from ..dicom import DicomError, load_series
    root = manifest.rawdata                 # the ingested images: the raw BIDS dataset
    try:
        return load_series(root, subject, "t2w")
    except DicomError:
        pass
    try:    # not ingested yet: the pipeline's ingest stage (reads the manifest's DICOM)
        from ..pipeline import stages
        stages.ensure_ingested(manifest, subject)
        return load_series(root, subject, "t2w")
    except (DicomError, OSError, ValueError) as exc:    # ValueError: StageInputError
        raise MaskSessionError(f"sub-{subject}: no T2-weighted image to review the labels on: "
                               f"{exc}") from exc


def _checked_labels(data: np.ndarray, affine: np.ndarray, shape: tuple, t2w_affine: np.ndarray,
                    what: str) -> np.ndarray:
    try:
        check_same_grid(data.shape, affine, shape, t2w_affine, name_a=what,
                        name_b="the T2-weighted image")
    except GridMismatchError as exc:
        raise MaskSessionError(str(exc)) from None
    if data.ndim != 3:
        raise MaskSessionError(f"{what}: labels must be 3-D, got shape {data.shape}")
    bad = sorted(set(np.unique(data).tolist()) - _VALID_LABELS)
    if bad:
        raise MaskSessionError(f"{what}: values {bad[:10]} are not in the label table")
    return data.astype(np.int16)


def _read_labels(root: Path, subject: str, name: str, shape: tuple, affine: np.ndarray, *,
                 with_sidecar: bool = False):
    path = D.map_path(root, subject, name)
    if not path.is_file():
        return None
    try:
        data, aff, sidecar = D.read_map(root, subject, name)
    except FileNotFoundError as exc:
        raise MaskSessionError(f"{path}: saved labels without their sidecar ({exc}); restore "
                               "or remove the file") from None
    labels = _checked_labels(data, aff, shape, affine, f"{path.name}")
    return (labels, sidecar) if with_sidecar else labels


def _map_volume(vol: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    if hasattr(vol, "affine") and hasattr(vol, "dataobj"):
        data, affine = np.asarray(vol.dataobj), np.asarray(vol.affine, float)
    elif isinstance(vol, tuple) and len(vol) == 2:
        data, affine = np.asarray(vol[0]), np.asarray(vol[1], float)
    else:
        raise MaskSessionError(f"map {name!r} must be an (array, affine) pair or a nibabel "
                               "image: its grid is taken from the affine")
    if data.ndim != 3 or affine.shape != (4, 4):
        raise MaskSessionError(f"map {name!r} must be a 3-D volume with a (4, 4) affine, got "
                               f"shapes {data.shape} and {affine.shape}")
    return data, affine


def _shift(affine: np.ndarray, i0: int, j0: int) -> np.ndarray:
    """Affine of the sub-grid whose voxel (0, 0, k) is voxel (i0, j0, k)."""
    t = np.eye(4)
    t[0, 3], t[1, 3] = i0, j0
    return np.asarray(affine, float) @ t


def _transfer_one(mask: np.ndarray, src: Grid, shape: tuple[int, ...], affine: np.ndarray,
                  erode_mm: float) -> np.ndarray:
    """Where one label (``mask`` on ``src``) lands on the target grid, as a bool volume.

    :func:`transfer_labels` on crops of both grids: the source cropped to the label's
    in-plane bounding box plus :data:`_CROP_MARGIN` voxels, the target to the region that
    box covers (plus the margin). Shape-based interpolation only labels points within a
    voxel of the label on a neighbouring slab, and erosion treats the outside of the crop
    as it treats the background around it, so the crop changes nothing.
    """
    out = np.zeros(tuple(int(s) for s in shape[:3]), dtype=bool)
    cols = mask.any(axis=2)
    if not cols.any():
        return out
    nx, ny, nz = src.shape
    ii, jj = np.nonzero(cols)
    m = _CROP_MARGIN
    i0, i1 = max(int(ii.min()) - m, 0), min(int(ii.max()) + m + 1, nx)
    j0, j1 = max(int(jj.min()) - m, 0), min(int(jj.max()) + m + 1, ny)
    sub_src = Grid((i1 - i0, j1 - j0, nz), _shift(src.affine, i0, j0), src.slice_thickness)
    # the source crop's corners (slab faces included) in target voxel coordinates
    half = src.slice_thickness / (2.0 * float(np.linalg.norm(src.affine[:3, 2])))
    corners = np.array([[a, b, c, 1.0] for a in (i0 - 0.5, i1 - 0.5)
                        for b in (j0 - 0.5, j1 - 0.5) for c in (-half, nz - 1 + half)])
    uvw = (np.linalg.inv(affine) @ src.affine @ corners.T).T
    mx, my = out.shape[:2]
    t0 = max(int(np.floor(uvw[:, 0].min())) - m, 0)
    t1 = min(int(np.ceil(uvw[:, 0].max())) + m + 1, mx)
    u0 = max(int(np.floor(uvw[:, 1].min())) - m, 0)
    u1 = min(int(np.ceil(uvw[:, 1].max())) + m + 1, my)
    if t1 <= t0 or u1 <= u0:
        return out
    sub_dst = Grid((t1 - t0, u1 - u0, out.shape[2]), _shift(affine, t0, u0),
                   float(np.linalg.norm(np.asarray(affine)[:3, 2])) or 1.0)
    crop = mask[i0:i1, j0:j1, :].astype(np.int16)
    moved = transfer_labels(crop, sub_src, sub_dst, method="shape", erode_mm=erode_mm)
    out[t0:t1, u0:u1, :] = moved.labels == 1
    return out
