#!/bin/sh
# Runs once, when the PostgreSQL volume is new (docker-entrypoint-initdb.d): the read models get a
# database of their own beside the event store (POSTGRES_DB). Temporal's two databases are made by
# the temporal-schema job.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -c "CREATE DATABASE oneseal_read OWNER \"$POSTGRES_USER\""
