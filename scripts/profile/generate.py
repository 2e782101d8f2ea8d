"""cProfile of `generate` with one worker (the in-process pool), grasp on sr3; the breakdown in
docs/PERFORMANCE.md comes from this. Usage: .venv/bin/python scripts/profile/generate.py H W EPISODES"""
import cProfile
import pstats
import sys
import tempfile
import time

from dexsim_sim.scaling.generate import generate

H, W, N = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
with tempfile.TemporaryDirectory() as tmp:
    profile = cProfile.Profile()
    t0 = time.perf_counter()
    profile.enable()
    card = generate("sr3", "grasp", None, N, f"{tmp}/data", image_size=(H, W), progress=False)
    profile.disable()
    print(f"{W}x{H}: {card.num_episodes} episodes, {card.num_steps} steps in {time.perf_counter() - t0:.1f} s")
    stats = pstats.Stats(profile)
    stats.sort_stats("tottime").print_stats(20)
    stats.sort_stats("cumulative").print_stats("generate.py|hdf5|keypose|ik|camera|adaptation|builder|env.py", 30)
