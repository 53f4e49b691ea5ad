#!/usr/bin/env bash
# Runs a benchmark script: bench/run.sh cache [args]. Bundles bench/<name>.ts with ncc into a temp
# directory (no extra tooling) and runs it with node. Needs root, like the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:?usage: bench/run.sh <name> [args]}
shift
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
npx ncc build "bench/$name.ts" -o "$out" --quiet
ARCH_IMAGE_REPO_ROOT=$PWD node "$out/index.js" "$@"
