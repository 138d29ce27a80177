#!/usr/bin/env bash
# The whole gateway on this machine: PostgreSQL, smsgw-broker, smsgw-api, a simulated
# Huawei modem (hilink-sim) and an agent, wired together with generated credentials.
#
#   deploy/local/up.sh            start everything, print how to send a first SMS, and run
#                                 until Ctrl-C (which stops everything it started)
#   deploy/local/up.sh --check    start everything, send one SMS through the API, wait until
#                                 the simulated network has it and the API says sent or
#                                 delivered, then stop (also SMSGW_LOCAL_ONESHOT=1)
#
# Needs Rust (cargo), curl and PostgreSQL: DATABASE_URL if set, else the server on
# 127.0.0.1:5432 as user postgres (database smsgw_local, created if absent), else a cluster
# of its own under target/local/pg (initdb and pg_ctl from PATH or
# /usr/lib/postgresql/*/bin; SMSGW_LOCAL_PG=own asks for it even when 5432 answers).
# Everything it makes stays under target/local/: secrets, configuration, the agent's
# journal, the API key, logs (target/local/logs/*.log). Running it again reuses them;
# `rm -rf target/local` starts from scratch.
#
# Ports (each checked to be free first):
#   SMSGW_LOCAL_HTTP_PORT            8080  the API (Swagger UI at /api/docs)
#   SMSGW_LOCAL_MQTT_PORT            1884  smsgw-broker (1883 is often Mosquitto's)
#   SMSGW_LOCAL_BROKER_METRICS_PORT  9043  the broker's /metrics
#   SMSGW_LOCAL_SIM_PORT             8081  the simulated modem (control API under /sim/)
#   SMSGW_LOCAL_AGENT_METRICS_PORT   9108  the agent's /metrics
#   SMSGW_LOCAL_PG_PORT              5433  the cluster of its own, when one is needed
# Other settings: SMSGW_LOCAL_SITE (local), SMSGW_LOCAL_PHONE (+33612345678, where the
# check sends), SMSGW_LOCAL_TIMEOUT (120: seconds to wait for readiness and for the
# check's SMS), RUST_LOG (info).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

ONESHOT="${SMSGW_LOCAL_ONESHOT:-0}"
for arg in "$@"; do
  case "$arg" in
    --check | --oneshot) ONESHOT=1 ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "up.sh: unknown argument $arg (try --help)" >&2
      exit 2
      ;;
  esac
done
case "$ONESHOT" in 1 | true | yes) ONESHOT=1 ;; *) ONESHOT=0 ;; esac

HTTP_PORT="${SMSGW_LOCAL_HTTP_PORT:-8080}"
MQTT_PORT="${SMSGW_LOCAL_MQTT_PORT:-1884}"
BROKER_METRICS_PORT="${SMSGW_LOCAL_BROKER_METRICS_PORT:-9043}"
SIM_PORT="${SMSGW_LOCAL_SIM_PORT:-8081}"
AGENT_METRICS_PORT="${SMSGW_LOCAL_AGENT_METRICS_PORT:-9108}"
PG_PORT="${SMSGW_LOCAL_PG_PORT:-5433}"
SITE="${SMSGW_LOCAL_SITE:-local}"
PHONE="${SMSGW_LOCAL_PHONE:-+33612345678}"
TIMEOUT="${SMSGW_LOCAL_TIMEOUT:-120}"
export RUST_LOG="${RUST_LOG:-info}"

LOCAL="$ROOT/target/local"
LOGS="$LOCAL/logs"
API="http://127.0.0.1:$HTTP_PORT"
SIM="http://127.0.0.1:$SIM_PORT"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() {
  printf 'up.sh: %s\n' "$*" >&2
  exit 1
}
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# --- checks before anything starts -------------------------------------------------------

command -v cargo >/dev/null || die "cargo is not on PATH: install Rust (https://rustup.rs)"
command -v curl >/dev/null || die "curl is not on PATH: install it (Debian: apt-get install curl)"

