#!/usr/bin/env bash
# Side-by-side throughput of sesam and a certified peer, panva's oidc-provider (npm, 9.x),
# on one machine in one run. Each server runs alone on CPU 0 (the peer first, then sesam
# after the peer has stopped); every load generator runs on CPU 1. Measured, DURATION
# seconds each after WARMUP seconds, CONCURRENCY connections or flows in flight:
#   a) GET /.well-known/openid-configuration, both servers (wrk)
#   b) peer: client_credentials token requests, client_secret_basic, ES256 JWT access
#      tokens (wrk + wrk-token.lua). sesam has no such grant (it logs people in), so for
#      sesam the table shows the latency of the token step inside its complete logins,
#      next to the same authorization-code exchange step of the peer's code flow.
#   c) peer: complete authorization-code + PKCE (S256) flows per second, the login
#      finished at once by the peer itself (peer-server.mjs), driven by flow-driver.mjs:
#      authorize → interaction → resume → callback code → token → userinfo.
#   d) sesam: complete app-approved logins per second (sesam-bench run on 10,000 seeded
#      people: PAR, user ID, app choice, app approval, callback, token, userinfo).
# Reading the output: the table ends with "sesam/peer" ratios (above 1 = sesam faster);
# every figure, with per-step latencies, is in the JSON file OUT. The two login rows are
# not the same work: the peer's login skips the person and the app entirely and keeps its
# state in memory, sesam's is a full login on SQLite. On a 2-core machine anything else
# running (a compile) disturbs the figures: the row "other processes' CPU" says how many
# cores other processes used during each measurement (0.00 = undisturbed; above 0.10 the
# summary warns). The load averages include this script's own two busy cores.
#
# Usage, from the repository root: crates/bench/peer/compare.sh
# Env: DURATION (10) CONCURRENCY (16) WARMUP (2) PEOPLE (10000) OUT (./peer-compare.json)
#      PEER_PORT (3001) SESAM_PORT (8191) KEEP_TMP (0; 1 keeps the temporary directory)
# Needs node (20+) and npm, curl, taskset and wrk (installed with apt-get when missing).
# The peer is installed from npm into a temporary directory on every run.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
OUT=$(realpath -m "${OUT:-./peer-compare.json}")
DURATION=${DURATION:-10}
CONCURRENCY=${CONCURRENCY:-16}
WARMUP=${WARMUP:-2}
PEOPLE=${PEOPLE:-10000}
PEER_PORT=${PEER_PORT:-3001}
SESAM_PORT=${SESAM_PORT:-8191}
SERVER_CPU=0
LOAD_CPU=1
CLIENT_ID=bench
CLIENT_SECRET=bench-secret
REDIRECT_URI=http://127.0.0.1:3002/cb
cd "$ROOT"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'compare.sh: %s\n' "$*" >&2; exit 1; }

TMP=$(mktemp -d -t sesam-peer-compare.XXXXXX)
R=$TMP/results
mkdir -p "$R" "$TMP/peer" "$TMP/sesam"
STARTED=()

