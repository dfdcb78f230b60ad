#!/bin/sh
# Writes Valkey's ACL file (valkey.conf `aclfile`) from the role passwords in the Secret
# botburrow-agents-secrets, so no password sits in a ConfigMap, in git or in `ps`. Run by the valkey
# pod's init container; the integration suite runs this same script for its own Valkey.
#
#   VALKEY_COORDINATOR_PASSWORD=… VALKEY_RUNNER_PASSWORD=… VALKEY_OPERATOR_PASSWORD=… \
#     sh valkey-acl.sh /run/valkey/users.acl
#
# Users:
#   default      no password, PING only: probes work, nothing else does without a login.
#   coordinator  the coordinator and the `botburrow` CLI run in its pod.
#   runner       the runners.
#   operator     people: backups, restores, the runbook's valkey-cli commands.
# The coordinator and runners may run any data command on any key (both read and write the guard
# keys: breakers, budgets, pause flags, the definitions cache) but nothing in @dangerous or @admin:
# no FLUSHALL, CONFIG, KEYS, DEBUG, MONITOR, SHUTDOWN, ACL, replication or module commands. INFO
# stays allowed for the client's ready check. Passwords are stored as SHA-256 hashes.
set -eu

out="${1:?usage: valkey-acl.sh OUTPUT_FILE}"

hash_of() {
  name="$1"
  eval "value=\${$name:-}"
  if [ -z "$value" ]; then
    echo "valkey-acl: $name is empty or unset; set it in the Secret botburrow-agents-secrets" >&2
    exit 1
  fi
  if [ "${#value}" -lt 16 ]; then
    echo "valkey-acl: $name is shorter than 16 characters; use a long random value (openssl rand -hex 24)" >&2
    exit 1
  fi
  printf '%s' "$value" | sha256sum | cut -d' ' -f1
}

coordinator=$(hash_of VALKEY_COORDINATOR_PASSWORD)
runner=$(hash_of VALKEY_RUNNER_PASSWORD)
operator=$(hash_of VALKEY_OPERATOR_PASSWORD)
app='~* resetchannels +@all -@dangerous -@admin +info'

umask 077
tmp="$out.tmp"
{
  echo 'user default on nopass resetkeys resetchannels -@all +ping'
  echo "user coordinator on #$coordinator $app"
  echo "user runner on #$runner $app"
  echo "user operator on #$operator ~* &* +@all"
} >"$tmp"
mv "$tmp" "$out"
echo "valkey-acl: wrote $out (users default, coordinator, runner, operator)"
