# shellcheck shell=bash
# Shared helpers for scripts/setup.sh and .ci/run (source this file; it runs nothing itself).
# Local services are fixed at 127.0.0.1:6379 (Redis) and 127.0.0.1:5432 (PostgreSQL): the
# defaults the apps and tests use. Every function is idempotent: it does nothing if all is well.

PNPM_VERSION=12.4.2 # must match "packageManager" in package.json; pnpm cannot switch versions here
NODE_VERSION=24.22.3 # the Node LTS Ensemble runs on ("engines" in package.json; the Dockerfile's node:24)

say() { printf '==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Runs a command as root: directly when we are root, else through sudo.
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "'$*' needs root: run this script as root or install sudo"
  fi
}

node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

# Installs Node $NODE_VERSION when the node found is older (Debian and Ubuntu ship Node 20 or
# older). The binary comes from the npm registry (package node-linux-<arch>, the official build)
# into ENSEMBLE_NODE_PREFIX, linked as ENSEMBLE_NODE_BIN/node, which PATH puts before /usr/bin:
# every later `node`, `pnpm` and script in this shell and the user's runs on it.
ensure_node() {
  local want=${NODE_VERSION%%.*}
  if [ "$(node_major)" -ge "$want" ]; then return; fi
  command -v npm >/dev/null 2>&1 || die "npm not found: install Node.js $want (it ships npm), or any Node.js with npm to bootstrap it"
  local arch
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) die "no Node.js $want build for $(uname -m) in the npm registry: install Node.js $want yourself" ;;
  esac
  local prefix=${ENSEMBLE_NODE_PREFIX:-/usr/local/lib/ensemble-node} bin=${ENSEMBLE_NODE_BIN:-/usr/local/bin}
  say "installing Node $NODE_VERSION into $prefix (found $(node --version 2>/dev/null || echo none))"
  local run=(); [ -w "$(dirname "$prefix")" ] && [ -w "$bin" ] || run=(as_root)
  # npm finds its global config (registry, proxy, CA file) beside the node that runs it: read
  # the machine's now, before the new node takes over, to carry it over below.
  local npmrc
  npmrc=$(npm config get globalconfig 2>/dev/null || true)
  "${run[@]}" npm install --prefix "$prefix" --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
    "node-linux-$arch@$NODE_VERSION"
  if [ -n "$npmrc" ] && [ -f "$npmrc" ]; then
    "${run[@]}" mkdir -p "$prefix/node_modules/node-linux-$arch/etc"
    "${run[@]}" cp "$npmrc" "$prefix/node_modules/node-linux-$arch/etc/npmrc"
  fi
  "${run[@]}" ln -sf "$prefix/node_modules/node-linux-$arch/bin/node" "$bin/node"
  case ":$PATH:" in *":$bin:"*) ;; *) export PATH="$bin:$PATH" ;; esac
  hash -r
  [ "$(node_major)" -ge "$want" ] \
    || die "node is still $(node --version) after installing Node $NODE_VERSION: put $bin before $(dirname "$(command -v node)") in PATH"
}

# Installs pnpm with npm (corepack fails here) unless the pinned version is already there.
ensure_pnpm() {
  if [ "$(pnpm --version 2>/dev/null || true)" = "$PNPM_VERSION" ]; then return; fi
  command -v npm >/dev/null 2>&1 || die "npm not found: install Node.js (it ships npm) first"
  # npm's global prefix follows the running node: for the Node ensure_node brings that is its
  # package folder, whose bin/ is not on PATH. Then pnpm goes where that node is linked.
  local prefix
  prefix=$(npm prefix -g)
  case ":$PATH:" in *":$prefix/bin:"*) ;; *) prefix=$(dirname "${ENSEMBLE_NODE_BIN:-/usr/local/bin}") ;; esac
  say "installing pnpm@$PNPM_VERSION with npm into $prefix"
  local run=(); mkdir -p "$prefix/lib" 2>/dev/null && [ -w "$prefix/lib" ] && [ -w "$prefix/bin" ] || run=(as_root)
  # pnpm links its native binary in an install script, which npm runs for global installs only when allowed.
  "${run[@]}" npm i -g --prefix "$prefix" --allow-scripts=pnpm --no-audit --no-fund --loglevel=error "pnpm@$PNPM_VERSION"
  hash -r
  [ "$(pnpm --version 2>/dev/null || true)" = "$PNPM_VERSION" ] \
    || die "pnpm $PNPM_VERSION is not on PATH after installing it into $prefix: add $prefix/bin to PATH"
}

# Newest PostgreSQL cluster version under /etc/postgresql (Debian layout), e.g. "15".
# shellcheck disable=SC2012 # version-named folders only
pg_version() { ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1; }

# Installs Redis and PostgreSQL from Debian's packages when either is missing.
ensure_service_packages() {
  if command -v redis-server >/dev/null 2>&1 && command -v pg_ctlcluster >/dev/null 2>&1 \
    && [ -n "$(pg_version)" ]; then return; fi
  command -v apt-get >/dev/null 2>&1 \
    || die "redis-server/postgresql missing and no apt-get: install Redis 7 and PostgreSQL yourself"
  say "installing redis-server and postgresql (apt-get)"
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server postgresql
}

