"""dexsim_bringup: ament_python package that is also pip-installable (`pip install -e dexsim_bringup`)."""
from glob import glob
from pathlib import Path

from setuptools import find_packages, setup

PACKAGE = "dexsim_bringup"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test", "tests"]),
    package_data={PACKAGE: ["resources/*", "resources/demo_policy/*"]},
    include_package_data=True,
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml") + glob("config/*.xml") + glob("config/*.rviz")),
        (f"share/{PACKAGE}/config/moveit", glob("config/moveit/*.rviz")),
        *((f"share/{PACKAGE}/config/moveit/{Path(d).name}", glob(f"{d}/*")) for d in sorted(glob("config/moveit/*/"))),
    ],
    install_requires=["setuptools"],
    zip_safe=False,
    maintainer="DexSim developers",
    maintainer_email="dev@dexsim.example",
    description="DexSim bringup: node graph, launch files, configs and the dexsim CLI.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "dexsim = dexsim_bringup.cli:main",
            "recorder_node = dexsim_bringup.nodes.recorder_node:main",
            "viz_node = dexsim_bringup.nodes.viz_node:main",
        ],
    },
)