case "$SITE" in
  *[!a-z0-9]* | "") die "SMSGW_LOCAL_SITE=$SITE: a site id is 1 to 32 characters of a-z and 0-9" ;;
esac

for var in SMSGW_LOCAL_HTTP_PORT:$HTTP_PORT SMSGW_LOCAL_MQTT_PORT:$MQTT_PORT \
  SMSGW_LOCAL_BROKER_METRICS_PORT:$BROKER_METRICS_PORT SMSGW_LOCAL_SIM_PORT:$SIM_PORT \
  SMSGW_LOCAL_AGENT_METRICS_PORT:$AGENT_METRICS_PORT; do
  name="${var%%:*}"
  port="${var#*:}"
  case "$port" in
    '' | *[!0-9]*) die "$name=$port is not a port number" ;;
  esac
  if listening "$port"; then
    die "port $port is already in use (something listens on 127.0.0.1:$port); stop it or choose another port with $name=…"
  fi
done

mkdir -p "$LOGS" "$LOCAL/agent"
chmod 700 "$LOCAL"

# --- processes: started in the background, stopped on exit -------------------------------

PIDS=()
NAMES=()
PG_STARTED_DATA=""
PG_RUN_AS=""
PG_CTL=""

stop_all() {
  local status=$?
  trap - EXIT INT TERM
  if [ "${#PIDS[@]}" -gt 0 ]; then
    say "stopping ${NAMES[*]}"
    # In reverse order, each given 5 s to finish: the agent first (it tells the broker
    # it goes offline), the broker last.
    local i
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
      local pid="${PIDS[$i]}"
      kill -TERM "$pid" 2>/dev/null || continue
      for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
      kill -KILL "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
  fi
  if [ -n "$PG_STARTED_DATA" ]; then
    say "stopping PostgreSQL ($PG_STARTED_DATA)"
    as_pg_user "$PG_CTL" -D "$PG_STARTED_DATA" -m fast -w stop >/dev/null 2>&1 || true
  fi
  exit "$status"
}
trap stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start NAME COMMAND… : runs COMMAND in the background with its output in logs/NAME.log,
# in a session of its own so that Ctrl-C reaches only this script, which then stops the
# programs in order (the agent first, so that it can say it goes offline).
start() {
  local name="$1"
  shift
  if command -v setsid >/dev/null; then
    set -- setsid "$@"
  fi
  "$@" >"$LOGS/$name.log" 2>&1 </dev/null &
  PIDS+=("$!")
  NAMES+=("$name")
}

# Fails with the end of a process's log when it is no longer running.
check_alive() {
  local i
  for i in "${!PIDS[@]}"; do
    if ! kill -0 "${PIDS[$i]}" 2>/dev/null; then
      echo "up.sh: ${NAMES[$i]} exited; the end of $LOGS/${NAMES[$i]}.log:" >&2
      tail -n 20 "$LOGS/${NAMES[$i]}.log" >&2 || true
      exit 1
    fi
  done
}

# wait_for WHAT COMMAND… : retries COMMAND for up to TIMEOUT seconds.
wait_for() {
  local what="$1"
  shift
  local deadline=$((SECONDS + TIMEOUT))
  until "$@" >/dev/null 2>&1; do
    check_alive
    if [ "$SECONDS" -ge "$deadline" ]; then
      die "timed out after ${TIMEOUT}s waiting for $what (logs: $LOGS/*.log)"
    fi
    sleep 0.3
  done
}

# --- build --------------------------------------------------------------------------------

say "building the release binaries (cargo build --release)"
cargo build --release --bins -p smsgw-api -p smsgw-broker -p smsgw-agent -p hilink --features hilink/sim
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$ROOT/$TARGET_DIR" ;; esac
BIN="$TARGET_DIR/release"
for b in smsgw-api smsgw-broker smsgw-agent hilink-sim; do
  [ -x "$BIN/$b" ] || die "$BIN/$b was not built"
done
# The programs log to files: no colour codes in them.
export NO_COLOR=1

# --- secrets (generated once, kept in target/local/secrets.env) --------------------------

