#!/usr/bin/env bash
# Publishing one image to 1, 2 and 3 targets against the harness Glance (run by hand, not by the suite):
#   bench/targets.sh [SIZE_GIB]         default 1
# For each target count N, the same file goes to N targets
#   ours  one node process with our client as the action uses it: the build's digests known (hashed
#         before the timed part, as the convert stage does), then per target auth, create, streamed PUT
#         without a hashing pass, wait for active, verify against Glance's os_hash_value; the N
#         targets in parallel. Its wall time and peak RSS (VmHWM).
#   cli   /usr/bin/openstack image create --file, once per target, one after another (what a loop over
#         regions does today); the sum of their wall times and the largest peak RSS (/usr/bin/time).
# and prints the ratio cli/ours of wall times per N (> 1: ours is faster).
# Targets: BENCH_REGIONS="RegionOne RegionTwo ..." names the region of each target (a region may
# repeat: the same Glance as separate targets); default: the harness's region three times. Every
# target here is on this machine, so parallel uploads share its 2 cores with every Glance.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
GIB=${1:-1}
ROUNDS=${ROUNDS:-2}
# shellcheck source=bench/openstack-setup.sh
. "$ROOT/bench/openstack-setup.sh"
read -r -a REGIONS <<<"${BENCH_REGIONS:-$OS_REGION_NAME $OS_REGION_NAME $OS_REGION_NAME}"
cat >"$WORK/js/targets.mjs" <<'EOF'
import { readFileSync } from 'node:fs'
import { resolveOpenStackSettings } from './openstack/config.js'
import { connectGlance } from './openstack/glance.js'
import { publishImage } from './openstack/publish.js'
import { hashFile } from './util/hash.js'
const [file, name, ...regions] = process.argv.slice(2)
const log = { info: () => {}, warning: message => process.stderr.write(`warning: ${message}\n`) }
// the build's digests: computed by the convert stage whether or not anything is published
const digest = await hashFile(file)
const started = process.hrtime.bigint()
const published = await Promise.all(
  regions.map(async (region, index) => {
    const connection = await connectGlance(resolveOpenStackSettings({ ...process.env, OS_REGION_NAME: region }), log)
    try {
      const result = await publishImage({
        glance: connection.glance, log, file, name: `${name}-${index}`, family: 'bench-targets',
        diskFormat: 'raw', digest, reuse: false
      })
      return { id: result.image.id, region }
    } finally {
      await connection.session.revoke()
      connection.close()
    }
  })
)
const seconds = Number(process.hrtime.bigint() - started) / 1e9
const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))[1]
console.log(JSON.stringify({ images: published, seconds, peakRssKiB: Number(hwm) }))
EOF

# deleted through the openstack CLI: it finds each image in its own region's Glance
delete_image() { OS_REGION_NAME=$1 /usr/bin/openstack image delete "$2"; }
json() { /usr/bin/python3 -c "import json, sys; print(json.loads(sys.argv[1])$2)" "$1"; }
calc() { /usr/bin/python3 -c "print($1)"; }

file=$WORK/image-${GIB}g.raw
echo "== writing $file ($GIB GiB of random bytes)"
head -c "$((GIB * 1024))M" /dev/urandom >"$file"
cat "$file" >/dev/null # page cache: both read from memory
declare -A OURS CLI OURS_RSS CLI_RSS
for n in 1 2 3; do
  targets=("${REGIONS[@]:0:n}")
  for ((round = 1; round <= ROUNDS; round++)); do
    for peer in ours cli; do
      sync
      case $peer in
      ours)
        out=$(node "$WORK/js/targets.mjs" "$file" "bench-ours-$n-$round" "${targets[@]}")
        seconds=$(json "$out" '["seconds"]')
        rss=$(json "$out" '["peakRssKiB"]')
        for i in $(seq 0 $((n - 1))); do
          delete_image "$(json "$out" "[\"images\"][$i][\"region\"]")" "$(json "$out" "[\"images\"][$i][\"id\"]")"
        done
        ;;
      cli)
        seconds=0 rss=0
        for i in $(seq 0 $((n - 1))); do
          start=$(date +%s.%N)
          id=$(OS_REGION_NAME=${targets[i]} /usr/bin/time -f '%M' -o "$WORK/time" /usr/bin/openstack image create \
            --disk-format raw --container-format bare --file "$file" -f value -c id "bench-cli-$n-$round-$i")
          end=$(date +%s.%N)
          seconds=$(calc "$seconds + $end - $start")
          one=$(tail -n 1 "$WORK/time")
          ((one > rss)) && rss=$one
          delete_image "${targets[i]}" "$id"
        done
        ;;
      esac
      echo "   $n target(s), round $round, $peer: $(calc "round($seconds, 1)") s, peak RSS $((rss / 1024)) MiB"
      # best (shortest) of the rounds
      if [[ $peer == ours ]]; then
        [[ -z ${OURS[$n]:-} ]] || (($(calc "int($seconds < ${OURS[$n]})"))) && OURS[$n]=$seconds OURS_RSS[$n]=$rss
      else
        [[ -z ${CLI[$n]:-} ]] || (($(calc "int($seconds < ${CLI[$n]})"))) && CLI[$n]=$seconds CLI_RSS[$n]=$rss
      fi
    done
  done
done

echo
echo "$GIB GiB to N targets (regions: ${REGIONS[*]}), best of $ROUNDS rounds:"
printf '%-8s %10s %12s %10s %12s %10s\n' targets ours-s ours-RSS cli-s cli-RSS cli/ours
for n in 1 2 3; do
  printf '%-8s %10.1f %10s M %10.1f %10s M %9.2fx\n' "$n" "${OURS[$n]}" "$((OURS_RSS[$n] / 1024))" "${CLI[$n]}" \
    "$((CLI_RSS[$n] / 1024))" "$(calc "${CLI[$n]} / ${OURS[$n]}")"
done