# Chromium for the browser test of Bull Board (apps/api, playwright-core drives it headless).
# Debian's package: playwright's own download needs a site we do not depend on.
ensure_chromium() {
  if command -v chromium >/dev/null 2>&1; then return; fi
  command -v apt-get >/dev/null 2>&1 \
    || die "chromium missing and no apt-get: install Chromium (the Bull Board browser test needs it; CHROMIUM_PATH points the test at it)"
  say "installing chromium (apt-get)"
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium
}

# Polls "$@" up to 30 times, half a second apart; fails with a hint when it never succeeds.
wait_for() {
  local what=$1; shift
  for _ in $(seq 30); do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; done
  die "$what did not come up within 15 s; check its log (redis: stdout of redis-server, postgres: /var/log/postgresql/)"
}

redis_up() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = PONG ]; }

# Starts Redis in the background (no persistence: it holds only queues of this machine's runs).
start_redis() {
  if redis_up; then say "redis is running"; return; fi
  say "starting redis on 127.0.0.1:6379"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no >/dev/null
  wait_for redis redis_up
}

# Starts the Debian cluster directly: containers block service autostart and have no systemd.
start_postgres() {
  if pg_isready -h 127.0.0.1 -p 5432 -q; then say "postgres is running"; return; fi
  local version; version=$(pg_version)
  [ -n "$version" ] || die "no PostgreSQL cluster in /etc/postgresql: run scripts/setup.sh"
  # Debian picks the next free port when 5432 is taken at install time; the apps expect 5432.
  local conf="/etc/postgresql/$version/main/postgresql.conf" port
  port=$(sed -n 's/^port *= *\([0-9]*\).*/\1/p' "$conf")
  [ "${port:-5432}" = 5432 ] || die "postgres $version/main is set to port $port: set 'port = 5432' in $conf"
  say "starting postgres $version on 127.0.0.1:5432"
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start
  wait_for postgres pg_isready -h 127.0.0.1 -p 5432 -q
}

# True when the URLs' login (postgres, no password, over TCP) works. -w: never prompt.
pg_tcp_login_ok() { psql -w -h 127.0.0.1 -U postgres -d postgres -Atqc 'select 1' >/dev/null 2>&1; }

# Runs a postgres client command as a superuser: over TCP if that works, else as the postgres
# OS user over the socket (Debian's default "peer" auth, the only way in on a fresh install).
pg_admin() {
  if pg_tcp_login_ok; then PGHOST=127.0.0.1 PGUSER=postgres "$@"
  # (cd /: the postgres user may not be allowed into our working directory.)
  elif [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@")
  elif command -v sudo >/dev/null 2>&1; then (cd / && sudo -u postgres "$@")
  else die "cannot log in to postgres as a superuser: run as root, or with sudo available"
  fi
}

# DATABASE_URL has no password (postgres://postgres@127.0.0.1:5432/db). A fresh Debian install
# asks for one over TCP, so on such a machine allow passwordless logins from this host only.
ensure_postgres_local_login() {
  if pg_tcp_login_ok; then return; fi
  local hba; hba="/etc/postgresql/$(pg_version)/main/pg_hba.conf"
  say "allowing passwordless postgres logins from 127.0.0.1/::1 (local dev/CI only) in $hba"
  # pg_hba.conf is first-match: the lines go on top. The marker keeps this from repeating.
  if ! as_root grep -q 'added by ensemble scripts/services.sh' "$hba"; then
    # shellcheck disable=SC2016 # $1 expands in the inner shell
    as_root sh -c '{ printf "%s\n" "# added by ensemble scripts/services.sh: passwordless logins from this host" \
      "host all all 127.0.0.1/32 trust" "host all all ::1/128 trust"; cat "$1"; } > "$1.new" \
      && cat "$1.new" > "$1" && rm "$1.new"' sh "$hba"
  fi
  as_root pg_ctlcluster --skip-systemctl-redirect "$(pg_version)" main reload
  wait_for "postgres login" pg_tcp_login_ok
}

# Creates database $1 (owned by postgres) unless it exists.
ensure_database() {
  local db=$1
  if [ "$(pg_admin psql -w -d postgres -Atqc "select 1 from pg_database where datname = '$db'")" = 1 ]; then
    say "database $db exists"; return
  fi
  say "creating database $db"
  pg_admin createdb -O postgres "$db"
}

# Gives the current OS user a superuser role, so `psql`, `createdb` … work without -U.
ensure_user_role() {
  local user; user=$(id -un)
  [ "$user" = postgres ] && return
  if [ "$(pg_admin psql -w -d postgres -Atqc "select 1 from pg_roles where rolname = '$user'")" = 1 ]; then return; fi
  say "creating postgres role $user"
  pg_admin createuser --superuser "$user"
}
