#!/usr/bin/env bash
# Where greeter's overhead goes: the overhead scenario (no I/O wait, 64 connections) against
# greeter as by default, with its access log off, with its metrics off, with both off, and
# against bare actix-web, ROUNDS times alternating; one line per run, sorted by configuration
# (take the medians). CPU per request is the server's user + system time from /proc.
#   bench/overhead-by-feature.sh target/release/greeter bench/bare/target/release/bare-actix \
#       target/tools/bin/oha [ROUNDS]
set -euo pipefail
greeter=$1 bare=$2 oha=$3 rounds=${4:-3}
port=18060

run() {
  local label=$1; shift
  "$@" >/dev/null 2>&1 &
  local pid=$!
  sleep 0.7
  local t0 t1 out rps answered
  t0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  out=$("$oha" -c 64 -z 6s --no-tui "http://127.0.0.1:$port/" 2>&1)
  t1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  answered=$(awk '/^ +\[200\]/ {print $2}' <<<"$out")
  python3 -c "print('%-24s %10.0f req/s %7.2f µs/req' % ('$label', $rps, ($t1 - $t0) * 1e6 / $(getconf CLK_TCK) / $answered))"
}

for _ in $(seq "$rounds"); do
  serve=("$greeter" --port "$port" --workers 2 --io-delay 0s)
  run "greeter" env RUST_LOG=info "${serve[@]}"
  run "access log off" env RUST_LOG=warn "${serve[@]}"
  run "metrics off" env RUST_LOG=info "${serve[@]}" --metrics-path off
  run "both off" env RUST_LOG=warn "${serve[@]}" --metrics-path off
  run "bare actix-web" "$bare" "$port" 2 0
done | sort
