"""Turn a graph description into a ROS 2 LaunchDescription (full ROS mode only).

Launch files stay thin: they declare their arguments as data (``ARGUMENTS``), build the graph
with the same function pip mode uses (``make_graph``), and call :func:`launch_description`.
`launch` / `launch_ros` are imported only here, inside the functions, so the launch files can be
imported (and their graphs tested) where ROS 2 launch is not installed.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .graph import Graph


@dataclass(frozen=True)
class Argument:
    name: str
    default: str
    description: str
    choices: tuple[str, ...] | None = None


def defaults(arguments: tuple[Argument, ...]) -> dict[str, str]:
    return {a.name: a.default for a in arguments}


def launch_description(arguments: tuple[Argument, ...], make_graph: Callable[..., Graph]):
    from launch import LaunchDescription
    from launch.actions import DeclareLaunchArgument, OpaqueFunction
    from launch.substitutions import LaunchConfiguration
    from launch_ros.actions import Node

    def spawn(context, *args, **kwargs):
        values = {a.name: LaunchConfiguration(a.name).perform(context) for a in arguments}
        graph = make_graph(**values)
        actions = []
        for spec in graph.nodes:
            actions.append(Node(package=spec.package, executable=spec.executable, name=spec.name,
                                namespace=spec.namespace or None, parameters=[spec.parameters],
                                remappings=list(spec.remappings), output="screen"))
        for ext in graph.external:
            actions.append(Node(package=ext.package, executable=ext.executable, name=ext.name,
                                parameters=[ext.parameters], remappings=list(ext.remappings),
                                arguments=list(ext.arguments), output="screen"))
        return actions

    declared = [DeclareLaunchArgument(a.name, default_value=a.default, description=a.description,
                                      **({"choices": list(a.choices)} if a.choices else {}))
                for a in arguments]
    return LaunchDescription([*declared, OpaqueFunction(function=spawn)])
