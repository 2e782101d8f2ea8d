"""docs/PARAMETERS.md from the nodes' parameter schemas: ``python -m dexsim_bringup.params_doc``
rewrites it; a test checks it is current."""
from __future__ import annotations

import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "PARAMETERS.md"


def schemas():
    from dexsim_bringup.nodes import recorder_node, viz_node
    from dexsim_policy.nodes import policy_node
    from dexsim_sim.nodes import projection_node, scaling_node, sim_node

    return [m.PARAMS for m in (sim_node, policy_node, projection_node, scaling_node, recorder_node, viz_node)]


def render() -> str:
    parts = ["# Node parameters", "",
             "Generated from each node's schema (`PARAMS` in its module, `dexsim_sim.ros.params`) by",
             "`python -m dexsim_bringup.params_doc`; the nodes declare exactly these (read-only unless noted),",
             "and `tests/bringup/test_graph.py` checks every launch graph against them.", ""]
    for schema in schemas():
        parts += [f"## {schema.node}", "", schema.markdown(), ""]
    return "\n".join(parts)


def main() -> int:
    DOC.write_text(render(), encoding="utf-8")
    print(f"wrote {DOC}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