random_hex() { od -An -tx1 -N32 /dev/urandom | tr -d ' \n'; }
if [ ! -s "$LOCAL/secrets.env" ]; then
  (
    umask 077
    {
      echo "# Generated by deploy/local/up.sh for this machine only."
      echo "SMSGW_JWT_SECRET=$(random_hex)"
      echo "SMSGW_KEY_PEPPER=$(random_hex)"
    } >"$LOCAL/secrets.env"
  )
fi
set -a
# shellcheck source=/dev/null
. "$LOCAL/secrets.env"
set +a

# --- database -----------------------------------------------------------------------------

# Newest PostgreSQL program NAME on PATH or under /usr/lib/postgresql/*/bin.
pg_program() {
  if command -v "$1" >/dev/null; then
    command -v "$1"
    return
  fi
  local found
  found="$(printf '%s\n' /usr/lib/postgresql/*/bin/"$1" | sort -V | tail -n 1)"
  [ -x "$found" ] && echo "$found"
}

as_pg_user() {
  if [ -n "$PG_RUN_AS" ]; then
    runuser -u "$PG_RUN_AS" -- "$@"
  else
    "$@"
  fi
}

# Creates database $2 on the server at URL $1 (its postgres database) unless it exists.
ensure_database() {
  local url="$1" name="$2" psql
  psql="$(pg_program psql)" || die "psql not found: install the PostgreSQL client, or set DATABASE_URL to an existing database"
  if [ "$("$psql" "$url" -XtAc "SELECT 1 FROM pg_database WHERE datname = '$name'")" != "1" ]; then
    "$psql" "$url" -Xqc "CREATE DATABASE $name" ||
      die "cannot create the database $name on ${url%/*} (or set DATABASE_URL to an existing database)"
    echo "created the database $name"
  fi
}

# A cluster of our own in target/local/pg (or, as root when the server user cannot reach
# the repository, in the temp dir with target/local/pg pointing at it).
own_cluster() {
  local initdb
  initdb="$(pg_program initdb)" || die "no PostgreSQL found: set DATABASE_URL, start a server on 127.0.0.1:5432, or install the server binaries (Debian: apt-get install postgresql) for a cluster of our own"
  PG_CTL="$(pg_program pg_ctl)" || die "pg_ctl not found next to $initdb"
  case "$PG_PORT" in '' | *[!0-9]*) die "SMSGW_LOCAL_PG_PORT=$PG_PORT is not a port number" ;; esac
  local data="$LOCAL/pg"
  if [ "$(id -u)" = 0 ]; then
    # initdb and postgres refuse to run as root.
    if id postgres >/dev/null 2>&1; then PG_RUN_AS=postgres; else PG_RUN_AS=nobody; fi
    # The server user must reach its data directory through target/local.
    chmod 711 "$LOCAL"
    if [ ! -e "$data" ] && ! runuser -u "$PG_RUN_AS" -- test -x "$LOCAL" 2>/dev/null; then
      local outside
      outside="${TMPDIR:-/tmp}/smsgw-local-pg-$(printf '%s' "$ROOT" | cksum | cut -d' ' -f1)"
      mkdir -p "$outside"
      ln -s "$outside" "$data"
    fi
    mkdir -p "$data/"
    chown "$PG_RUN_AS:" "$data/"
    chmod 700 "$data/"
  fi
  mkdir -p "$data/"
  if [ ! -s "$data/PG_VERSION" ]; then
    say "creating a PostgreSQL cluster in $data"
    as_pg_user "$initdb" -D "$data/" -U postgres --auth=trust -E UTF8 --no-instructions \
      >"$LOGS/initdb.log" 2>&1 || {
      tail -n 20 "$LOGS/initdb.log" >&2
      die "initdb failed (log: $LOGS/initdb.log)"
    }
  fi
  if as_pg_user "$PG_CTL" -D "$data/" status >/dev/null 2>&1; then
    echo "PostgreSQL already runs in $data"
  else
    if listening "$PG_PORT"; then
      die "port $PG_PORT is already in use; choose another port for our PostgreSQL with SMSGW_LOCAL_PG_PORT=…"
    fi
    say "starting PostgreSQL on 127.0.0.1:$PG_PORT"
    as_pg_user "$PG_CTL" -D "$data/" -l "$data/server.log" -w -t 60 \
      -o "-p $PG_PORT -k $data/ -c listen_addresses=127.0.0.1" start >/dev/null ||
      die "PostgreSQL did not start (log: $data/server.log)"
    PG_STARTED_DATA="$data/"
  fi
  ensure_database "postgres://postgres@127.0.0.1:$PG_PORT/postgres" smsgw_local
  DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/smsgw_local"
}

