"""dexsim_sim: ament_python package that is also pip-installable (`pip install -e dexsim_sim`)."""
from glob import glob

from setuptools import find_packages, setup

PACKAGE = "dexsim_sim"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test", "tests"]),
    package_data={PACKAGE: ["robots/urdf/*.urdf", "assets/**/*", "config/*.yaml", "config/nominal/*.yaml", "scenes/*.yaml",
                           "demo_data/*.png", "demo_data/*.yaml", "demo_data/*.json"]},
    include_package_data=True,
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/urdf", glob(f"{PACKAGE}/robots/urdf/*.urdf")),
    ],
    install_requires=["setuptools"],
    zip_safe=False,
    maintainer="DexSim developers",
    maintainer_email="dev@dexsim.example",
    description="DexSim simulation core, Real2Sim projection, Sim2Real scaling and their nodes.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "sim_node = dexsim_sim.nodes.sim_node:main",
            "projection_node = dexsim_sim.nodes.projection_node:main",
            "scaling_node = dexsim_sim.nodes.scaling_node:main",
        ],
    },
)
