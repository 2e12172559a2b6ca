#!/bin/sh
# Start Grafana (the compose profile `grafana`) with the pipeline's InfluxDB
# settings: secrets/*.env as the pipeline reads them, then the environment.
# The provisioned data sources (grafana/provisioning) read INFLUX_URL,
# INFLUX_TOKEN, INFLUX_ORG and INFLUX_BUCKET_PROCESSED.
set -eu
secrets="${SECRETS_DIR:-/app/secrets}"
for file in "$secrets"/*.env; do
    [ -f "$file" ] || continue
    set -a
    # shellcheck disable=SC1090
    . "$file"
    set +a
done
: "${INFLUX_BUCKET_PROCESSED:=lampfi_processed}"
: "${INFLUX_TOKEN:=}"
: "${INFLUX_ORG:=}"
if [ -z "${INFLUX_URL:-}" ]; then
    echo "error [grafana]: INFLUX_URL is not set: put INFLUX_URL=http://host:8086" \
        "into secrets/influx.env" >&2
    exit 2
fi
export INFLUX_URL INFLUX_TOKEN INFLUX_ORG INFLUX_BUCKET_PROCESSED
exec "${GRAFANA_RUN:-/run.sh}" "$@"