if [ -n "${DATABASE_URL:-}" ]; then
  say "database: DATABASE_URL"
elif [ "${SMSGW_LOCAL_PG:-}" = own ]; then
  say "database: a cluster of our own (SMSGW_LOCAL_PG=own)"
  own_cluster
elif listening 5432; then
  say "database: smsgw_local on the PostgreSQL server at 127.0.0.1:5432"
  ensure_database "postgres://postgres@127.0.0.1:5432/postgres" smsgw_local
  DATABASE_URL="postgres://postgres@127.0.0.1:5432/smsgw_local"
else
  say "database: no server on 127.0.0.1:5432, using a cluster of our own"
  own_cluster
fi
export DATABASE_URL

"$BIN/smsgw-api" migrate >"$LOGS/migrate.log" 2>&1 || {
  cat "$LOGS/migrate.log" >&2
  die "migrating the database failed"
}

# --- the site and its agent credential, the API key --------------------------------------

if "$BIN/smsgw-api" sites list | cut -f1 | grep -qx "$SITE"; then
  credential="$("$BIN/smsgw-api" sites credentials --id "$SITE" 2>/dev/null)"
else
  credential="$("$BIN/smsgw-api" sites create --id "$SITE")"
  echo "registered the site $SITE"
fi
AGENT_TOKEN="$(printf '%s\n' "$credential" | sed -n 's/^SMSGW_MQTT_PASSWORD=//p')"
[ -n "$AGENT_TOKEN" ] || die "smsgw-api did not print the agent's broker token"

# The key is shown once by `keys create`; keep it to show it again. A kept key that this
# database does not know (or has revoked) is replaced.
KEY_FILE="$LOCAL/api-key"
API_KEY=""
if [ -s "$KEY_FILE" ]; then
  API_KEY="$(cat "$KEY_FILE")"
  prefix="${API_KEY:0:16}"
  if ! "$BIN/smsgw-api" keys list | awk -F'\t' -v p="$prefix" '$1 == p && $7 == "-" { found = 1 } END { exit !found }'; then
    API_KEY=""
  fi
fi
if [ -z "$API_KEY" ]; then
  API_KEY="$("$BIN/smsgw-api" keys create --name local --site "$SITE" --rate-limit 600 2>/dev/null)"
  (
    umask 077
    printf '%s\n' "$API_KEY" >"$KEY_FILE"
  )
fi

# --- configuration files ------------------------------------------------------------------

cat >"$LOCAL/broker.toml" <<EOF
# Generated by deploy/local/up.sh; see \`smsgw-broker configfile\` for every setting.
[[listeners]]
name = "local"
listen = "127.0.0.1:$MQTT_PORT"

[metrics]
listen = "127.0.0.1:$BROKER_METRICS_PORT"
EOF

(
  umask 077
  cat >"$LOCAL/agent.toml" <<EOF
# Generated by deploy/local/up.sh; see \`smsgw-agent configfile\` for every setting.
site = "$SITE"
state_dir = "$LOCAL/agent"
metrics_addr = "127.0.0.1:$AGENT_METRICS_PORT"

[mqtt]
url = "mqtt://127.0.0.1:$MQTT_PORT"
password = "$AGENT_TOKEN"
ack_timeout_ms = 5000

[[modems]]
id = "sim0"
url = "$SIM/"
max_per_minute = 60
min_gap_ms = 500

[timing]
notification_poll_ms = 1000
list_poll_ms = 10000
health_interval_ms = 10000
EOF
)

