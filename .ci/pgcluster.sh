#!/usr/bin/env bash
# A throwaway PostgreSQL cluster on 127.0.0.1 for tests that take a server by DSN (examples/node's
# PostgreSQL cases read PGSTORE_TEST_DSN). The stores module's own tests start theirs.
#   bash .ci/pgcluster.sh start DIR   initdb + start in DIR; prints PGSTORE_TEST_DSN=...
#   bash .ci/pgcluster.sh stop DIR    stops it (DIR is left for the caller to remove)
# As root the server runs as the postgres user (PostgreSQL refuses root).
set -euo pipefail
cmd=${1:?start or stop} dir=${2:?directory}
initdb=$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -1)
[ -n "$initdb" ] || initdb=$(command -v initdb)
bin=$(dirname "$initdb")
as_pg() {
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case $cmd in
start)
	mkdir -p "$dir"
	[ "$(id -u)" = 0 ] && chown postgres "$dir"
	as_pg "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --no-sync >"$dir/initdb.log" 2>&1
	port=$((20000 + RANDOM % 20000))
	as_pg "$bin/pg_ctl" -D "$dir/data" -w -l "$dir/postgres.log" \
		-o "-p $port -k $dir -c listen_addresses=127.0.0.1" start >/dev/null
	echo "PGSTORE_TEST_DSN=postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
	;;
stop)
	as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
	;;
esac