stop_pid() {
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$? pid
  for pid in "${STARTED[@]}"; do stop_pid "$pid"; done
  if [ "${KEEP_TMP:-0}" = 1 ]; then log "kept $TMP"; else rm -rf "$TMP"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# cpu_mark: "<CPU ticks used on the machine> <CPU ticks of this script, its waited-for
# children and the servers it runs> <wall time>"; between two marks, the difference is
# what other processes used (a compile, another benchmark), even ones ps cannot see.
cpu_mark() {
  local ours pid
  ours=$(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$$/stat")
  for pid in "${STARTED[@]}"; do
    [ -r "/proc/$pid/stat" ] && ours=$((ours + $(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$pid/stat" 2>/dev/null || echo 0)))
  done
  printf '%s %s %s\n' "$(awk '/^cpu / { print $2 + $3 + $4 }' /proc/stat)" "$ours" "$(date +%s.%N)"
}
# other_cores MARK_BEFORE MARK_AFTER: other processes' CPU use in cores, on average.
other_cores() {
  awk -v a="$1" -v b="$2" -v hz="$(getconf CLK_TCK)" 'BEGIN {
    split(a, x, " "); split(b, y, " ");
    other = ((y[1] - x[1]) - (y[2] - x[2])) / hz; if (other < 0) other = 0;
    printf "%.2f", other / (y[3] - x[3]) }'
}
# measured NAME COMMAND...: runs COMMAND and writes the other processes' CPU use meanwhile
# to $R/NAME.other.
measured() {
  local name=$1 mark
  shift
  mark=$(cpu_mark)
  "$@"
  other_cores "$mark" "$(cpu_mark)" >"$R/$name.other"
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_ready URL PID LOGFILE: poll until URL answers 200, fail when the process died.
wait_ready() {
  local url=$1 pid=$2 logfile=$3 i
  for i in $(seq 300); do
    curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$logfile" >&2; die "server exited before it was ready"; }
    sleep 0.1
  done
  cat "$logfile" >&2
  die "no answer from $url after 30 s"
}

# bench_wrk NAME URL [LUA]: warm up, then measure; keeps wrk's text and its JSON line.
bench_wrk() {
  local name=$1 url=$2 lua=${3:-$HERE/wrk-report.lua}
  taskset -c "$LOAD_CPU" wrk -t1 -c"$CONCURRENCY" -d"${WARMUP}s" -s "$lua" "$url" >/dev/null
  measured "$name" taskset -c "$LOAD_CPU" wrk -t1 -c"$CONCURRENCY" -d"${DURATION}s" --latency -s "$lua" "$url" \
    >"$R/$name.txt"
  grep '^JSON ' "$R/$name.txt" | cut -c6- >"$R/$name.json"
  [ -s "$R/$name.json" ] || { cat "$R/$name.txt" >&2; die "wrk printed no result for $name"; }
  log "$name: $(grep 'Requests/sec' "$R/$name.txt")"
}

# --- tools and binaries -------------------------------------------------------------
for tool in node npm curl taskset; do
  command -v "$tool" >/dev/null || die "$tool is missing"
done
if ! command -v wrk >/dev/null; then
  [ "$(id -u)" = 0 ] || die "wrk is missing (apt-get install wrk)"
  log "installing wrk"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
NPROC=$(nproc)
[ "$NPROC" -ge 2 ] || die "needs 2 CPUs (servers on CPU $SERVER_CPU, load on CPU $LOAD_CPU)"
SESAM=$ROOT/target/release/sesam
SESAM_BENCH=$ROOT/target/release/sesam-bench
if [ ! -x "$SESAM" ] || [ ! -x "$SESAM_BENCH" ]; then
  log "building the release binaries"
  cargo build --release --locked --bin sesam --bin sesam-bench
fi
port_free "$PEER_PORT" || die "port $PEER_PORT is in use (set PEER_PORT)"
port_free "$SESAM_PORT" || die "port $SESAM_PORT is in use (set SESAM_PORT)"

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
MARK=$(cpu_mark); sleep 2; BUSY_BEFORE=$(other_cores "$MARK" "$(cpu_mark)")
LOAD_WARNING=
if awk -v b="$BUSY_BEFORE" 'BEGIN { exit !(b > 0.1) }'; then
  LOAD_WARNING="other processes used $BUSY_BEFORE cores just before the run: the machine is not idle"
  log "$LOAD_WARNING"
fi

# --- the peer -----------------------------------------------------------------------
log "installing oidc-provider@9 into $TMP/peer"
(cd "$TMP/peer" && npm init -y >/dev/null && npm install --no-audit --no-fund --loglevel=error oidc-provider@9 >/dev/null)
PEER_VERSION=$(node -p "require('$TMP/peer/node_modules/oidc-provider/package.json').version")
NODE_VERSION=$(node --version)
# Copied next to its node_modules so that `import 'oidc-provider'` resolves.
cp "$HERE/peer-server.mjs" "$TMP/peer/"

log "starting oidc-provider $PEER_VERSION on CPU $SERVER_CPU, port $PEER_PORT"
NODE_ENV=production PORT=$PEER_PORT CLIENT_ID=$CLIENT_ID CLIENT_SECRET=$CLIENT_SECRET REDIRECT_URI=$REDIRECT_URI \
  taskset -c "$SERVER_CPU" node "$TMP/peer/peer-server.mjs" >"$TMP/peer.log" 2>&1 &
PEER_PID=$!
STARTED+=("$PEER_PID")
PEER_URL=http://127.0.0.1:$PEER_PORT
wait_ready "$PEER_URL/.well-known/openid-configuration" "$PEER_PID" "$TMP/peer.log"
sed -n 's/^oidc-provider WARNING: /==> peer warns: /p' "$TMP/peer.log" >&2
PEER_DISCOVERY_BYTES=$(curl -fsS "$PEER_URL/.well-known/openid-configuration" | wc -c)

# One token first: it must be an ES256 JWT access token for the configured resource.
curl -fsS -u "$CLIENT_ID:$CLIENT_SECRET" -d grant_type=client_credentials -d scope=api:read \
  "$PEER_URL/token" >"$R/peer-token-response.json"
node -e '
  const r = JSON.parse(require("fs").readFileSync(0, "utf8"));
  const [h, p] = r.access_token.split(".").slice(0, 2).map((x) => JSON.parse(Buffer.from(x, "base64url")));
  if (h.alg !== "ES256") { console.error(`not an ES256 JWT: ${JSON.stringify(h)}`); process.exit(1); }
  console.log(JSON.stringify({ alg: h.alg, typ: h.typ, aud: p.aud, scope: p.scope,
    token_type: r.token_type, expires_in: r.expires_in, length: r.access_token.length }));
' <"$R/peer-token-response.json" >"$R/peer-access-token.json"
log "peer access token: $(cat "$R/peer-access-token.json")"

bench_wrk peer-discovery "$PEER_URL/.well-known/openid-configuration"
WRK_BASIC=$(printf '%s:%s' "$CLIENT_ID" "$CLIENT_SECRET" | base64 -w0) WRK_SCOPE=api:read \
  bench_wrk peer-token "$PEER_URL/token" "$HERE/wrk-token.lua"
log "peer code flows for ${DURATION}s (+${WARMUP}s warm-up), concurrency $CONCURRENCY"
ISSUER=$PEER_URL CLIENT_ID=$CLIENT_ID CLIENT_SECRET=$CLIENT_SECRET REDIRECT_URI=$REDIRECT_URI \
  CONCURRENCY=$CONCURRENCY DURATION=$DURATION WARMUP=$WARMUP \
  measured peer-flows taskset -c "$LOAD_CPU" node "$HERE/flow-driver.mjs" >"$R/peer-flows.json"
log "peer flows: $(node -p "JSON.parse(require('fs').readFileSync('$R/peer-flows.json')).flows_per_second") /s"
PEER_RSS_KB=$(awk '/^VmRSS/ { print $2 }' "/proc/$PEER_PID/status")
PEER_HWM_KB=$(awk '/^VmHWM/ { print $2 }' "/proc/$PEER_PID/status")
stop_pid "$PEER_PID"

# --- sesam --------------------------------------------------------------------------
SESAM_VERSION=$("$SESAM" --version | awk '{ print $NF }')
log "seeding $PEOPLE people for sesam"
"$SESAM_BENCH" seed --data-dir "$TMP/sesam/data" --people "$PEOPLE" --manifest "$TMP/sesam/manifest.json" >&2
log "starting sesam $SESAM_VERSION on CPU $SERVER_CPU, port $SESAM_PORT"
SESAM_LIMIT_REQUESTS_PER_PERSON=1000000000 SESAM_LIMIT_REQUESTS_PER_SOURCE=1000000000 \
  SESAM_LIMIT_AUTHORIZE_PER_MINUTE=1000000000 SESAM_LIMIT_LOGIN_PER_MINUTE=1000000000 SESAM_LIMIT_BACKCHANNEL_PER_MINUTE=1000000000 SESAM_LIMIT_ACTIVATION_PER_MINUTE=1000000000 \
  SESAM_HTTP_MAX_CONNECTIONS_PER_ADDRESS=1024 SESAM_LOG=warn \
  taskset -c "$SERVER_CPU" "$SESAM" serve --data-dir "$TMP/sesam/data" --listen "127.0.0.1:$SESAM_PORT" \
  >"$TMP/sesam.log" 2>&1 &
SESAM_PID=$!
STARTED+=("$SESAM_PID")
SESAM_URL=http://127.0.0.1:$SESAM_PORT
wait_ready "$SESAM_URL/.well-known/openid-configuration" "$SESAM_PID" "$TMP/sesam.log"
SESAM_DISCOVERY_BYTES=$(curl -fsS "$SESAM_URL/.well-known/openid-configuration" | wc -c)

bench_wrk sesam-discovery "$SESAM_URL/.well-known/openid-configuration"
log "sesam logins for ${DURATION}s (+${WARMUP}s warm-up), concurrency $CONCURRENCY"
measured sesam-logins taskset -c "$LOAD_CPU" "$SESAM_BENCH" run --url "$SESAM_URL" --manifest "$TMP/sesam/manifest.json" \
  --concurrency "$CONCURRENCY" --duration "$DURATION" --warmup "$WARMUP" --server-pid "$SESAM_PID" --json \
  >"$R/sesam-logins.json"
log "sesam logins: $(node -p "JSON.parse(require('fs').readFileSync('$R/sesam-logins.json')).logins_per_second") /s"
stop_pid "$SESAM_PID"

# --- report -------------------------------------------------------------------------
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
NPROC=$NPROC BUSY_BEFORE=$BUSY_BEFORE LOAD_BEFORE=$LOAD_BEFORE LOAD_AFTER=$LOAD_AFTER LOAD_WARNING=$LOAD_WARNING \
  DURATION=$DURATION WARMUP=$WARMUP CONCURRENCY=$CONCURRENCY SERVER_CPU=$SERVER_CPU LOAD_CPU=$LOAD_CPU \
  PEER_VERSION=$PEER_VERSION NODE_VERSION=$NODE_VERSION PEER_DISCOVERY_BYTES=$PEER_DISCOVERY_BYTES \
  PEER_RSS_KB=$PEER_RSS_KB PEER_HWM_KB=$PEER_HWM_KB SESAM_VERSION=$SESAM_VERSION PEOPLE=$PEOPLE \
  SESAM_DISCOVERY_BYTES=$SESAM_DISCOVERY_BYTES \
  node "$HERE/summarize.mjs" "$R" "$OUT"