# --- start --------------------------------------------------------------------------------

say "starting smsgw-broker, hilink-sim, smsgw-api and smsgw-agent"
start broker "$BIN/smsgw-broker" run --config "$LOCAL/broker.toml"
start sim "$BIN/hilink-sim" --addr "127.0.0.1:$SIM_PORT" --send-duration-ms 500 --report-delay-ms 1500
SMSGW_HTTP_ADDR="127.0.0.1:$HTTP_PORT" SMSGW_MQTT_URL="mqtt://127.0.0.1:$MQTT_PORT" \
  start api "$BIN/smsgw-api" serve
start agent "$BIN/smsgw-agent" run --config "$LOCAL/agent.toml"

# (Answers are read whole before grep: with pipefail, grep -q closing the pipe early
# would fail curl and the test.)
site_online() {
  local site
  site="$(curl -fsS -H "X-API-Key: $API_KEY" "$API/api/v1/sites/$SITE")" &&
    grep -q '"presence":"online"' <<<"$site"
}
wait_for "the API to be ready ($API/readyz)" curl -fsS "$API/readyz"
wait_for "the site $SITE to come online" site_online

cat <<EOF

smsgw runs locally.

  API key (site $SITE):  $API_KEY

Send a first SMS:

  curl -sS $API/api/v1/messages -H "X-API-Key: $API_KEY" \\
    -H "Content-Type: application/json" -d '{"phone":"$PHONE","content":"Hello from smsgw"}'

Read it back (the id is in the answer), or list everything:

  curl -sS $API/api/v1/messages/ID -H "X-API-Key: $API_KEY"
  curl -sS "$API/api/v1/messages?limit=10" -H "X-API-Key: $API_KEY"

Swagger UI:         $API/api/docs
Sites and modems:   curl -sS $API/api/v1/sites -H "X-API-Key: $API_KEY"
Simulated network:  $SIM/sim/ledger   (every SMS the modem sent)
Receive an SMS:     curl -sS $SIM/sim/inbound -H "Content-Type: application/json" -d '{"from":"+33612345679","text":"Hi"}'
Logs:               $LOGS/{broker,sim,api,agent}.log
Settings:           $LOCAL/{secrets.env,broker.toml,agent.toml}
EOF

if [ "$ONESHOT" = 1 ]; then
  echo
  say "check: sending one SMS through the API"
  text="up.sh check $(date -u +%Y-%m-%dT%H:%M:%SZ) $$"
  answer="$(curl -sS "$API/api/v1/messages" -H "X-API-Key: $API_KEY" -w '\n%{http_code}' \
    -H "Content-Type: application/json" -d "{\"phone\":\"$PHONE\",\"content\":\"$text\"}")" ||
    die "the API did not answer"
  [ "${answer##*$'\n'}" = 201 ] || die "the API refused the message: $answer"
  id="$(printf '%s' "$answer" | sed -n 's/.*"id":"\([0-9a-f-]*\)".*/\1/p' | head -n 1)"
  [ -n "$id" ] || die "no message id in the answer: $answer"
  echo "message $id queued"
  in_ledger() {
    local ledger
    ledger="$(curl -fsS "$SIM/sim/ledger")" && grep -qF "\"text\":\"$text\"" <<<"$ledger"
  }
  sent() {
    local message
    message="$(curl -fsS "$API/api/v1/messages/$id" -H "X-API-Key: $API_KEY")" &&
      grep -qE '"status":"(sent|delivered)"' <<<"$message"
  }
  wait_for "the SMS to reach the simulated network ($SIM/sim/ledger)" in_ledger
  echo "the simulated network has it"
  wait_for "the API to report it sent" sent
  status="$(curl -fsS "$API/api/v1/messages/$id" -H "X-API-Key: $API_KEY" | sed -n 's/.*"status":"\([a-z_]*\)".*/\1/p' | head -n 1)"
  say "check passed: message $id is $status"
  exit 0
fi

echo
say "running; Ctrl-C stops everything"
while true; do
  check_alive
  sleep 1
done
