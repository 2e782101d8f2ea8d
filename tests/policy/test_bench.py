from dexsim_policy.bench import bench_models
from dexsim_policy.models import ACTConfig, DiffusionConfig, PointCloudDiffusionConfig


def test_bench_reports_every_key():
    configs = [ACTConfig(), DiffusionConfig(image_keys=("left_rgb",), num_inference_steps=2),
               PointCloudDiffusionConfig(num_points=64, num_inference_steps=2)]
    out = bench_models(configs, n_latency=3, n_warmup=1, train_steps=1, batch_size=2)
    for prefix in ("act", "diffusion", "pointcloud"):
        for key in ("model_p50_ms", "model_p99_ms", "train_samples_per_s"):
            assert out[f"{prefix}_{key}"] > 0
        assert out[f"{prefix}_model_p99_ms"] >= out[f"{prefix}_model_p50_ms"]
