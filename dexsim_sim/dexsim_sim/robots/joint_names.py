"""DexSim's joint names <-> the names a vendor driver publishes and takes (``driver_joint_names`` of
``config/<robot>.yaml``): the policy node reads joint states and sends goals through this map."""
from __future__ import annotations

from typing import Sequence


class JointNameError(ValueError):
    """A driver name list that cannot map onto the robot's joints."""


class JointNameMap:
    """One-to-one map between ``dexsim`` names (the registry's arm then finger joints) and the
    driver's, given in the same order; no driver names = the identity. Names outside the map (a
    device's other joints) pass through unchanged."""

    def __init__(self, dexsim: Sequence[str], driver: Sequence[str] = ()) -> None:
        dexsim, driver = list(dexsim), [n for n in driver if n]
        if driver and len(driver) != len(dexsim):
            raise JointNameError(f"driver_joint_names: {len(driver)} names for the robot's {len(dexsim)} joints "
                                 f"{dexsim} (list the driver's name of each, in this order)")
        if len(set(driver)) != len(driver):
            raise JointNameError(f"driver_joint_names: duplicate names in {driver}")
        self._to_driver = dict(zip(dexsim, driver or dexsim))
        self._to_dexsim = {v: k for k, v in self._to_driver.items()}

    @property
    def identity(self) -> bool:
        return all(k == v for k, v in self._to_driver.items())

    def to_dexsim(self, names: Sequence[str]) -> list[str]:
        return [self._to_dexsim.get(n, n) for n in names]

    def to_driver(self, names: Sequence[str]) -> list[str]:
        return [self._to_driver.get(n, n) for n in names]
