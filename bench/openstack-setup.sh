# Sourced by bench/upload.sh and bench/targets.sh (ROOT set): a scratch WORK directory, the test
# harness's Keystone + Glance started in STATE (stopped again on exit) with the member's credentials
# exported, and src/openstack compiled into $WORK/js so a bench script can drive our client directly.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/arch-image-bench.XXXXXX")
STATE=${ARCH_IMAGE_BENCH_DIR:-${TMPDIR:-/tmp}/arch-image-bench-openstack}
export HARNESS_LEASE=bench-$$

cleanup() {
  "$ROOT/test/openstack/harness.sh" stop "$STATE" >/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "== starting the harness in $STATE"
"$ROOT/test/openstack/harness.sh" start "$STATE"
# shellcheck disable=SC1091
. "$STATE/env"
export OS_USERNAME=$MEMBER_USERNAME OS_PASSWORD=$MEMBER_PASSWORD OS_PROJECT_NAME=$MEMBER_PROJECT_NAME

echo "== compiling src/openstack into $WORK/js"
(cd "$ROOT" && npx tsc --noEmit false --outDir "$WORK/js" --rootDir src --module nodenext --moduleResolution nodenext \
  --target es2022 --skipLibCheck --types node --declaration false src/openstack/*.ts src/types/*.d.ts)
ln -s "$ROOT/node_modules" "$WORK/js/node_modules"
echo '{"type":"module"}' >"$WORK/js/package.json"
