# Sourced by .ci/run: a throwaway PostgreSQL cluster on loopback for the tests.
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
pg_dir=$(mktemp -d /tmp/ponder-pg.XXXXXX)
pg_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
chown postgres "$pg_dir"
su postgres -s /bin/sh -c "$pg_bin/initdb -D $pg_dir/data -A trust -U postgres >/dev/null"
su postgres -s /bin/sh -c "$pg_bin/pg_ctl -D $pg_dir/data -o '-k $pg_dir -p $pg_port -c listen_addresses=127.0.0.1' -l $pg_dir/log -w start >/dev/null"
trap 'su postgres -s /bin/sh -c "$pg_bin/pg_ctl -D $pg_dir/data -m fast stop >/dev/null" || true' EXIT
export PONDER_TEST_POSTGRES_URL="postgresql+psycopg://postgres@127.0.0.1:$pg_port/postgres"
