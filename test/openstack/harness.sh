#!/usr/bin/env bash
# A real Keystone and Glance (Debian's packages) on 127.0.0.1, run by hand from one state directory.
#
#   harness.sh start DIR          configure (first time: bootstrap), start both, wait, write DIR/env(.json)
#   harness.sh stop DIR           drop this caller's lease; stop both services when no lease is left
#   harness.sh stop --force DIR   stop both services whatever the leases say
#   harness.sh env DIR            print DIR/env
#   harness.sh glance DIR PORT [glance2 [multistore]]
#                                 run one more glance-api on PORT in the foreground (the same db and store
#                                 as RegionOne's, or RegionTwo's with glance2; its own store dir then), for
#                                 tests that kill Glance without disturbing the shared one; multistore: two
#                                 file stores, fast (the default) and slow, in DIR/glance2/stores-PORT/,
#                                 and copy-image besides glance-direct
#
# One Keystone with two regions: RegionOne's glance-api (DIR/glance) and RegionTwo's (DIR/glance2), each
# with its own port, database and store, both in the catalog. Users: admin, member (project demo) and
# second (project second), for a second clouds.yaml entry.
#
# Nothing under /etc is read or written; ports are picked free at start. A lease is the caller's pid
# (HARNESS_LEASE, default the parent pid), so test files running in parallel can share one DIR: the last
# `stop` stops the services. The packages are installed beforehand (see need_packages).
set -euo pipefail

PY=/usr/bin/python3 # Debian's python: the one the services' modules live in
REGION=RegionOne
REGION2=RegionTwo

die() {
  echo "harness: $*" >&2
  exit 1
}

