#!/usr/bin/env bash
# Install (from Debian packages) and start a throwaway PostgreSQL server on loopback for the test suites
# that need one, then print the SQLAlchemy URL to use -- the only line this script writes to stdout:
#
#     export MLOPS_BOT_TEST_POSTGRES_URL="$(bash scripts/ci-postgres.sh)"
#
# Idempotent: a second run reuses the installed packages, the data directory and the running server.
# Runs as root (CI) or as an ordinary user who has the PostgreSQL binaries. PostgreSQL refuses to run as
# root, so as root the server runs as the `postgres` user the Debian package creates.
#
# Settings (environment):
#   MLOPS_BOT_CI_PG_DIR    data, socket and log directory (default: /tmp/mlops-bot-ci-postgres)
#   MLOPS_BOT_CI_PG_PORT   TCP port on 127.0.0.1 (default: 54329)
#   MLOPS_BOT_CI_PG_DB     database to create (default: mlops_bot_test)
#   MLOPS_BOT_CI_PG_FSYNC  on|off (default: off -- a test server need not survive a power cut; commits
#                          still reach the operating system before they return, so they survive kill -9)
#
# Authentication is `trust` on 127.0.0.1 only: this server is for tests, never for data that matters.
set -euo pipefail

dir="${MLOPS_BOT_CI_PG_DIR:-/tmp/mlops-bot-ci-postgres}"
port="${MLOPS_BOT_CI_PG_PORT:-54329}"
database="${MLOPS_BOT_CI_PG_DB:-mlops_bot_test}"
fsync="${MLOPS_BOT_CI_PG_FSYNC:-off}"

say() { echo "ci-postgres: $*" >&2; }

find_bindir() {
    local candidate
    for candidate in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V -r); do
        if [ -x "$candidate/initdb" ] && [ -x "$candidate/pg_ctl" ]; then
            echo "$candidate"
            return 0
        fi
    done
    local initdb
    initdb="$(command -v initdb || true)"
    [ -n "$initdb" ] && dirname "$(readlink -f "$initdb")"
}

bindir="$(find_bindir || true)"
if [ -z "$bindir" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        say "PostgreSQL is not installed and this is not root: install the Debian package 'postgresql' first"
        exit 1
    fi
    say "installing PostgreSQL from Debian packages (about a minute)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends postgresql >&2
    bindir="$(find_bindir)"
fi

# As root, run every server command as `postgres`; otherwise as ourselves.
as_owner=()
if [ "$(id -u)" -eq 0 ]; then
    as_owner=(runuser -u postgres --)
fi

mkdir -p "$dir"
if [ "$(id -u)" -eq 0 ]; then
    chown postgres: "$dir"
fi
chmod 700 "$dir"

if [ ! -f "$dir/data/PG_VERSION" ]; then
    say "initdb in $dir/data"
    "${as_owner[@]}" "$bindir/initdb" -D "$dir/data" -U postgres -A trust --no-sync -E UTF8 >&2
fi

if ! "${as_owner[@]}" "$bindir/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    say "starting PostgreSQL on 127.0.0.1:$port"
    options="-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=$fsync -c max_connections=200"
    "${as_owner[@]}" "$bindir/pg_ctl" -D "$dir/data" -o "$options" -l "$dir/server.log" -w -t 60 start >&2 || {
        say "PostgreSQL did not start; its log:"
        tail -n 30 "$dir/server.log" >&2 || true
        exit 1
    }
fi

psql_as_postgres=("$bindir/psql" -h 127.0.0.1 -p "$port" -U postgres -v ON_ERROR_STOP=1 -qtA)
exists="$("${psql_as_postgres[@]}" -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$database'")"
if [ "$exists" != "1" ]; then
    say "creating database $database"
    "${psql_as_postgres[@]}" -d postgres -c "CREATE DATABASE \"$database\"" >&2
fi

echo "postgresql+psycopg://postgres@127.0.0.1:$port/$database"
