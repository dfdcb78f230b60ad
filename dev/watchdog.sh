#!/usr/bin/env bash
# Runs a command and stops it when this script's stdin reaches EOF, i.e. when the parent process
# holding the other end of the pipe exits for any reason (crash, SIGKILL, Ctrl-C). This is how the
# test harness and the local run guarantee that no server outlives them: on EOF the command gets
# SIGTERM, then SIGKILL after WATCHDOG_GRACE_SECONDS (default 4) if it is still there. A signal to
# the watchdog is passed on as SIGTERM; the sender decides how long to wait (dev/services.ts).
"$@" </dev/null &
child=$!
grace=${WATCHDOG_GRACE_SECONDS:-4}
stop() { kill -TERM "$child" 2>/dev/null || true; }
trap stop TERM INT HUP
# Background jobs get /dev/null as stdin unless redirected explicitly, hence fd 3.
exec 3<&0
{ while read -r _ <&3; do :; done; kill -TERM "$child" 2>/dev/null; sleep "$grace"; kill -KILL "$child" 2>/dev/null; } &
guard=$!
rc=0
while :; do
  # A trapped signal interrupts `wait` (status > 128) while the child is still shutting down.
  wait "$child"
  rc=$?
  kill -0 "$child" 2>/dev/null || break
done
# Bash remembers a reaped child's status: ask again so an interrupted wait does not mask it.
if [ "$rc" -gt 128 ]; then
  wait "$child" 2>/dev/null
  again=$?
  [ "$again" -ne 127 ] && rc=$again
fi
# The guard's sleep goes with it: nothing of this watchdog outlives the command.
pkill -KILL -P "$guard" 2>/dev/null || true
kill -KILL "$guard" 2>/dev/null || true
exit "$rc"
