"""The sim node's moving TF frames (quaternion arithmetic, no 4x4 round trips) equal the URDF
joint transforms computed with matrices, for revolute and prismatic joints."""
from __future__ import annotations

import numpy as np
import pytest

from dexsim_sim.robots.transforms import matrix_to_quat
from dexsim_sim.simulation import JointReadout, SimNodeConfig, Simulation, _joint_transform


@pytest.mark.parametrize("robot", ["wx250s", "sr3"])
def test_moving_transforms_equal_the_matrix_path(robot):
    sim = Simulation(SimNodeConfig(robot=robot, task="grasp", image_width=32, image_height=24, renderer="tiny",
                                   real_time_factor=0.0))
    try:
        rng = np.random.default_rng(4)
        names = tuple(sim.urdf_joints)
        kinds = {j.kind for j in sim.urdf_joints.values()}
        assert "prismatic" in kinds or robot == "sr3"
        for _ in range(5):
            q = rng.uniform(-2.0, 2.0, len(names)) * np.array([0.01 if sim.urdf_joints[n].kind == "prismatic"
                                                               else 1.0 for n in names])
            state = JointReadout(names, q, np.zeros_like(q), np.zeros_like(q))
            got = {child: pose for _, child, pose in sim.moving_transforms(state)}
            values = dict(zip(names, q))
            for name, joint in sim.urdf_joints.items():
                if joint.child not in got:
                    continue
                tf = _joint_transform(joint, values[name])
                pose = got[joint.child]
                np.testing.assert_allclose(pose[:3], tf[:3, 3], atol=1e-12)
                quat = pose[3:] if pose[6] >= 0 else -pose[3:]
                np.testing.assert_allclose(quat, matrix_to_quat(tf[:3, :3]), atol=1e-9)
    finally:
        sim.close()
