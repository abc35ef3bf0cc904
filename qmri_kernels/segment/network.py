"""A compact 2-D U-Net for axial thigh slices.

Encoder–decoder with skip connections (Ronneberger, Fischer & Brox 2015, MICCAI, LNCS
9351:234–241, doi:10.1007/978-3-319-24574-4_28): at each level two 3×3 convolutions with
batch normalisation and ReLU; 2×2 max pooling down, 2×2 transposed convolution up. The input
has three channels: the slice intensity (normalised per volume) and the two in-plane world
coordinates of each pixel (CoordConv; Liu et al. 2018, NeurIPS), which make the patient's left
and right — fixed by the affine — directly available to every layer, so that side-specific
labels (right vs left rectus femoris) are learnable by a network whose receptive field does
not span both thighs.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["UNet", "count_parameters"]


class _DoubleConv(nn.Sequential):
    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__(
            nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
            nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True))


class UNet(nn.Module):
    """2-D U-Net.

    Parameters
    ----------
    in_channels : int
        Input channels (3: intensity and two coordinate channels).
    n_classes : int
        Output classes (27 for the thigh label table).
    base_channels : int
        Channels of the first level; doubled at each level down.
    depth : int
        Number of 2× down-samplings (input sides must be divisible by 2**depth).

    Notes
    -----
    ``forward`` takes (batch, in_channels, H, W) float32 and returns logits
    (batch, n_classes, H, W).
    """

    def __init__(self, in_channels: int = 3, n_classes: int = 27, base_channels: int = 16,
                 depth: int = 4) -> None:
        super().__init__()
        if in_channels < 1 or n_classes < 2 or base_channels < 1 or depth < 1:
            raise ValueError("in_channels, base_channels, depth must be >= 1 and "
                             "n_classes >= 2")
        self.config = {"in_channels": in_channels, "n_classes": n_classes,
                       "base_channels": base_channels, "depth": depth}
        chans = [base_channels * 2 ** d for d in range(depth + 1)]
        self.down = nn.ModuleList([_DoubleConv(in_channels, chans[0])] + [
            _DoubleConv(chans[d - 1], chans[d]) for d in range(1, depth + 1)])
        self.pool = nn.MaxPool2d(2)
        self.up = nn.ModuleList([nn.ConvTranspose2d(chans[d + 1], chans[d], 2, stride=2)
                                 for d in reversed(range(depth))])
        self.dec = nn.ModuleList([_DoubleConv(2 * chans[d], chans[d])
                                  for d in reversed(range(depth))])
        self.head = nn.Conv2d(chans[0], n_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of every pixel.

        Parameters
        ----------
        x : (batch, in_channels, H, W) tensor of float32
            H and W divisible by ``2**depth``.

        Returns
        -------
        (batch, n_classes, H, W) tensor of float32
            Unnormalised class scores (apply softmax for probabilities).

        Raises
        ------
        ValueError
            If H or W is not divisible by ``2**depth``.
        """
        depth = self.config["depth"]
        if x.shape[-1] % 2 ** depth or x.shape[-2] % 2 ** depth:
            raise ValueError(f"input sides {tuple(x.shape[-2:])} must be divisible by "
                             f"{2 ** depth}")
        skips = []
        for d, block in enumerate(self.down):
            x = block(x if d == 0 else self.pool(x))
            skips.append(x)
        x = skips.pop()
        for up, dec in zip(self.up, self.dec):
            x = dec(torch.cat([skips.pop(), up(x)], dim=1))
        return self.head(x)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters.

    Parameters
    ----------
    model : torch.nn.Module
        Any module (e.g. a :class:`UNet`).

    Returns
    -------
    int
        Total element count of the parameters with ``requires_grad`` (frozen ones and
        buffers such as batch-norm running statistics are not counted).
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
