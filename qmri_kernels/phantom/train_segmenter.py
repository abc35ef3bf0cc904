"""Train the thigh-muscle U-Net on fresh phantom subjects: ``python -m qmri_kernels.phantom.train_segmenter``.

Deterministic on CPU: one seed drives the phantom noise, the augmentation and the weight
initialisation (``torch.manual_seed``), ``torch.use_deterministic_algorithms(True)`` and a
fixed thread count; the same command gives the same weights. Training subjects use phantom
seeds disjoint from the synthetic cohort's (:mod:`qmri_kernels.phantom.training_slices`). Writes
``<out>/<name>.pt`` (a ``state_dict``, loadable with ``torch.load(weights_only=True)``) and
``<out>/<name>.json``: the file's SHA-256, the network and input configuration, the whole
training configuration and the per-epoch log (loss, validation Dice).

The defaults (56 training subjects × 9 slices, 30 epochs of batch 8, 4 validation subjects)
are the shipped weights' configuration: about 15 minutes on 2 CPU cores (measured). On a machine
shared with other jobs, start it with ``OMP_WAIT_POLICY=PASSIVE`` so that idle OpenMP
threads sleep instead of spinning (same result, several times faster under contention).

Loss: cross-entropy plus soft Dice (Milletari et al. 2016, 3DV, doi:10.1109/3DV.2016.79),
on the logits upsampled ×2 to the image's own resolution. Optimiser: AdamW (Loshchilov &
Hutter 2019, ICLR) with a one-cycle learning-rate schedule (Smith & Topin 2019, SPIE 11006).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..labels import MUSCLES
from ..segment._netgrid import coordinate_channels, resample, sampling_grid
from ..segment._weights import DEFAULT_NAME, WEIGHTS_DIR, sha256_of
from ..segment.augment import Augmentation, augment_intensity, geometry_grids, sample_batch
from ..segment.classes import CLASS_LABELS, N_CLASSES, class_names
from .training_slices import TRAIN_SEED_START, VAL_SEED_START, SliceSet, phantom_slices
from ..segment.network import UNet, count_parameters
from ..segment.preprocess import NETWORK_INPUT

__all__ = ["train", "main"]

def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m qmri_kernels.phantom.train_segmenter",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=WEIGHTS_DIR, help="output directory")
    p.add_argument("--name", default=DEFAULT_NAME, help="file stem of weights and sidecar")
    p.add_argument("--n-train", type=int, default=56, help="training subjects")
    p.add_argument("--n-val", type=int, default=4, help="validation subjects")
    p.add_argument("--train-seed-start", type=int, default=TRAIN_SEED_START)
    p.add_argument("--val-seed-start", type=int, default=VAL_SEED_START)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lr", type=float, default=5e-3, help="peak learning rate")
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--base-channels", type=int, default=12)
    p.add_argument("--depth", type=int, default=4)
    p.add_argument("--net-spacing-mm", type=float, default=NETWORK_INPUT["net_spacing_mm"],
                   help="pixel size of the network's grid (mm); its shape is chosen to cover "
                        "the default grid's field")
    p.add_argument("--seed", type=int, default=0, help="master seed")
    p.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    p.add_argument("--no-augment", action="store_true", help="switch augmentation off")
    return p


def _soft_dice_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 − mean soft Dice over the foreground classes present in the batch.

    Intersections are gathered per class (``index_add``) instead of through a one-hot
    tensor, which would be 27 × larger than the batch.
    """
    prob = torch.softmax(logits, dim=1)
    n_classes = logits.shape[1]
    flat = target.reshape(-1)
    inter = torch.zeros(n_classes, dtype=prob.dtype).index_add(
        0, flat, prob.gather(1, target[:, None]).reshape(-1))
    count = torch.bincount(flat, minlength=n_classes).to(prob.dtype)
    denom = prob.sum(dim=(0, 2, 3)) + count
    present = count[1:] > 0
    dice = (2 * inter[1:] + 1.0) / (denom[1:] + 1.0)
    return 1.0 - dice[present].mean() if bool(present.any()) else logits.sum() * 0.0


