import pytest
import torch

from dexsim_policy.bench import synthetic_batch
from dexsim_policy.errors import PolicyConfigError
from dexsim_policy.models import (ACTConfig, DiffusionConfig, PointCloudDiffusionConfig, TemporalEnsembler,
                                  make_policy)
from dexsim_policy.models.schedulers import DiffusionScheduler

OVERFIT_FACTOR = 5.0


def _fitted(config):
    from dexsim_policy.bench import _identity_stats

    policy = make_policy(config)
    _identity_stats(policy)
    return policy.eval()


def test_act_overfits(overfit):
    policy, first, last, data = overfit(ACTConfig(color_jitter=None), steps=200, lr=1e-3, log_key="recon")
    assert first / last > OVERFIT_FACTOR, (first, last)
    obs = {k: data[k][:8] for k in ("left_rgb", "right_rgb", "state")}
    chunk = policy.predict_action_chunk(obs)
    assert chunk.shape == (8, 10, 7)
    valid = ~data["action_is_pad"][:8]
    err = (chunk - data["action"][:8]).abs()[valid].mean()
    assert err < 0.5 * data["action"].std()


def test_diffusion_overfits(overfit):
    cfg = DiffusionConfig(color_jitter=None, image_keys=("left_rgb",), backbone_widths=(8, 16), backbone_blocks=(1, 1))
    policy, first, last, _ = overfit(cfg, steps=200, lr=1.5e-3, log_key="mse")
    assert first / last > OVERFIT_FACTOR, (first, last)


def test_pointcloud_diffusion_overfits(overfit):
    cfg = PointCloudDiffusionConfig(color_jitter=None, num_points=64)
    policy, first, last, data = overfit(cfg, steps=250, lr=1e-3, log_key="mse")
    assert first / last > OVERFIT_FACTOR, (first, last)
    obs = {"state": data["state"][:4], "points": data["points"][:4]}  # 1024 points in, 64 used
    assert policy.predict_action_chunk(obs).shape == (4, cfg.n_action_steps, 7)


def test_temporal_ensembling_weights_and_window():
    ens = TemporalEnsembler(coeff=0.01, chunk_size=3)
    a = ens.update(torch.full((1, 3, 2), 1.0))
    assert torch.allclose(a, torch.ones(1, 2))
    a = ens.update(torch.full((1, 3, 2), 2.0))  # oldest prediction weighs exp(0) > exp(-0.01)
    w0, w1 = 1.0, torch.exp(torch.tensor(-0.01)).item()
    assert torch.allclose(a, torch.full((1, 2), (1 * w0 + 2 * w1) / (w0 + w1)))
    ens.update(torch.full((1, 3, 2), 3.0))
    a = ens.update(torch.full((1, 3, 2), 4.0))  # the first chunk (3 steps) has expired
    w = torch.exp(-0.01 * torch.arange(3.0))
    assert torch.allclose(a, torch.full((1, 2), float((w * torch.tensor([2.0, 3.0, 4.0])).sum() / w.sum())))
    ens.reset()
    assert torch.allclose(ens.update(torch.full((1, 3, 2), 7.0)), torch.full((1, 2), 7.0))


def test_act_select_action_uses_ensembling():
    policy = _fitted(ACTConfig(color_jitter=None))
    gen = torch.Generator().manual_seed(0)
    obs = {k: v[:, 0] for k, v in synthetic_batch(policy.config, 2, gen, with_actions=False).items()}
    a1 = policy.select_action(obs)
    assert a1.shape == (2, 7)
    a2 = policy.select_action(obs)
    chunk = policy.predict_action_chunk({k: v[:, None] for k, v in obs.items()})
    w1 = torch.exp(torch.tensor(-0.01))
    torch.testing.assert_close(a2, (chunk[:, 1] + w1 * chunk[:, 0]) / (1 + w1))
    policy.reset()
    torch.testing.assert_close(policy.select_action(obs), a1)


