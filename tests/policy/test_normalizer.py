import numpy as np
import pytest
import torch

from dexsim_policy.errors import PolicyConfigError
from dexsim_policy.normalizer import (ColorJitterConfig, Normalizer, color_jitter, imagenet_normalize,
                                      resize_images, stats_from_array)


@pytest.mark.parametrize("mode", ["min_max", "mean_std"])
def test_normalize_roundtrip_and_range(mode):
    x = np.random.default_rng(0).normal(3.0, 2.0, size=(200, 4))
    x[:, 3] = 1.5  # a constant feature must not blow up
    norm = Normalizer({"state": (4, mode)})
    norm.set_stats({"state": stats_from_array(x)})
    t = torch.as_tensor(x, dtype=torch.float32)
    y = norm.normalize("state", t)
    assert torch.isfinite(y).all()
    if mode == "min_max":
        assert float(y[:, :3].min()) == pytest.approx(-1, abs=1e-5) and float(y[:, :3].max()) == pytest.approx(1, abs=1e-5)
    else:
        assert y[:, :3].mean(0).abs().max() < 1e-4
    torch.testing.assert_close(norm.unnormalize("state", y), t, rtol=1e-5, atol=1e-5)
    assert "state_mean" in norm.state_dict()  # stats are saved with the policy


def test_unfitted_normalizer_raises():
    with pytest.raises(PolicyConfigError, match="no stats"):
        Normalizer({"action": (2, "mean_std")}).normalize("action", torch.zeros(2))
    with pytest.raises(PolicyConfigError, match="mode"):
        Normalizer({"action": (2, "zscore")})


def test_color_jitter_range_and_identity():
    gen = torch.Generator().manual_seed(0)
    img = torch.rand(4, 2, 3, 16, 16, generator=gen)
    out = color_jitter(img, ColorJitterConfig(), torch.Generator().manual_seed(1))
    assert out.shape == img.shape and float(out.min()) >= 0 and float(out.max()) <= 1
    assert not torch.allclose(out, img)
    same = color_jitter(img, ColorJitterConfig(0, 0, 0, 0))
    torch.testing.assert_close(same, img)
    grey = torch.full((2, 3, 8, 8), 0.4)  # hue/saturation leave grey unchanged
    torch.testing.assert_close(color_jitter(grey, ColorJitterConfig(0, 0, 0.3, 0.5)), grey, atol=1e-6, rtol=0)
    with pytest.raises(PolicyConfigError, match="brightness"):
        ColorJitterConfig(brightness=1.5)


def test_imagenet_and_resize():
    img = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1).expand(3, 4, 4)
    assert imagenet_normalize(img).abs().max() < 1e-6
    assert resize_images(torch.rand(2, 3, 30, 40), (48, 64)).shape == (2, 3, 48, 64)


def test_uint8_resize_matches_float_resize():
    """The runtime resizes camera images as uint8 (channels-last view of the HWC buffer, the fast
    kernel); the result is the float resize rounded to uint8."""
    img = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (512, 640, 3), dtype=np.uint8))
    small = resize_images(img.permute(2, 0, 1)[None], (96, 128))
    reference = resize_images(img.permute(2, 0, 1)[None].float(), (96, 128))
    assert small.dtype == torch.uint8 and small.shape == (1, 3, 96, 128)
    assert (small.float() - reference).abs().max() <= 1.0
