#!/bin/sh
# The container's scheduler: `make run` once at start, then on RUN_SCHEDULE.
#
# RUN_SCHEDULE is a cron line restricted to what an hourly job needs:
#   "M * * * *"     every hour at minute M (default "5 * * * *")
#   "M */N * * *"   every N hours (UTC hours divisible by N) at minute M
# After each successful run it records the time in
# $DATA_DIR/state/last_success (the healthcheck reads it) and regenerates the
# docs site in $DATA_DIR/docs (served by the compose service `docs`).
#
#   docker/schedule.sh            run forever
#   docker/schedule.sh --next T   print the first scheduled epoch second after T
#   docker/schedule.sh --healthy  exit 0 while the last successful run is
#                                 recent for this schedule: at most two
#                                 intervals and 10 minutes old (one missed
#                                 run is tolerated), e.g. 130 min for hourly
#                                 runs, 370 min for "5 */3 * * *"
set -u

schedule=${RUN_SCHEDULE:-5 * * * *}
data_dir=${DATA_DIR:-data}

fail() {
    echo "error [schedule]: $1" >&2
    exit 2
}

mode=${1:-}
after=${2:-}
# shellcheck disable=SC2086 # split the cron line into its fields
set -f
set -- $schedule
set +f
[ $# -eq 5 ] || fail "RUN_SCHEDULE='$schedule' needs 5 fields, e.g. '5 * * * *'"
minute=$1
hours=$2
[ "$3 $4 $5" = "* * *" ] || fail "RUN_SCHEDULE='$schedule': only minute and hour may be set, e.g. '5 */2 * * *'"
case $minute in
    '' | *[!0-9]*) fail "RUN_SCHEDULE='$schedule': the minute must be a number 0-59" ;;
esac
[ "$minute" -le 59 ] || fail "RUN_SCHEDULE='$schedule': the minute must be a number 0-59"
case $hours in
    '*') every=1 ;;
    '*/'*)
        every=${hours#*/}
        case $every in
            '' | *[!0-9]*) fail "RUN_SCHEDULE='$schedule': the hours must be * or */N" ;;
        esac
        [ "$every" -ge 1 ] && [ "$every" -le 24 ] || fail "RUN_SCHEDULE='$schedule': N in */N must be 1-24"
        ;;
    *) fail "RUN_SCHEDULE='$schedule': the hours must be * or */N" ;;
esac

# The first scheduled epoch second strictly after $1.
next_after() {
    next=$(($1 - $1 % 3600 + minute * 60))
    while [ "$next" -le "$1" ] || [ $((next / 3600 % every)) -ne 0 ]; do
        next=$((next + 3600))
    done
    echo "$next"
}

if [ "$mode" = "--healthy" ]; then
    marker="$data_dir/state/last_success"
    [ -f "$marker" ] || exit 1
    find "$marker" -mmin "-$((every * 120 + 10))" | grep -q .
    exit $?
fi

if [ "$mode" = "--next" ]; then
    next_after "$after"
    exit 0
fi

run_once() {
    if make --no-print-directory run; then
        mkdir -p "$data_dir/state"
        date -u +%Y-%m-%dT%H:%M:%SZ >"$data_dir/state/last_success"
        python -m pipeline docs --no-serve || echo "warning: the docs site was not regenerated" >&2
    else
        echo "run failed (exit $?); next try on schedule '$schedule'" >&2
    fi
}

trap 'exit 0' INT TERM
echo "schedule: '$schedule' (UTC), data in $data_dir"
run_once
while true; do
    now=$(date +%s)
    next=$(next_after "$now")
    echo "schedule: next run at $(date -u -d "@$next" +%Y-%m-%dT%H:%M:%SZ)"
    sleep $((next - now)) &
    wait $!
    run_once
done
