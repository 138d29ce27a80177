#!/usr/bin/env bash
# Runs the benchmarks of every part and prints one table, which it also writes to
# BENCHMARKS.md with the machine it ran on:
#   api    cargo bench -p smsgw-api      accepted POST /api/v1/messages vs raw inserts, and
#                                        while retention purges 1,000,000 old messages
#   agent  cargo bench -p smsgw-agent    modem utilisation, inbound latency, agent memory
#   broker cargo bench -p smsgw-broker   QoS 1 throughput and latency vs Mosquitto
#   stack  cargo bench -p smsgw-e2e      the real processes: accept -> modem, RSS, start-up
# Each benchmark ends its output with a table headed `| measure | value | target | |`;
# those rows are gathered here. Needs PostgreSQL (as the tests find it) and, for the
# broker comparison, Mosquitto at 127.0.0.1:1883. Takes 10 to 20 minutes.
# SMSGW_BENCH_PARTS="api stack" runs only those parts; the table then takes the other
# parts from their last output (under the target directory), when there is one.
set -euo pipefail
cd "$(dirname "$0")/.."

out=${CARGO_TARGET_DIR:-target}/bench-all
mkdir -p "$out"
parts=(api agent broker stack)
declare -A command=(
  [api]="cargo bench -p smsgw-api"
  [agent]="cargo bench -p smsgw-agent"
  [broker]="cargo bench -p smsgw-broker"
  [stack]="cargo bench -p smsgw-e2e --bench stack"
)

for part in ${SMSGW_BENCH_PARTS:-${parts[*]}}; do
  [ -n "${command[$part]:-}" ] || { echo "unknown part $part (one of ${parts[*]})" >&2; exit 2; }
  printf '\n== %s: %s\n' "$part" "${command[$part]}"
  # shellcheck disable=SC2086 # the command is split on purpose
  ${command[$part]} 2>&1 | tee "$out/$part.txt"
done

# The rows of the summary tables of each output (a part may run several benchmarks).
summary() {
  awk '
    /^\| measure \| value \| target \| \|$/ { take = 1; next }
    take && /^\|---/ { next }
    take && /^\|/ { rows = rows $0 "\n"; next }
    take { take = 0 }
    END { printf "%s", rows }
  ' "$1"
}

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
mem=$(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo 2>/dev/null || true)
{
  echo "# Benchmarks"
  echo
  echo "Written by \`bench/all.sh\` on $(date -u +%Y-%m-%dT%H:%MZ) at commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)."
  echo "Machine: ${cpu:-unknown CPU}, $(nproc) cores, ${mem:-unknown memory}, $(uname -sr);"
  echo "$(rustc --version). Shared machines are noisy: compare ratios taken in one run, not"
  echo "absolute numbers across runs. The full output of each part is in \`$out/\`."
  echo
  echo "| part | measure | value | target | |"
  echo "|---|---|---|---|---|"
  for part in "${parts[@]}"; do
    if [ -f "$out/$part.txt" ]; then
      summary "$out/$part.txt" | sed "s/^|/| $part |/"
    else
      echo "| $part | not run | | | |"
    fi
  done
} > BENCHMARKS.md

printf '\n'
cat BENCHMARKS.md
