#!/bin/sh
# Temporal's own store on the shared PostgreSQL: its databases and schemas, created or upgraded to the
# version the server image expects. Safe to run on every start (what the retired auto-setup image did).
set -eu
tool() { temporal-sql-tool --plugin postgres12 --ep postgres -u "$POSTGRES_USER" -p 5432 "$@"; }
schema=/etc/temporal/schema/postgresql/v12
for db in temporal temporal_visibility; do
  dir=temporal
  [ "$db" = temporal_visibility ] && dir=visibility
  tool --db "$db" create || echo "database $db exists"
  tool --db "$db" setup-schema -v 0.0
  tool --db "$db" update-schema -d "$schema/$dir/versioned"
done
echo "Temporal schemas are up to date"
