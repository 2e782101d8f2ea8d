#!/usr/bin/env bash
# Build DexSim's interface packages (dexsim_msgs, and for pip mode the upstream control_msgs /
# tf2_msgs definitions) into wheels against the ROS 2 wheels in the venv, and install them.
# Skips a package whose sources have not changed since its installed build (idempotent).
set -euo pipefail

VENV=${VENV:-.venv}
PY="$VENV/bin/python"
PREFIX=$(cd "$VENV" && pwd)
WHEELS=build/wheels
mkdir -p "$WHEELS"

# The ROS wheels' exported CMake files name the include directories of the machine that built
# them (/opt/python/cp3XX-cp3XX/...). Point them at this venv's Python and numpy headers.
py_inc=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
np_inc=$("$PY" -c 'import numpy; print(numpy.get_include())')
if [ ! -f "$py_inc/Python.h" ]; then
  echo "build_interfaces: Python headers not found at $py_inc (install python3-dev)" >&2
  exit 1
fi
{ grep -rlE "/opt/python/cp3[0-9]+" "$PREFIX"/share/*/cmake 2>/dev/null || true; } | while read -r f; do
  sed -i -E \
    -e "s#/opt/python/cp3[0-9]+-cp3[0-9]+/lib/python3\.[0-9]+/site-packages/numpy/_core/include#${np_inc}#g" \
    -e "s#/opt/python/cp3[0-9]+-cp3[0-9]+/include/python3\.[0-9]+#${py_inc}#g" "$f"
done

export CMAKE_PREFIX_PATH="$PREFIX${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
export AMENT_PREFIX_PATH="$PREFIX"
export LD_LIBRARY_PATH="$PREFIX/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export PATH="$PREFIX/bin:$PATH"
export SKBUILD_CMAKE_DEFINE="Python3_EXECUTABLE=$PREFIX/bin/python;PYTHON_EXECUTABLE=$PREFIX/bin/python"

for pkg in dexsim_msgs interfaces_pip/tf2_msgs interfaces_pip/control_msgs; do
  name=$(basename "$pkg")
  digest=$(cd "$pkg" && find . -type f ! -path './build/*' \( -name '*.msg' -o -name '*.srv' -o -name '*.action' -o -name 'CMakeLists.txt' -o -name 'package.xml' -o -name 'pyproject.toml' \) -print0 \
           | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
  stamp="$PREFIX/share/$name/.dexsim_build_digest"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$digest" ] && "$PY" -c "import $name.msg" 2>/dev/null; then
    echo "build_interfaces: $name up to date ($digest)"
    continue
  fi
  echo "build_interfaces: building $name ($digest)"
  rm -rf "$WHEELS/$name" && mkdir -p "$WHEELS/$name"
  if ! "$PY" -m pip wheel -q --no-build-isolation --no-deps -w "$WHEELS/$name" "./$pkg" > "build/$name.log" 2>&1; then
    echo "build_interfaces: FAILED to build interface package '$name' (log: build/$name.log)" >&2
    tail -n 30 "build/$name.log" >&2
    exit 1
  fi
  "$PY" -m pip install -q --no-deps --force-reinstall "$WHEELS/$name"/*.whl
  echo "$digest" > "$stamp"
done
