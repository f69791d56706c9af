#!/usr/bin/env bash
# Make sure PostgreSQL and NATS JetStream answer on 127.0.0.1. Running ones are reused;
# missing ones are installed from Debian's packages and started (this machine runs as root).
set -euo pipefail

PG_PORT=${PLIXA_PG_PORT:-5432}
NATS_PORT=${PLIXA_NATS_PORT:-4222}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() {
  for _ in $(seq 1 60); do port_open "$1" && return 0; sleep 0.5; done
  echo "ensure_infra: nothing answers on 127.0.0.1:$1" >&2
  return 1
}
apt_install() {
  if [ ! -f /var/lib/apt/periodic/plixa-updated ]; then
    apt-get update -qq && mkdir -p /var/lib/apt/periodic && touch /var/lib/apt/periodic/plixa-updated
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

if ! port_open "$PG_PORT"; then
  installed_here=0
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "ensure_infra: installing PostgreSQL from Debian's packages"
    apt_install postgresql
    installed_here=1
  fi
  version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$version" ]; then
    version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
    pg_createcluster "$version" main
    installed_here=1
  fi
  if [ "$installed_here" = 1 ]; then
    # A local development cluster: trust loopback connections, as the machine image does.
    hba="/etc/postgresql/$version/main/pg_hba.conf"
    sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' "$hba"
  fi
  echo "ensure_infra: starting PostgreSQL $version"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  wait_port "$PG_PORT"
fi

# Time zones are validated against the system's IANA database.
if [ ! -d /usr/share/zoneinfo/America ]; then
  echo "ensure_infra: installing tzdata from Debian's packages"
  apt_install tzdata
fi

# The tests start private nats-server processes, so the binary is needed even when a NATS runs.
if ! command -v nats-server >/dev/null 2>&1 && [ ! -x /usr/sbin/nats-server ]; then
  echo "ensure_infra: installing nats-server from Debian's packages"
  apt_install nats-server
fi

if ! port_open "$NATS_PORT"; then
  bin=$(command -v nats-server || echo /usr/sbin/nats-server)
  mkdir -p /var/lib/nats-server
  echo "ensure_infra: starting NATS with JetStream"
  start-stop-daemon --start --oknodo --background --exec "$bin" -- \
    -a 127.0.0.1 -p "$NATS_PORT" -js -sd /var/lib/nats-server -l /var/log/nats-server.log
  wait_port "$NATS_PORT"
fi
echo "ensure_infra: PostgreSQL on :$PG_PORT and NATS JetStream on :$NATS_PORT are up"