need_packages() {
  local missing=()
  local file
  for file in /usr/bin/keystone-manage /usr/bin/keystone-wsgi-public /usr/bin/glance-api /usr/bin/glance-manage \
    /usr/share/glance-common/glance-api-paste.ini /usr/bin/openstack /usr/bin/glance /usr/bin/curl; do
    [[ -e $file ]] || missing+=("$file")
  done
  if ((${#missing[@]} > 0)); then
    echo "harness: missing ${missing[*]}" >&2
    echo "harness: install them (as root, with /usr/sbin/policy-rc.d containing 'exit 101' so Debian does not" >&2
    echo "         start its own services on 0.0.0.0):" >&2
    echo "  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends keystone glance-api python3-openstackclient python3-glanceclient curl" >&2
    exit 2
  fi
}

free_port() {
  "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

port_free() {
  "$PY" -c 'import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do: TIME_WAIT is no obstacle
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)' "$1"
}

random_secret() {
  head -c 24 /dev/urandom | base64 | tr -d '/+=\n'
}

# pid from FILE if that process is alive and is ours (its command line names our config)
our_pid() {
  local pidfile=$1 marker=$2 pid
  [[ -s $pidfile ]] || return 1
  pid=$(<"$pidfile")
  [[ -r /proc/$pid/cmdline ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$marker" || return 1
  echo "$pid"
}

answers() {
  curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null
}

sqlite_wal() {
  "$PY" -c 'import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("PRAGMA journal_mode=WAL")
c.close()' "$1"
}

write_keystone_conf() {
  cat >"$DIR/keystone/keystone.conf" <<EOF
[DEFAULT]
log_file = $DIR/keystone/keystone.log
use_stderr = false
[database]
connection = sqlite:///$DIR/keystone/keystone.sqlite
[token]
provider = fernet
expiration = 3600
[fernet_tokens]
key_repository = $DIR/keystone/fernet-keys
[fernet_receipts]
key_repository = $DIR/keystone/fernet-receipts
[credential]
key_repository = $DIR/keystone/credential-keys
[identity]
password_hash_rounds = 4
# one keystone process: an in-process cache stays consistent (keystone invalidates it on every change)
# and spares most of the ~500 sqlite queries a token validation makes (1.2 s -> a few ms)
[cache]
enabled = true
backend = dogpile.cache.memory
[oslo_policy]
policy_file = $DIR/keystone/policy.yaml
EOF
}

# write_glance_conf KEYSTONE_URL PORT PASSWORD [SUBDIR [REGION]]: one glance-api's config in DIR/SUBDIR
write_glance_conf() {
  local keystone_url=$1 glance_port=$2 glance_password=$3 sub=${4:-glance} region=${5:-}
  local g=$DIR/$sub
  cat >"$g/glance-api.conf" <<EOF
[DEFAULT]
bind_host = 127.0.0.1
bind_port = $glance_port
workers = 0
log_file = $g/glance-api.log
use_stderr = false
node_staging_uri = file://$g/staging
enabled_import_methods = [glance-direct]
[database]
connection = sqlite:///$g/glance.sqlite
[glance_store]
stores = file,http
default_store = file
filesystem_store_datadir = $g/images
[os_glance_tasks_store]
filesystem_store_datadir = $g/tasks
[os_glance_staging_store]
filesystem_store_datadir = $g/staging
[task]
work_dir = $g/work
[paste_deploy]
flavor = keystone
config_file = $g/glance-api-paste.ini
[keystone_authtoken]
www_authenticate_uri = $keystone_url
auth_url = $keystone_url
auth_type = password
user_domain_name = Default
project_domain_name = Default
project_name = service
username = glance
password = $glance_password
# validate every token with Keystone, so a revoked token is refused at once
token_cache_time = -1
${region:+region_name = $region}
[oslo_policy]
policy_file = $g/policy.yaml
[oslo_concurrency]
lock_path = $g/locks
EOF
  : >"$g/policy.yaml"
  cp /usr/share/glance-common/glance-api-paste.ini "$g/glance-api-paste.ini"
  mkdir -p "$g/images" "$g/staging" "$g/tasks" "$g/work" "$g/locks"
}

# Users, projects, the image service and its endpoints, an application credential: ensured on every start
# (idempotent), so a changed port updates the catalog.
ensure_catalog() {
  KEYSTONE_URL=$1 GLANCE_URL=$2 GLANCE2_URL=$3 SECRETS=$DIR/secrets.json STATE=$DIR/state.json REGION=$REGION \
    REGION2=$REGION2 "$PY" - <<'EOF'
import json, os, urllib.request, urllib.error

base = os.environ['KEYSTONE_URL'] + '/v3'
secrets = json.load(open(os.environ['SECRETS']))
region = os.environ['REGION']
region2 = os.environ['REGION2']

def call(method, path, body=None, token=None, want_token=False):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header('Content-Type', 'application/json')
    if token:
        req.add_header('X-Auth-Token', token)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            text = resp.read()
            payload = json.loads(text) if text else {}
            return (resp.headers['X-Subject-Token'], payload) if want_token else payload
    except urllib.error.HTTPError as e:
        raise SystemExit(f'{method} {path}: {e.code} {e.read()[:300]!r}')

def password_token(user, password, project):
    body = {'auth': {'identity': {'methods': ['password'], 'password': {'user': {
        'name': user, 'domain': {'id': 'default'}, 'password': password}}},
        'scope': {'project': {'name': project, 'domain': {'id': 'default'}}}}}
    return call('POST', '/auth/tokens', body, want_token=True)

admin, _ = password_token('admin', secrets['admin_password'], 'admin')

def find(kind, plural, **query):
    qs = '&'.join(f'{k}={v}' for k, v in query.items())
    return call('GET', f'/{plural}?{qs}', token=admin)[plural]

def ensure(kind, plural, attrs, **query):
    found = find(kind, plural, **query)
    if found:
        return found[0]
    return call('POST', f'/{plural}', {kind: attrs}, token=admin)[kind]

projects = {name: ensure('project', 'projects', {'name': name, 'domain_id': 'default'}, name=name)
            for name in ('service', 'demo', 'other', 'second')}
roles = {name: ensure('role', 'roles', {'name': name}, name=name) for name in ('admin', 'member', 'reader')}

def ensure_user(name, password, project, role):
    # (the password is set on creation only: changing it revokes the user's tokens issued in that second)
    user = ensure('user', 'users', {'name': name, 'domain_id': 'default', 'password': password}, name=name)
    call('PUT', f"/projects/{projects[project]['id']}/users/{user['id']}/roles/{roles[role]['id']}", token=admin)
    return user

glance_user = ensure_user('glance', secrets['glance_password'], 'service', 'admin')
member = ensure_user('member', secrets['member_password'], 'demo', 'member')
second = ensure_user('second', secrets['second_password'], 'second', 'member')
if not any(r['id'] == region2 for r in call('GET', '/regions', token=admin)['regions']):
    call('POST', '/regions', {'region': {'id': region2}}, token=admin)

def ensure_endpoints(service, url, in_region):
    existing = {e['interface']: e for e in find('endpoint', 'endpoints', service_id=service['id'])
                if e.get('region_id') == in_region}
    for interface in ('public', 'internal', 'admin'):
        if interface in existing:
            if existing[interface]['url'] != url:
                call('PATCH', f"/endpoints/{existing[interface]['id']}", {'endpoint': {'url': url}}, token=admin)
        else:
            call('POST', '/endpoints', {'endpoint': {'service_id': service['id'], 'interface': interface,
                                                      'url': url, 'region_id': in_region}}, token=admin)

# the image service without /v2 (as deployments register it), one glance-api a region; identity in both
# regions (each glance-api's auth middleware looks Keystone up in its own region); all follow the ports
service = ensure('service', 'services', {'type': 'image', 'name': 'glance'}, type='image')
ensure_endpoints(service, os.environ['GLANCE_URL'], region)
ensure_endpoints(service, os.environ['GLANCE2_URL'], region2)
identity = find('service', 'services', type='identity')[0]
for in_region in (region, region2):
    ensure_endpoints(identity, os.environ['KEYSTONE_URL'] + '/v3/', in_region)

member_token, _ = password_token('member', secrets['member_password'], 'demo')
creds = call('GET', f"/users/{member['id']}/application_credentials?name=arch-image-ci", token=member_token)
if not creds['application_credentials']:
    cred = call('POST', f"/users/{member['id']}/application_credentials",
                {'application_credential': {'name': 'arch-image-ci', 'secret': secrets['app_credential_secret'],
                                            'description': 'arch-image test harness'}},
                token=member_token)['application_credential']
else:
    cred = creds['application_credentials'][0]

json.dump({'member_user_id': member['id'], 'demo_project_id': projects['demo']['id'],
           'other_project_id': projects['other']['id'], 'app_credential_id': cred['id'],
           'second_user_id': second['id'], 'second_project_id': projects['second']['id'],
           'image_service_id': service['id']}, open(os.environ['STATE'], 'w'))
EOF
}

write_env() {
  local keystone_url=$1 glance_url=$2 keystone_pid=$3 glance_pid=$4 glance2_url=$5 glance2_pid=$6
  DIR=$DIR KEYSTONE_URL=$keystone_url GLANCE_URL=$glance_url KEYSTONE_PID=$keystone_pid GLANCE_PID=$glance_pid \
    GLANCE2_URL=$glance2_url GLANCE2_PID=$glance2_pid REGION=$REGION REGION2=$REGION2 "$PY" - <<'EOF'
import json, os, shlex
d = os.environ['DIR']
secrets = json.load(open(f'{d}/secrets.json'))
state = json.load(open(f'{d}/state.json'))
auth_url = os.environ['KEYSTONE_URL'] + '/v3'
data = {
    'dir': d,
    'authUrl': auth_url,
    'region': os.environ['REGION'],
    'glanceUrl': os.environ['GLANCE_URL'],
    'glanceConfig': f'{d}/glance/glance-api.conf',
    'keystonePid': int(os.environ['KEYSTONE_PID']),
    'glancePid': int(os.environ['GLANCE_PID']),
    'region2': os.environ['REGION2'],
    'glance2Url': os.environ['GLANCE2_URL'],
    'glance2Config': f'{d}/glance2/glance-api.conf',
    'glance2Pid': int(os.environ['GLANCE2_PID']),
    'second': {'username': 'second', 'password': secrets['second_password'], 'userId': state['second_user_id'],
               'projectName': 'second', 'projectId': state['second_project_id'],
               'userDomainName': 'Default', 'projectDomainName': 'Default'},
    'admin': {'username': 'admin', 'password': secrets['admin_password'], 'projectName': 'admin',
              'userDomainName': 'Default', 'projectDomainName': 'Default'},
    'member': {'username': 'member', 'password': secrets['member_password'], 'userId': state['member_user_id'],
               'projectName': 'demo', 'projectId': state['demo_project_id'],
               'userDomainName': 'Default', 'projectDomainName': 'Default'},
    'appCredential': {'id': state['app_credential_id'], 'name': 'arch-image-ci',
                      'secret': secrets['app_credential_secret']},
    'otherProjectId': state['other_project_id'],
}
tmp = f'{d}/env.json.tmp'
with open(tmp, 'w') as f:
    json.dump(data, f, indent=2)
os.replace(tmp, f'{d}/env.json')
lines = {
    # admin credentials as OS_*, so `. DIR/env; /usr/bin/openstack ...` works as admin
    'OS_AUTH_URL': auth_url, 'OS_IDENTITY_API_VERSION': '3', 'OS_REGION_NAME': data['region'],
    'OS_INTERFACE': 'public', 'OS_AUTH_TYPE': 'password',
    'OS_USERNAME': 'admin', 'OS_PASSWORD': secrets['admin_password'], 'OS_PROJECT_NAME': 'admin',
    'OS_USER_DOMAIN_NAME': 'Default', 'OS_PROJECT_DOMAIN_NAME': 'Default',
    'MEMBER_USERNAME': 'member', 'MEMBER_PASSWORD': secrets['member_password'],
    'MEMBER_USER_ID': state['member_user_id'], 'MEMBER_PROJECT_NAME': 'demo',
    'MEMBER_PROJECT_ID': state['demo_project_id'], 'OTHER_PROJECT_ID': state['other_project_id'],
    'APP_CREDENTIAL_ID': state['app_credential_id'], 'APP_CREDENTIAL_SECRET': secrets['app_credential_secret'],
    'GLANCE_URL': data['glanceUrl'], 'GLANCE_CONFIG': data['glanceConfig'],
    'KEYSTONE_PID': str(data['keystonePid']), 'GLANCE_PID': str(data['glancePid']), 'HARNESS_DIR': d,
}
tmp = f'{d}/env.tmp'
with open(tmp, 'w') as f:
    f.write(''.join(f'export {k}={shlex.quote(v)}\n' for k, v in lines.items()))
os.replace(tmp, f'{d}/env')
EOF
}

# run a noisy tool with its output in LOG, shown only when it fails
logged() {
  local log=$1
  shift
  if ! "$@" >>"$log" 2>&1; then
    echo "harness: $* failed; end of $log:" >&2
    tail -n 30 "$log" >&2
    exit 1
  fi
}

spawn() {
  # its own session (process group), detached from our stdio, pid recorded
  local pidfile=$1 logfile=$2
  shift 2
  setsid "$@" </dev/null >>"$logfile" 2>&1 9>&- &
  echo $! >"$pidfile"
}

wait_until_up() {
  local name=$1 url=$2 pidfile=$3 log=$4 marker=$5
  local deadline=$((SECONDS + 90))
  until answers "$url"; do
    if ! our_pid "$pidfile" "$marker" >/dev/null; then
      echo "harness: $name exited; end of $log:" >&2
      tail -n 30 "$log" >&2 || true
      exit 1
    fi
    ((SECONDS < deadline)) || die "$name did not answer at $url within 90 s (see $log)"
    sleep 0.2
  done
}

stop_services() {
  local pids=() pid
  pid=$(our_pid "$DIR/glance/pid" "$DIR/glance/glance-api.conf") && pids+=("$pid")
  pid=$(our_pid "$DIR/glance2/pid" "$DIR/glance2/glance-api.conf") && pids+=("$pid")
  pid=$(our_pid "$DIR/keystone/pid" "$DIR/keystone/keystone.conf") && pids+=("$pid")
  ((${#pids[@]} > 0)) || return 0
  # each runs in its own process group (setsid): stop the group, then wait
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true; done
  local i
  for ((i = 0; i < 100; i++)); do
    local alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
  for ((i = 0; i < 50; i++)); do
    local alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.1
  done
  rm -f "$DIR/glance/pid" "$DIR/glance2/pid" "$DIR/keystone/pid"
}

start() {
  need_packages
  mkdir -p "$DIR/keystone" "$DIR/glance" "$DIR/glance2" "$DIR/leases"
  chmod 700 "$DIR"

  local keystone_pid glance_pid glance2_pid keystone_port glance_port glance2_port keystone_url glance_url glance2_url
  keystone_pid=$(our_pid "$DIR/keystone/pid" "$DIR/keystone/keystone.conf") || keystone_pid=
  glance_pid=$(our_pid "$DIR/glance/pid" "$DIR/glance/glance-api.conf") || glance_pid=
  glance2_pid=$(our_pid "$DIR/glance2/pid" "$DIR/glance2/glance-api.conf") || glance2_pid=

  if [[ -n $keystone_pid && -n $glance_pid && -n $glance2_pid && -s $DIR/ports ]]; then
    read -r keystone_port glance_port glance2_port <"$DIR/ports"
    if answers "http://127.0.0.1:$keystone_port/v3" && answers "http://127.0.0.1:$glance_port/versions" &&
      answers "http://127.0.0.1:${glance2_port:-0}/versions"; then
      touch "$DIR/leases/$LEASE"
      echo "harness: already running (keystone :$keystone_port pid $keystone_pid, glance :$glance_port pid $glance_pid, :$glance2_port pid $glance2_pid)"
      return 0
    fi
  fi
  stop_services # a half-running set: start over
  # a start that fails half-way leaves nothing running
  trap '[[ ${START_OK:-0} == 1 ]] || stop_services' EXIT

  # the ports of the last start when they are still free (the catalog stays valid), else new ones
  keystone_port='' glance_port='' glance2_port=''
  if [[ -s $DIR/ports ]]; then
    read -r keystone_port glance_port glance2_port <"$DIR/ports"
    [[ -n $keystone_port ]] && ! port_free "$keystone_port" && keystone_port=
    [[ -n $glance_port ]] && ! port_free "$glance_port" && glance_port=
    [[ -n $glance2_port ]] && ! port_free "$glance2_port" && glance2_port=
  fi
  [[ -n $keystone_port ]] || keystone_port=$(free_port)
  [[ -n $glance_port ]] || glance_port=$(free_port)
  while [[ $glance_port == "$keystone_port" ]]; do glance_port=$(free_port); done
  [[ -n $glance2_port ]] || glance2_port=$(free_port)
  while [[ $glance2_port == "$keystone_port" || $glance2_port == "$glance_port" ]]; do glance2_port=$(free_port); done
  echo "$keystone_port $glance_port $glance2_port" >"$DIR/ports"
  keystone_url=http://127.0.0.1:$keystone_port
  glance_url=http://127.0.0.1:$glance_port
  glance2_url=http://127.0.0.1:$glance2_port

  # every secret the harness needs, kept across starts (one added later is filled in)
  (
    umask 077
    "$PY" - "$DIR/secrets.json" <<'EOF'
import base64, json, os, sys
path = sys.argv[1]
secrets = json.load(open(path)) if os.path.exists(path) and os.path.getsize(path) else {}
for key in ('admin_password', 'member_password', 'glance_password', 'app_credential_secret', 'second_password'):
    secrets.setdefault(key, base64.b64encode(os.urandom(24)).decode().translate({ord(c): None for c in '/+='}))
with open(path + '.tmp', 'w') as f:
    json.dump(secrets, f)
os.replace(path + '.tmp', path)
EOF
  )
  local admin_password glance_password
  admin_password=$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["admin_password"])' "$DIR/secrets.json")
  glance_password=$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["glance_password"])' "$DIR/secrets.json")

  write_keystone_conf
  write_glance_conf "$keystone_url" "$glance_port" "$glance_password" glance
  write_glance_conf "$keystone_url" "$glance2_port" "$glance_password" glance2 "$REGION2"
  : >"$DIR/keystone/policy.yaml"

  local kconf=$DIR/keystone/keystone.conf gconf=$DIR/glance/glance-api.conf gconf2=$DIR/glance2/glance-api.conf
  local user group
  user=$(id -un) group=$(id -gn)

  if [[ ! -e $DIR/keystone/.bootstrapped ]]; then
    echo "harness: bootstrapping keystone in $DIR/keystone"
    rm -f "$DIR/keystone/keystone.sqlite"*
    local mlog=$DIR/keystone/manage.log
    logged "$mlog" keystone-manage --config-file "$kconf" db_sync
    sqlite_wal "$DIR/keystone/keystone.sqlite"
    logged "$mlog" keystone-manage --config-file "$kconf" fernet_setup --keystone-user "$user" --keystone-group "$group"
    logged "$mlog" keystone-manage --config-file "$kconf" credential_setup --keystone-user "$user" --keystone-group "$group"
    mkdir -p "$DIR/keystone/fernet-receipts"
    logged "$mlog" keystone-manage --config-file "$kconf" bootstrap --bootstrap-password "$admin_password" \
      --bootstrap-username admin --bootstrap-project-name admin --bootstrap-role-name admin \
      --bootstrap-service-name keystone --bootstrap-region-id "$REGION" \
      --bootstrap-admin-url "$keystone_url/v3/" --bootstrap-internal-url "$keystone_url/v3/" \
      --bootstrap-public-url "$keystone_url/v3/"
    touch "$DIR/keystone/.bootstrapped"
  fi
  # glance-manage's db_sync (one a region) runs concurrently with keystone's first start below
  local sync_pids=() sub
  for sub in glance glance2; do
    if [[ ! -e $DIR/$sub/.bootstrapped ]]; then
      echo "harness: creating glance's database in $DIR/$sub"
      rm -f "$DIR/$sub/glance.sqlite"*
      (glance-manage --config-file "$DIR/$sub/glance-api.conf" db_sync >"$DIR/$sub/db_sync.log" 2>&1 &&
        sqlite_wal "$DIR/$sub/glance.sqlite" && touch "$DIR/$sub/.bootstrapped") &
      sync_pids+=($!)
    fi
  done

  # the arguments after -- go to keystone itself; the config path on the command line also tells our
  # process from anyone else's (our_pid)
  spawn "$DIR/keystone/pid" "$DIR/keystone/keystone.out" /usr/bin/keystone-wsgi-public \
    --host 127.0.0.1 --port "$keystone_port" -- --config-file "$kconf"
  local pid
  for pid in "${sync_pids[@]}"; do wait "$pid" || true; done
  for sub in glance glance2; do
    [[ -e $DIR/$sub/.bootstrapped ]] || {
      tail -n 30 "$DIR/$sub/db_sync.log" >&2
      die "glance-manage db_sync failed in $DIR/$sub"
    }
  done
  # glance needs keystone only when the first request comes: start them all at once
  spawn "$DIR/glance/pid" "$DIR/glance/glance-api.out" /usr/bin/glance-api --config-file "$gconf"
  spawn "$DIR/glance2/pid" "$DIR/glance2/glance-api.out" /usr/bin/glance-api --config-file "$gconf2"
  wait_until_up keystone "$keystone_url/v3" "$DIR/keystone/pid" "$DIR/keystone/keystone.out" "$kconf"
  ensure_catalog "$keystone_url" "$glance_url" "$glance2_url"
  wait_until_up glance "$glance_url/versions" "$DIR/glance/pid" "$DIR/glance/glance-api.out" "$gconf"
  wait_until_up glance2 "$glance2_url/versions" "$DIR/glance2/pid" "$DIR/glance2/glance-api.out" "$gconf2"

  keystone_pid=$(<"$DIR/keystone/pid")
  glance_pid=$(<"$DIR/glance/pid")
  glance2_pid=$(<"$DIR/glance2/pid")
  write_env "$keystone_url" "$glance_url" "$keystone_pid" "$glance_pid" "$glance2_url" "$glance2_pid"
  touch "$DIR/leases/$LEASE"
  START_OK=1
  echo "harness: keystone $keystone_url (pid $keystone_pid), glance $glance_url (pid $glance_pid, $REGION), $glance2_url (pid $glance2_pid, $REGION2); env in $DIR/env"
}

stop() {
  local force=$1
  rm -f "$DIR/leases/$LEASE"
  if ((!force)); then
    local lease others=()
    for lease in "$DIR"/leases/*; do
      [[ -e $lease ]] || continue
      lease=${lease##*/}
      # a numeric lease is a pid: a dead one no longer counts
      if [[ $lease =~ ^[0-9]+$ ]] && ! kill -0 "$lease" 2>/dev/null; then
        rm -f "$DIR/leases/$lease"
        continue
      fi
      others+=("$lease")
    done
    if ((${#others[@]} > 0)); then
      echo "harness: still used by ${others[*]}; leaving the services running"
      return 0
    fi
  fi
  stop_services
  echo "harness: stopped"
}

glance_extra() {
  local port=$1 sub=${2:-glance} mode=${3:-} gconf extra
  gconf=$DIR/$sub/glance-api.conf
  [[ -s $gconf ]] || die "$DIR is not started"
  extra=$DIR/$sub/extra-$port.conf
  printf '[DEFAULT]\nbind_port = %s\nlog_file = %s/%s/glance-api-%s.log\n' "$port" "$DIR" "$sub" "$port" >"$extra"
  if [[ $mode == multistore ]]; then
    # Glance's multi-store: named backends; staging and tasks stay in the reserved os_glance_* stores;
    # copy-image (admins only by Glance's default policy) copies an active image into more stores
    local stores=$DIR/$sub/stores-$port
    mkdir -p "$stores/fast" "$stores/slow"
    cat >>"$extra" <<EOF
enabled_backends = fast:file, slow:file
enabled_import_methods = [glance-direct, copy-image]
[glance_store]
default_backend = fast
[fast]
filesystem_store_datadir = $stores/fast
[slow]
filesystem_store_datadir = $stores/slow
EOF
  elif [[ $sub != glance ]]; then
    # a store of its own: a test can watch the data arrive
    mkdir -p "$DIR/$sub/images-$port"
    printf '[glance_store]\nfilesystem_store_datadir = %s/%s/images-%s\n' "$DIR" "$sub" "$port" >>"$extra"
  fi
  exec /usr/bin/glance-api --config-file "$gconf" --config-file "$extra"
}

usage() {
  sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 64
}

cmd=${1:-}
shift || true
force=0
if [[ $cmd == stop && ${1:-} == --force ]]; then
  force=1
  shift
fi
[[ -n ${1:-} ]] || usage
DIR=$(realpath -m -- "$1")
LEASE=${HARNESS_LEASE:-$PPID}
case $cmd in
start | stop)
  mkdir -p "$DIR"
  exec 9>"$DIR/.lock"
  flock 9
  if [[ $cmd == start ]]; then start; else stop "$force"; fi
  ;;
env)
  [[ -s $DIR/env ]] || die "$DIR/env does not exist: run start first"
  cat "$DIR/env"
  ;;
glance)
  [[ -n ${2:-} ]] || usage
  [[ -z ${3:-} || ${3:-} == glance || ${3:-} == glance2 ]] || usage
  [[ -z ${4:-} || ${4:-} == multistore ]] || usage
  glance_extra "$2" "${3:-glance}" "${4:-}"
  ;;
*) usage ;;
esac
