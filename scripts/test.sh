#!/usr/bin/env bash
# Sets up, builds and runs every test (GoogleTest suites via CTest, including the golden
# tests against ../shared/fixtures, which skip with a message when ../shared is absent).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --tests
ctest --test-dir build --output-on-failure -j"$(nproc)" --timeout 1500
