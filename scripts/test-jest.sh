#!/usr/bin/env bash
# npm run test:jest: the fault specs (jest project `serial`, one file at a time) run beside the
# other files instead of after them. Most of a fault spec's time is waiting (a kill, a restart, a
# storm to drain), so the two halves overlap on two cores; each jest prints its own summary, and
# the script fails when either does.
set -u
jest="$(dirname "$0")/../node_modules/.bin/jest"
"$jest" --selectProjects serial --forceExit "$@" &
serial=$!
"$jest" --selectProjects unit integration --maxWorkers=2 --forceExit "$@"
rest=$?
wait "$serial"
faults=$?
echo "test:jest: unit and integration exit ${rest}, faults exit ${faults}"
exit $((rest != 0 || faults != 0))
