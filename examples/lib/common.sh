# Shared by the real-data studies (examples/*_study.sh): where the repository, the data and the
# `peft` program are, the --quick/--full flag, and the skip when ../shared/data is absent.
# Sourced, not run. Environment overrides: PEFT (the program), PEFT_DATA (the data folder),
# OUT (the results folder).

EXAMPLES_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REPO_ROOT=$(dirname "$EXAMPLES_DIR")
DATA=${PEFT_DATA:-$REPO_ROOT/../shared/data}
PEFT=${PEFT:-$REPO_ROOT/build/app/peft}

# Every run is niced: the studies share the machine with builds and tests.
peft() { nice -n 10 "$PEFT" "$@"; }

# parse_mode "$usage" "$@": sets MODE=quick|full and FRESH=0|1, or prints the usage.
parse_mode() {
  local usage=$1; shift
  MODE=quick FRESH=0
  for arg in "$@"; do
    case $arg in
      --quick) MODE=quick ;;
      --full) MODE=full ;;
      --fresh) FRESH=1 ;;
      -h|--help) echo "$usage"; exit 0 ;;
      *) echo "unknown option '$arg'" >&2; echo "$usage" >&2; exit 2 ;;
    esac
  done
}

# require_data FILE...: the study is skipped (exit 0, one line saying why) when the data is absent,
# as it is in a user's clone: the datasets are never copied into the repository.
require_data() {
  for f in "$@"; do
    if [[ ! -f $DATA/$f ]]; then
      echo "skipped: $DATA/$f not found (the real datasets live in ../shared/data beside the repository;" \
           "set PEFT_DATA=/path/to/data to point elsewhere)"
      exit 0
    fi
  done
}

require_peft() {
  if [[ ! -x $PEFT ]]; then
    echo "error: $PEFT not found: build it first (scripts/setup.sh, or cmake --build build --target peft_cli)," \
         "or set PEFT=/path/to/peft" >&2
    exit 1
  fi
}

# has_checkpoint DIR: a finished pretraining left an HF checkpoint there.
has_checkpoint() { [[ -f $1/config.json && -f $1/model.safetensors ]]; }
