"""Procedural assets load in PyBullet with the declared mass/extents; textures are seeded."""
from __future__ import annotations

import numpy as np
import pybullet as p
import pytest

from dexsim_sim.world.assets import (FEATURE_NAMES, AssetError, default_library, texture_image, texture_names,
                                     texture_path)

REQUIRED = {"box", "can", "mug", "bowl", "plate", "cup", "bottle", "banana", "paper_box"}


@pytest.fixture(scope="module")
def client():
    cid = p.connect(p.DIRECT)
    yield cid
    p.disconnect(cid)


def test_categories_and_lookup():
    lib = default_library()
    assert REQUIRED <= set(lib.categories())
    assert {a.category for a in lib.list("can")} == {"can"}
    with pytest.raises(AssetError, match="unknown id 'nope'"):
        lib.get("nope")
    with pytest.raises(AssetError, match="unknown 'nope'"):
        lib.list("nope")


def test_every_asset_loads_with_its_mass_and_extents(client):
    for asset in default_library().list():
        scale = np.array([1.2, 1.2, 0.8])   # x = y: z-rotated primitives scale exactly
        body = p.loadURDF(str(asset.urdf(scale)), [0, 0, 1], physicsClientId=client)
        links = range(-1, p.getNumJoints(body, physicsClientId=client))
        total = sum(p.getDynamicsInfo(body, link, physicsClientId=client)[0] for link in links)
        assert total == pytest.approx(asset.mass, rel=1e-4), asset.id
        lo, hi = np.array([np.array(p.getAABB(body, link, physicsClientId=client)) for link in links]).transpose(1, 0, 2)
        size = hi.max(0) - lo.min(0)
        # PyBullet pads AABBs (compound shapes per child) by collision margins of a few mm
        assert np.all(np.abs(size - asset.extents * scale) < 0.015), (asset.id, size, asset.extents * scale)
        assert asset.features().shape == (len(FEATURE_NAMES),)
        p.removeBody(body, physicsClientId=client)


def test_paper_box_has_a_lid_hinge(client):
    asset = default_library().get("paper_box")
    body = p.loadURDF(str(asset.urdf()), [0, 0, 0.5], physicsClientId=client)
    info = p.getJointInfo(body, 0, physicsClientId=client)
    assert p.getNumJoints(body, physicsClientId=client) == 1
    assert info[1] == b"lid_hinge" and info[2] == p.JOINT_REVOLUTE
    z_closed = p.getLinkState(body, 0, physicsClientId=client)[0][2]
    p.resetJointState(body, 0, 1.0, physicsClientId=client)
    assert p.getLinkState(body, 0, physicsClientId=client)[0][2] > z_closed + 0.05   # positive angle opens


def test_textures_are_seeded():
    for name in texture_names():
        img = texture_image(name, seed=3)
        assert img.dtype == np.uint8 and img.shape == (128, 128, 3)
        assert np.array_equal(img, texture_image(name, seed=3))
    assert not np.array_equal(texture_image("checker", 1), texture_image("checker", 2))
    assert texture_path("marble", 0).read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(AssetError, match="unknown 'velvet'"):
        texture_image("velvet")
