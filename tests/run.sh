#!/usr/bin/env bash
# The project's test command (README, .ci/run). Installs what only the tests
# need, when it is missing, then runs pytest with any arguments given:
#   - Python test extras from pyproject.toml (pip, by name): dask[distributed], pytest-xdist;
#   - Debian's chromium for the browser test of the HTML reports (apt-get;
#     needs root, as in CI; elsewhere install it yourself or the test says so).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! python -c "import dask.distributed, xdist" >/dev/null 2>&1; then
    pip install -q -e ".[test]"
fi

if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "tests/run.sh: installing Debian's chromium for the browser test" >&2
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
        echo "tests/run.sh: chromium is not installed and this is not root with apt-get;" \
             "the browser test will fail: install Debian's 'chromium' package" >&2
    fi
fi

# Both cores: one pytest-xdist worker per core (GRADER_TEST_WORKERS overrides; `-n 0` after it
# runs in this process). loadgroup keeps the tests of a module that share a module fixture on one
# worker; --no-loadscope-reorder keeps tests/conftest.py's order, which hands out the long tests first.
exec python -m pytest -n "${GRADER_TEST_WORKERS:-auto}" --dist loadgroup --no-loadscope-reorder "$@"
