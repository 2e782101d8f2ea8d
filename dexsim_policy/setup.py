"""dexsim_policy: ament_python package that is also pip-installable (`pip install -e dexsim_policy`)."""
from setuptools import find_packages, setup

PACKAGE = "dexsim_policy"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test", "tests"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
    ],
    install_requires=["setuptools"],
    zip_safe=False,
    maintainer="DexSim developers",
    maintainer_email="dev@dexsim.example",
    description="DexSim imitation policies, training, runtime safety and the policy node.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "policy_node = dexsim_policy.nodes.policy_node:main",
        ],
    },
)
