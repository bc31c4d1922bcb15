#!/bin/sh
# Builds Khiên with AddressSanitizer and UndefinedBehaviorSanitizer, warnings
# as errors, and runs every test (unit, CLI, comparisons with clamscan).
# Installs the Debian packages it needs first. Usage: sh scripts/test.sh
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh test
cmake -S . -B build-test -DKH_SANITIZE=ON -DKH_WERROR=ON >/dev/null
cmake --build build-test -j"$(nproc)"
cd build-test
ctest --output-on-failure -j"$(nproc)"