def _predict_classes(model: UNet, data: SliceSet, cfg: dict, batch: int = 16) -> np.ndarray:
    """Argmax classes on the slices' own grid (no augmentation, no post-processing)."""
    shape = data.images.shape[1:]
    net_shape = tuple(cfg["net_shape"])
    p = float(cfg["net_spacing_mm"])
    g_in = sampling_grid(shape, data.spacing, net_shape, (p, p))
    g_out = sampling_grid(net_shape, (p, p), shape, data.spacing)
    coords = coordinate_channels(net_shape, p, float(cfg["coord_scale_mm"]))
    out = np.empty(data.classes.shape, dtype=np.uint8)
    model.eval()
    with torch.inference_mode():
        for s in range(0, len(data.images), batch):
            img = resample(torch.from_numpy(data.images[s:s + batch, None]), g_in)
            x = torch.cat([img, coords.expand(img.shape[0], -1, -1, -1)], dim=1)
            logits = resample(model(x), g_out, padding_mode="border")
            out[s:s + batch] = logits.argmax(dim=1).numpy().astype(np.uint8)
    model.train()
    return out


def _validation_dice(pred: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    names = class_names()
    out = {}
    for c in range(1, N_CLASSES):
        a, b = pred == c, truth == c
        total = int(a.sum()) + int(b.sum())
        out[names[c]] = float("nan") if total == 0 else 2.0 * int((a & b).sum()) / total
    return out


def train(args: argparse.Namespace, log=print) -> dict:
    """Run the training described by ``args`` (the parsed command line); return the sidecar.

    Simulates the training and validation subjects (:func:`phantom_slices`), trains the
    :class:`~qmri_kernels.segment.network.UNet` deterministically and writes
    ``<args.out>/<args.name>.pt`` and ``.json``. Torch's intra-op thread count is set to
    ``args.threads`` for the run and restored afterwards.

    Parameters
    ----------
    args : argparse.Namespace
        The options of ``python -m qmri_kernels.phantom.train_segmenter`` (see ``--help``):
        ``out`` (Path), ``name``, ``n_train``, ``n_val``, ``train_seed_start``,
        ``val_seed_start``, ``epochs``, ``batch_size``, ``lr`` (peak learning rate),
        ``weight_decay``, ``base_channels``, ``depth``, ``net_spacing_mm`` (mm),
        ``seed``, ``threads``, ``no_augment``.
    log : callable of str, optional
        Receives one progress line per step and epoch (default :func:`print`).

    Returns
    -------
    dict
        The JSON sidecar written beside the weights: file name and SHA-256, parameter
        count, network and input configuration, class table, the training configuration
        and timings (s), and ``log``, one entry per epoch (loss, validation Dice per class
        and muscle mean).

    Raises
    ------
    ValueError
        If ``n_train``, ``n_val``, ``epochs`` or ``batch_size`` is below 1,
        ``net_spacing_mm`` is not positive, the training and validation seed ranges
        overlap, or a seed belongs to the synthetic cohort.
    """
    if args.n_train < 1 or args.n_val < 1 or args.epochs < 1 or args.batch_size < 1:
        raise ValueError("n_train, n_val, epochs and batch_size must be >= 1")
    t_start = time.perf_counter()
    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        return _train(args, log, t_start)
    finally:
        torch.set_num_threads(previous_threads)


def _train(args: argparse.Namespace, log, t_start: float) -> dict:
    cfg = dict(NETWORK_INPUT)
    if not args.net_spacing_mm > 0:
        raise ValueError(f"net_spacing_mm must be positive, got {args.net_spacing_mm}")
    if args.net_spacing_mm != cfg["net_spacing_mm"]:
        field = np.multiply(cfg["net_shape"], cfg["net_spacing_mm"])
        step = 2 ** args.depth                      # the U-Net halves the grid depth times
        shape = [int(step * np.ceil(f / args.net_spacing_mm / step)) for f in field]
        cfg.update(net_shape=shape, net_spacing_mm=float(args.net_spacing_mm))
    rng = np.random.default_rng([args.seed, 1])
    train_seeds = list(range(args.train_seed_start, args.train_seed_start + args.n_train))
    val_seeds = list(range(args.val_seed_start, args.val_seed_start + args.n_val))
    if set(train_seeds) & set(val_seeds):
        raise ValueError("training and validation seeds overlap")
    log(f"simulating {len(train_seeds)} training and {len(val_seeds)} validation subjects")
    train_set = phantom_slices(train_seeds, rng=np.random.default_rng([args.seed, 2]))
    val_set = phantom_slices(val_seeds, z_jitter_mm=0.0,
                             rng=np.random.default_rng([args.seed, 3]))
    t_data = time.perf_counter() - t_start
    log(f"  {len(train_set.images)} + {len(val_set.images)} slices in {t_data:.0f} s")

    model = UNet(3, N_CLASSES, args.base_channels, args.depth)
    n_par = count_parameters(model)
    log(f"U-Net: {n_par} parameters")
    images = torch.from_numpy(train_set.images)
    classes = torch.from_numpy(train_set.classes)
    n = len(images)
    steps_per_epoch = (n + args.batch_size - 1) // args.batch_size
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, pct_start=0.15,
                                                total_steps=args.epochs * steps_per_epoch)
    aug = None if args.no_augment else Augmentation()
    net_shape = tuple(cfg["net_shape"])
    p = float(cfg["net_spacing_mm"])
    coords = coordinate_channels(net_shape, p, float(cfg["coord_scale_mm"]))
    history = []
    t_train = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        order = rng.permutation(n)
        total, count = 0.0, 0
        for s in range(0, n, args.batch_size):
            idx = torch.from_numpy(order[s:s + args.batch_size])
            g_img, g_lab, mirrored = geometry_grids(rng, len(idx), images.shape[1:],
                                                    train_set.spacing, net_shape, p, aug)
            img, target = sample_batch(images[idx], classes[idx], g_img, g_lab, mirrored)
            if aug is not None:
                img = augment_intensity(img, rng, aug)
            x = torch.cat([img, coords.expand(len(idx), -1, -1, -1)], dim=1)
            logits = F.interpolate(model(x), scale_factor=2, mode="bilinear",
                                   align_corners=False)
            loss = F.cross_entropy(logits, target) + _soft_dice_loss(logits, target)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
            count += len(idx)
        pred = _predict_classes(model, val_set, cfg)
        dice = _validation_dice(pred, val_set.classes)
        muscles = [dice[f"{m}_{s}"] for m in MUSCLES for s in "RL"]
        entry = {"epoch": epoch, "loss": total / count,
                 "val_dice_muscle_mean": float(np.nanmean(muscles)),
                 "val_dice_rf": float(np.nanmean([dice["RF_R"], dice["RF_L"]])),
                 "val_dice_vl": float(np.nanmean([dice["VL_R"], dice["VL_L"]])),
                 "val_dice": dice, "elapsed_s": time.perf_counter() - t_start}
        history.append(entry)
        log(f"epoch {epoch:2d}/{args.epochs}  loss {entry['loss']:.4f}  val Dice muscles "
            f"{entry['val_dice_muscle_mean']:.3f}  RF {entry['val_dice_rf']:.3f}  "
            f"VL {entry['val_dice_vl']:.3f}  ({entry['elapsed_s']:.0f} s)")
    t_fit = time.perf_counter() - t_train

    args.out.mkdir(parents=True, exist_ok=True)
    weights = args.out / f"{args.name}.pt"
    torch.save(model.state_dict(), weights)
    sidecar = {
        "format": "qmri_kernels.segment weights v1",
        "weights_file": weights.name,
        "sha256": sha256_of(weights),
        "n_parameters": n_par,
        "network": {"architecture": "UNet", **model.config},
        "input": cfg,
        "classes": {"labels": list(CLASS_LABELS), "names": class_names()},
        "training": {
            "command": "python -m qmri_kernels.phantom.train_segmenter",
            "arguments": {k: str(v) if isinstance(v, Path) else v
                          for k, v in vars(args).items() if k != "out"},
            "train_seeds": [train_seeds[0], train_seeds[-1]],
            "val_seeds": [val_seeds[0], val_seeds[-1]],
            "n_train_slices": int(n), "n_val_slices": int(len(val_set.images)),
            "epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
            "weight_decay": args.weight_decay, "seed": args.seed, "threads": args.threads,
            "augmentation": None if aug is None else asdict(aug),
            "loss": "cross-entropy + soft Dice on ×2 upsampled logits",
            "optimiser": "AdamW, one-cycle schedule (pct_start 0.15)",
            "deterministic": True,
            "torch_version": torch.__version__, "numpy_version": np.__version__,
            "data_time_s": round(t_data, 1), "fit_time_s": round(t_fit, 1),
            "total_time_s": round(time.perf_counter() - t_start, 1),
        },
        "log": history,
    }
    (args.out / f"{args.name}.json").write_text(json.dumps(sidecar, indent=1) + "\n")
    log(f"wrote {weights} ({weights.stat().st_size / 1e6:.1f} MB) and its sidecar; total "
        f"{sidecar['training']['total_time_s']:.0f} s")
    return sidecar


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name; None reads :data:`sys.argv`.

    Returns
    -------
    int
        Exit status, 0 after the weights and sidecar were written (argparse exits with 2
        on a bad option; errors of :func:`train` propagate).
    """
    args = _parser().parse_args(argv)
    train(args, log=lambda msg: print(msg, flush=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
