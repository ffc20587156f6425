#!/bin/sh
# The namespace OneSeal uses (the server image registers none by itself).
set -eu
ns="${NAMESPACE:-default}"
temporal operator namespace describe -n "$ns" --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1 \
  || temporal operator namespace create -n "$ns" --retention 30d --address "$TEMPORAL_ADDRESS"
echo "namespace $ns is registered"
