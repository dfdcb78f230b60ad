#!/usr/bin/env bash
# Runs a command and stops it when this script's stdin reaches EOF, i.e. when the parent process
# holding the other end of the pipe exits for any reason (crash, SIGKILL, Ctrl-C). This is how the
# test harness and the local run guarantee that no server outlives them. Stopping is SIGTERM, then
# SIGKILL after WATCHDOG_GRACE_SECONDS (default 4) if the command is still there.
"$@" </dev/null &
child=$!
grace=${WATCHDOG_GRACE_SECONDS:-4}
killer=""
stop() {
  kill -TERM "$child" 2>/dev/null || true
  if [ -z "$killer" ]; then
    { sleep "$grace"; kill -KILL "$child" 2>/dev/null; } &
    killer=$!
  fi
}
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
# The timers' sleeps go with them: nothing of this watchdog outlives the command.
for t in "$guard" $killer; do
  pkill -KILL -P "$t" 2>/dev/null || true
  kill -KILL "$t" 2>/dev/null || true
done
exit "$rc"
