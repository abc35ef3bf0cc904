import pytest
import torch

from qmri_kernels.segment import UNet, count_parameters


def test_shapes_and_size():
    torch.manual_seed(0)
    net = UNet(3, 27, base_channels=12, depth=4).eval()
    with torch.no_grad():
        out = net(torch.randn(2, 3, 128, 80))
    assert out.shape == (2, 27, 128, 80)
    assert 5e5 < count_parameters(net) < 3e6   # "a few million parameters at most"


def test_bad_input():
    net = UNet(3, 27, base_channels=4, depth=3)
    with pytest.raises(ValueError, match="divisible by 8"):
        net(torch.zeros(1, 3, 36, 32))
    with pytest.raises(ValueError, match="n_classes"):
        UNet(3, 1)