def test_ddim_sampling_shape_and_determinism():
    policy = _fitted(DiffusionConfig(color_jitter=None))
    obs = synthetic_batch(policy.config, 3, torch.Generator().manual_seed(0), with_actions=False)
    a = policy.predict_action_chunk(obs, generator=torch.Generator().manual_seed(5))
    b = policy.predict_action_chunk(obs, generator=torch.Generator().manual_seed(5))
    c = policy.predict_action_chunk(obs, generator=torch.Generator().manual_seed(6))
    assert a.shape == (3, 8, 7) and torch.equal(a, b) and not torch.equal(a, c)
    # select_action replans every n_action_steps and executes the queued chunk in order
    policy.reset()
    step = {k: v[:, -1] for k, v in obs.items()}
    gen = torch.Generator().manual_seed(5)
    actions = torch.stack([policy.select_action(step, gen) for _ in range(8)], 1)
    assert actions.shape == (3, 8, 7) and torch.isfinite(actions).all()


def test_scheduler_schedule_and_ddim_recovers_clean_sample():
    s = DiffusionScheduler(100, "squaredcos_cap_v2")
    ab = s.alphas_cumprod
    assert ab.shape == (100,) and bool((ab[1:] < ab[:-1]).all()) and ab[0] > 0.99 and ab[-1] < 1e-3
    assert s.ddim_timesteps(10) == [90, 80, 70, 60, 50, 40, 30, 20, 10, 0]
    x0 = torch.rand(2, 4, 3) * 1.8 - 0.9
    noise = torch.randn(2, 4, 3, generator=torch.Generator().manual_seed(0))
    x = s.add_noise(x0, noise, torch.full((2,), 90))
    steps = s.ddim_timesteps(10)
    for i, t in enumerate(steps):  # an oracle noise model: DDIM must land on x0
        eps = (x - ab[t].sqrt().float() * x0) / (1 - ab[t]).sqrt().float()
        x = s.ddim_step(eps, t, steps[i + 1] if i + 1 < len(steps) else -1, x)
    torch.testing.assert_close(x, x0, atol=1e-4, rtol=0)


def test_configs_validate_and_paper_presets():
    with pytest.raises(PolicyConfigError, match="horizon"):
        DiffusionConfig(horizon=10)  # not a multiple of 4 with a 3-level U-Net
    with pytest.raises(PolicyConfigError, match="n_action_steps"):
        ACTConfig(n_action_steps=5)  # temporal ensembling needs 1
    with pytest.raises(PolicyConfigError, match="action_indices"):
        ACTConfig(action_indices=(0, 21 * 4))            # past the last arm's columns
    assert ACTConfig.paper().backbone_widths == (64, 128, 256, 512)
    assert PointCloudDiffusionConfig.paper().horizon == 72
    cfg = DiffusionConfig(image_keys=("left_rgb",))
    assert DiffusionConfig.from_dict(cfg.to_dict()) == cfg


def test_act_episode_latent_is_one_prior_draw_held_per_episode():
    policy = _fitted(ACTConfig(color_jitter=None, temporal_ensemble_coeff=None, n_action_steps=1,
                               inference_latent="episode"))
    gen = torch.Generator().manual_seed(0)
    obs = {k: v for k, v in synthetic_batch(policy.config, 1, gen, with_actions=False).items()}
    g = torch.Generator().manual_seed(3)
    c1 = policy.predict_action_chunk(obs, g)
    c2 = policy.predict_action_chunk(obs, g)            # same episode: the held draw, not a new one
    torch.testing.assert_close(c1, c2)
    policy.reset()
    c3 = policy.predict_action_chunk(obs, g)            # a new episode: a new draw
    assert not torch.allclose(c1, c3)
    policy.reset()
    zero = _fitted(ACTConfig(color_jitter=None, temporal_ensemble_coeff=None, n_action_steps=1))
    zero.load_state_dict(policy.state_dict())
    z = policy.predict_action_chunk(obs, torch.Generator().manual_seed(3))
    torch.testing.assert_close(z, c1)                   # the draw comes from the given generator
    assert not torch.allclose(zero.predict_action_chunk(obs, torch.Generator().manual_seed(3)), c1)
    with pytest.raises(PolicyConfigError, match="inference_latent"):
        ACTConfig(inference_latent="mean")
