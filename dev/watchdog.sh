#!/usr/bin/env bash
# Runs a command and stops it when this script's stdin reaches EOF, i.e. when the parent process
# holding the other end of the pipe exits for any reason (crash, SIGKILL, Ctrl-C). This is how the
# test harness and the local run guarantee that no server outlives them.
"$@" </dev/null &
child=$!
stop() { kill -TERM "$child" 2>/dev/null || true; }
trap stop TERM INT HUP
# Background jobs get /dev/null as stdin unless redirected explicitly, hence fd 3.
exec 3<&0
{ while read -r _ <&3; do :; done; kill -TERM "$child" 2>/dev/null; } &
guard=$!
rc=0
wait "$child" || rc=$?
# A trapped signal interrupts `wait`; wait again for the child to finish its shutdown.
while kill -0 "$child" 2>/dev/null; do wait "$child" || rc=$?; done
kill "$guard" 2>/dev/null || true
exit "$rc"
