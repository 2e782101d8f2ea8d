"""The RViz config shows DexSim's topics with QoS that matches their publishers."""
from __future__ import annotations

import yaml

from dexsim_bringup import graph as g


def test_rviz_config_displays_the_dexsim_topics(repo_root):
    cfg = yaml.safe_load((repo_root / "dexsim_bringup" / "config" / "dexsim.rviz").read_text())
    displays = {d["Class"].split("/")[-1] + ":" + d["Name"]: d for d in cfg["Visualization Manager"]["Displays"]}
    by_class = {}
    for key, d in displays.items():
        by_class.setdefault(key.split(":")[0], []).append(d)
    (robot,) = by_class["RobotModel"]
    assert robot["Description Topic"]["Value"] == "/robot_description"
    assert robot["Description Topic"]["Durability Policy"] == "Transient Local"   # matches the latched publisher
    images = {d["Topic"]["Value"]: d["Topic"]["Reliability Policy"] for d in by_class["Image"]}
    assert images == {g.STEREO_TOPICS["left_image"]: "Best Effort", g.STEREO_TOPICS["right_image"]: "Best Effort"}
    (cloud,) = by_class["DepthCloud"]
    assert cloud["Topic"]["Value"] == g.STEREO_TOPICS["depth"]
    assert [d["Topic"]["Value"] for d in by_class["MarkerArray"]] == [g.MARKERS_TOPIC]
    assert "TF" in by_class and cfg["Visualization Manager"]["Global Options"]["Fixed Frame"] == "world"
