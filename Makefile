# DexSim: the two commands that do everything on a fresh machine are `make demo` and `make test`.
# Both run `make setup` first (idempotent: seconds when nothing changed).
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
DEXSIM := $(VENV)/bin/dexsim
# Every ROS process started from here stays on loopback (see dexsim_bringup/.../fastdds_loopback.xml).
export FASTDDS_DEFAULT_PROFILES_FILE := $(CURDIR)/dexsim_bringup/dexsim_bringup/resources/fastdds_loopback.xml
export RMW_IMPLEMENTATION := rmw_fastrtps_cpp
export PYTHONUNBUFFERED := 1
DEMO_OUT ?= out/demo
PYTEST_ARGS ?=

.PHONY: setup test demo doctor lint clean help

help:
	@echo "make setup  - create $(VENV) and install everything (ROS 2 wheels, interfaces, deps, DexSim)"
	@echo "make demo   - run the main job end to end on the embedded default (outputs in $(DEMO_OUT))"
	@echo "make test   - run the test suite"
	@echo "make doctor - check the environment"

setup:
	@bash scripts/setup.sh

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

demo: setup
	$(DEXSIM) demo --out $(DEMO_OUT)

doctor: setup
	$(DEXSIM) doctor

clean:
	rm -rf build out dexsim_msgs/build interfaces_pip/*/build
