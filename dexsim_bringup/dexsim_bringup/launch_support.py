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


class MissingPackageError(RuntimeError):
    """A package the graph needs is not installed in the sourced ROS 2 environment."""


def require_packages(graph: Graph) -> None:
    """Raise one MissingPackageError naming every package of ``graph`` that ament cannot find."""
    from ament_index_python.packages import PackageNotFoundError, get_package_share_directory

    wanted = {s.package: f"ros2 run {s.package} {s.executable}" for s in graph.nodes}
    wanted |= {e.package: f"ros2 run {e.package} {e.executable}" for e in graph.external}
    wanted |= {i.package: i.why_not_in_pip_mode or f"ros2 launch {i.package} {i.launch_file}" for i in graph.includes}
    missing = []
    for package, why in wanted.items():
        try:
            get_package_share_directory(package)
        except PackageNotFoundError:
            missing.append(f"{package} ({why})")
    if missing:
        raise MissingPackageError(f"graph {graph.name!r} needs packages that are not installed: "
                                  + "; ".join(missing) + ". Install them and source their workspace.")


@dataclass(frozen=True)
class Argument:
    name: str
    default: str
    description: str
    choices: tuple[str, ...] | None = None


def defaults(arguments: tuple[Argument, ...]) -> dict[str, str]:
    return {a.name: a.default for a in arguments}


def launch_description(arguments: tuple[Argument, ...], make_graph: Callable[..., Graph]):
    import os

    from ament_index_python.packages import get_package_share_directory
    from launch import LaunchDescription
    from launch.actions import DeclareLaunchArgument, GroupAction, IncludeLaunchDescription, OpaqueFunction
    from launch.launch_description_sources import PythonLaunchDescriptionSource
    from launch.substitutions import LaunchConfiguration
    from launch_ros.actions import Node, SetRemap

    def spawn(context, *args, **kwargs):
        values = {a.name: LaunchConfiguration(a.name).perform(context) for a in arguments}
        graph = make_graph(**values)
        require_packages(graph)
        actions = []
        for inc in graph.includes:
            path = os.path.join(get_package_share_directory(inc.package), "launch", inc.launch_file)
            include = IncludeLaunchDescription(PythonLaunchDescriptionSource(path),
                                               launch_arguments=list(inc.arguments))
            actions.append(GroupAction([*(SetRemap(src=a, dst=b) for a, b in inc.remappings), include],
                                       scoped=True))
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
