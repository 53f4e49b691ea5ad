#!/usr/bin/env bash
# The cost of the reproducibility steps (run by hand as root, not by the suite):
#   [ROUNDS=5] [PEER=366f3d8] [CLOUD=1 | CLOUD_ONLY=1] [WARMUP=0] bench/reproducible.sh
# Builds the fixture image (fixture repository, `configure: false`, ext4, 600M disk) with this
# checkout's dist/cli ("ours": derived ids, refill with mkfs.ext4 -d, dating) and with the dist/cli
# committed at PEER, the commit before reproducible images landed ("peer"), alternating
# ours/peer ROUNDS times, each build in a fresh directory with a warm package cache. Prints every
# build's wall time, the medians and the ratio ours/peer of the medians (> 1: reproducibility costs).
# CLOUD=1 adds the default cloud image from the stand-in repository (test/standin, built into the temp
# dir by the cloud image test; boot-test false) with ROUNDS=${CLOUD_ROUNDS:-1}.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${ROUNDS:-5}
PEER=${PEER:-366f3d8}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/arch-image-bench-repro.XXXXXX")
PEER_TREE=$WORK/peer

cleanup() {
  git -C "$ROOT" worktree remove --force "$PEER_TREE" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

[[ -f $ROOT/dist/cli/index.js ]] || { echo "no dist/cli in $ROOT: npm run bundle first" >&2; exit 1; }
echo "== peer: dist/cli of $(git -C "$ROOT" log --oneline -1 "$PEER") in $PEER_TREE"
git -C "$ROOT" worktree add --detach "$PEER_TREE" "$PEER" >/dev/null 2>&1

script=$ROOT/test/fixtures/make-repo.sh
repo=${TMPDIR:-/tmp}/arch-image-fixture-repo-$(sha256sum "$script" | cut -c1-12)
"$script" "$repo" >/dev/null
CACHE=$WORK/pkg-cache
mkdir -p "$CACHE"

# One build: prints its wall seconds; fails the bench when the build fails.
build() { # <cli> <label> <flags...>
  local cli=$1 label=$2 dir
  shift 2
  dir=$(mktemp -d "$WORK/$label.XXXXXX")
  local start end
  start=$(date +%s.%N)
  if ! (cd "$dir" && TMPDIR=$dir node "$cli" build --output-dir out --package-cache-dir "$CACHE" "$@" \
    >"$dir/log" 2>&1); then
    echo "build $label failed, its log:" >&2
    tail -30 "$dir/log" >&2
    exit 1
  fi
  end=$(date +%s.%N)
  rm -rf "$dir"
  python3 -c "print(f'{$end - $start:.2f}')"
}

median() { python3 -c 'import statistics, sys; print(f"{statistics.median(map(float, sys.argv[1:])):.2f}")' "$@"; }

compare() { # <label> <rounds> <flags...>
  local label=$1 rounds=$2 ours=() peer=() t
  shift 2
  if [[ ${WARMUP:-1} == 1 ]]; then
    echo "== $label: warm-up (one build each, not counted)"
    build "$ROOT/dist/cli/index.js" ours "$@" >/dev/null
    build "$PEER_TREE/dist/cli/index.js" peer "$@" >/dev/null
  fi
  for ((round = 1; round <= rounds; round++)); do
    t=$(build "$ROOT/dist/cli/index.js" ours "$@")
    ours+=("$t")
    t=$(build "$PEER_TREE/dist/cli/index.js" peer "$@")
    peer+=("$t")
    echo "   round $round: ours ${ours[-1]} s, peer ${peer[-1]} s"
  done
  local mo mp
  mo=$(median "${ours[@]}")
  mp=$(median "${peer[@]}")
  echo "== $label: median ours $mo s, peer $mp s, ratio ours/peer $(python3 -c "print(f'{$mo / $mp:.2f}')")"
}

fixture=(--mirror "file://$repo/\$repo/os/\$arch" --signature-level Never --pacman-from host --configure false
  --base-packages base --disk-size 600M --filesystem ext4 --image-name bench-repro)
[[ ${CLOUD_ONLY:-0} == 1 ]] || compare "fixture image (configure: false, ext4)" "$ROUNDS" "${fixture[@]}"

if [[ ${CLOUD:-0} == 1 || ${CLOUD_ONLY:-0} == 1 ]]; then
  standin=${STANDIN_REPO:-$(ls -d "${TMPDIR:-/tmp}"/arch-image-standin-* 2>/dev/null | head -1)}
  [[ -d $standin ]] || { echo "no stand-in repository (set STANDIN_REPO)" >&2; exit 1; }
  cloud=(--mirror "file://$standin/\$repo/os/\$arch" --signature-level Never --pacman-from host --boot-test false --cache false
    --image-name bench-repro-cloud)
  compare "default cloud image (stand-in, boot-test false)" "${CLOUD_ROUNDS:-1}" "${cloud[@]}"
fi
