#!/usr/bin/env bash
# The main job: set up, build, and run the embedded end-to-end demo (no download, no data
# outside the repository). Extra arguments go to `peft demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
./build/app/peft demo "$@"
