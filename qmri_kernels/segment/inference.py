"""Segment a T2-weighted volume with the shipped (or a user's) network weights.

Weights are a ``state_dict`` file read with ``torch.load(weights_only=True)`` (no code is
unpickled) next to a JSON sidecar holding its SHA-256, the network and input configuration
and the training log (:mod:`qmri_kernels.phantom.train_segmenter`). The default weights ship inside the
package; nothing is downloaded.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ._netgrid import from_canonical
from ._weights import DEFAULT_NAME, WEIGHTS_DIR, sha256_of
from .augment import SIDE_SWAP
from .classes import CLASS_LABELS, classes_to_labels
from .network import UNet
from .postprocess import postprocess as _postprocess
from .preprocess import logits_to_image_grid, network_input

__all__ = ["DEFAULT_WEIGHTS", "WeightsError", "Segmenter", "load_segmenter", "segment_t2w",
           "read_sidecar"]

#: The weights shipped with the package.
DEFAULT_WEIGHTS: Path = WEIGHTS_DIR / f"{DEFAULT_NAME}.pt"


class WeightsError(ValueError):
    """Missing, corrupted or incompatible network weights."""


def read_sidecar(weights: str | Path | None = None) -> dict:
    """The JSON sidecar of a weights file (``<stem>.json`` beside it).

    Parameters
    ----------
    weights : str or Path, optional
        The ``.pt`` file (it need not exist; only the sidecar is read). None:
        :data:`DEFAULT_WEIGHTS`.

    Returns
    -------
    dict
        As :mod:`qmri_kernels.phantom.train_segmenter` writes it: ``sha256``,
        ``network`` (constructor arguments), ``input`` (see
        :data:`~qmri_kernels.segment.NETWORK_INPUT`), ``classes``, ``training`` and
        the per-epoch ``log``.

    Raises
    ------
    WeightsError
        If the sidecar is missing or not valid JSON.
    """
    path = Path(DEFAULT_WEIGHTS if weights is None else weights).with_suffix(".json")
    if not path.is_file():
        raise WeightsError(f"weights sidecar {path} does not exist; train with "
                           "`python -m qmri_kernels.phantom.train_segmenter --out <dir>`, which writes "
                           "the weights and their sidecar together")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise WeightsError(f"weights sidecar {path} is not valid JSON: {exc}") from exc


class Segmenter:
    """A loaded network and its input configuration.

    Parameters
    ----------
    weights : str or Path, optional
        A ``.pt`` state_dict with its ``.json`` sidecar (default :data:`DEFAULT_WEIGHTS`).
    verify : bool
        Check the file's SHA-256 against the sidecar.

    Raises
    ------
    WeightsError
        If the file is missing, its hash does not match, or it does not fit the network the
        sidecar describes.
    """

    def __init__(self, weights: str | Path | None = None, *, verify: bool = True) -> None:
        path = Path(DEFAULT_WEIGHTS if weights is None else weights)
        if not path.is_file():
            raise WeightsError(f"weights file {path} does not exist")
        sidecar = read_sidecar(path)
        if verify:
            digest = sha256_of(path)
            if digest != sidecar.get("sha256"):
                raise WeightsError(f"weights file {path} has SHA-256 {digest} but its sidecar "
                                   f"says {sidecar.get('sha256')}: the file was changed or "
                                   "corrupted")
        if list(sidecar["classes"]["labels"]) != list(CLASS_LABELS):
            raise WeightsError(f"weights {path} predict labels {sidecar['classes']['labels']}, "
                               f"not this label table's {list(CLASS_LABELS)}")
        net = {k: v for k, v in sidecar["network"].items() if k != "architecture"}
        model = UNet(**net)
        state = torch.load(path, map_location="cpu", weights_only=True)
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:
            raise WeightsError(f"weights {path} do not fit the network {net}: {exc}") from exc
        model.eval()
        self.path = path
        self.sidecar = sidecar
        self.model = model

    @property
    def input_config(self) -> dict:
        """Input geometry the network was trained with (a copy)."""
        return dict(self.sidecar["input"])

    def predict_logits(self, volume: Any, affine: Any, *, mirror: bool = True,
                       batch: int = 16) -> tuple[torch.Tensor, dict]:
        """Class log-probabilities on the canonical image grid, (nz, n_classes, nx, ny).

        With ``mirror`` (test-time augmentation, as in nnU-Net; Isensee et al. 2021, Nat
        Methods 18:203), the slices are also segmented mirrored left–right — the mirrored
        image is a valid anatomy whose right muscles are the original's left ones, as in
        training — and the two softmax outputs are averaged after undoing the mirror and
        swapping the sides' classes.

        Parameters
        ----------
        volume : (nx, ny, nz) array-like
            Magnitude image of an axial stack, any axis order/direction.
        affine : (4, 4) array-like
            Voxel-to-world (RAS mm) affine; it fixes the patient's left and right.
        mirror : bool
            Average with the left–right mirrored prediction (doubles the run time).
        batch : int
            Slices per forward pass (memory vs speed; the result does not depend on it).

        Returns
        -------
        logits : (nz, n_classes, nx, ny) tensor of float32
            Log of the (averaged) softmax probabilities, on the volume's pixels in the
            canonical orientation (axis 0 towards the left, axis 1 posterior), floored at
            log(1e-12).
        context : dict
            From :func:`~qmri_kernels.segment.network_input`; ``context["original"]``
            brings arrays back to the input's orientation.

        Raises
        ------
        ValueError
            If ``volume`` is not 3-D, ``affine`` is not (4, 4), or the volume has
            non-finite values or no positive intensity.
        """
        x, ctx = network_input(volume, affine, self.sidecar["input"])
        swap = torch.from_numpy(SIDE_SWAP)
        outs = []
        with torch.inference_mode():
            for s in range(0, x.shape[0], batch):
                xb = x[s:s + batch]
                prob = torch.softmax(self.model(xb), dim=1)
                if mirror:
                    xm = torch.cat([xb[:, :1].flip(2), xb[:, 1:]], dim=1)
                    pm = torch.softmax(self.model(xm), dim=1).flip(2)[:, swap]
                    prob = 0.5 * (prob + pm)
                outs.append(logits_to_image_grid(torch.log(prob.clamp_min(1e-12)), ctx))
        return torch.cat(outs), ctx

    def segment(self, volume: Any, affine: Any, *, postprocess: bool = True,
                mirror: bool = True, threads: int | None = None) -> np.ndarray:
        """Label volume of a T2-weighted series.

        Parameters
        ----------
        volume : (nx, ny, nz) array-like
            Magnitude image of an axial stack, any axis order/direction.
        affine : (4, 4) array-like
            Voxel-to-world (RAS mm) affine; it fixes the patient's left and right.
        postprocess : bool
            Apply :func:`~qmri_kernels.segment.postprocess` (largest component per muscle,
            hole filling).
        mirror : bool
            Mirroring test-time augmentation (see :meth:`predict_logits`).
        threads : int, optional
            Torch intra-op threads for this call (restored afterwards).

        Returns
        -------
        (nx, ny, nz) ndarray of int16
            Label indices of :mod:`qmri_kernels.labels`, in the input's orientation.
        """
        previous = torch.get_num_threads()
        if threads is not None:
            torch.set_num_threads(int(threads))
        try:
            logits, ctx = self.predict_logits(volume, affine, mirror=mirror)
        finally:
            torch.set_num_threads(previous)
        classes = logits.argmax(dim=1).numpy()                # (nz, nx, ny), canonical
        labels = classes_to_labels(np.moveaxis(classes, 0, 2))
        labels = from_canonical(labels, ctx["original"]).astype(np.int16)
        return _postprocess(labels) if postprocess else labels


def load_segmenter(weights: str | Path | None = None, *, verify: bool = True) -> Segmenter:
    """Load network weights (default: the shipped ones); see :class:`Segmenter`.

    Parameters
    ----------
    weights : str or Path, optional
        A ``.pt`` state_dict with its ``.json`` sidecar; None: :data:`DEFAULT_WEIGHTS`.
    verify : bool
        Check the file's SHA-256 against the sidecar.

    Returns
    -------
    Segmenter
        The network in evaluation mode, on the CPU.

    Raises
    ------
    WeightsError
        If the file or its sidecar is missing, the hash does not match, or the weights
        do not fit the network or label table the sidecar describes.
    """
    return Segmenter(weights, verify=verify)


def segment_t2w(volume: Any, affine: Any, *, weights: str | Path | None = None,
                postprocess: bool = True, threads: int | None = None) -> np.ndarray:
    """Segment a T2-weighted volume in one call (loads the weights each time).

    Parameters
    ----------
    volume : (nx, ny, nz) array-like
        Magnitude image of an axial stack, any axis order/direction.
    affine : (4, 4) array-like
        Voxel-to-world (RAS mm) affine; it fixes the patient's left and right.
    weights : str or Path, optional
        Weights file (verified against its sidecar); None: :data:`DEFAULT_WEIGHTS`.
    postprocess : bool
        Apply :func:`~qmri_kernels.segment.postprocess`.
    threads : int, optional
        Torch intra-op threads for this call (restored afterwards); None: unchanged.

    Returns
    -------
    (nx, ny, nz) ndarray of int16
        Label indices of :mod:`qmri_kernels.labels`, in the input's orientation (with
        mirroring test-time augmentation, see :meth:`Segmenter.predict_logits`).

    Raises
    ------
    WeightsError
        As :func:`load_segmenter`.
    ValueError
        If ``volume`` is not 3-D, ``affine`` is not (4, 4) or the volume has non-finite
        values or no positive intensity.
    """
    return Segmenter(weights).segment(volume, affine, postprocess=postprocess,
                                      threads=threads)
