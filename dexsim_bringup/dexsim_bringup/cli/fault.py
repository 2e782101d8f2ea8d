"""`dexsim fault KIND`: inject a fault into the running sim node (its ``fault`` parameter, set over
DDS as ``ros2 param set /dexsim_sim fault KIND`` would): ``freeze_cameras``, ``drop_joint_states``,
``delay_images:S``, ``stall_controllers``, ``abort_goals``; ``none`` clears it. The sim clock runs
on, so the policy node's watchdog and a real rig's failure modes can be tried on demand
(dexsim_sim.faults)."""
from __future__ import annotations

SIM_NODE = "/dexsim_sim"
TIMEOUT_S = 30.0


def register(sub) -> None:
    p = sub.add_parser("fault", help="inject a fault into the running sim node", description=__doc__)
    p.add_argument("kind", help="none | freeze_cameras | drop_joint_states | delay_images:S | stall_controllers | "
                                "abort_goals")
    p.add_argument("--node", default=SIM_NODE, help=f"the sim node (default {SIM_NODE})")
    p.set_defaults(func=run, needs_ros=True)


def run(args) -> int:
    from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
    from rcl_interfaces.srv import SetParameters

    from dexsim_bringup.ros_client import RosClient
    from dexsim_sim.faults import FaultError, parse_fault

    from . import CLIError

    try:
        fault = parse_fault(args.kind)
    except FaultError as exc:
        raise CLIError(str(exc)) from None
    with RosClient("dexsim_fault") as ros:
        client = ros.node.create_client(SetParameters, f"{args.node}/set_parameters")
        if not client.wait_for_service(timeout_sec=TIMEOUT_S):
            raise CLIError(f"no sim node at {args.node} (start one: dexsim up sim)")
        value = ParameterValue(type=ParameterType.PARAMETER_STRING, string_value=str(fault))
        result = ros.call(client, SetParameters.Request(parameters=[Parameter(name="fault", value=value)]),
                          TIMEOUT_S).results[0]
    if not result.successful:
        raise CLIError(f"{args.node} refused the fault: {result.reason}")
    print(f"{args.node}: fault {fault}")
    return 0
