"""Bundled Real2Sim demo inputs (generated; regenerate with ``python -m dexsim_sim.demo_data.make``)."""
