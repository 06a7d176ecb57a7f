#!/bin/sh
# HTTP from a node's own network namespace (not a pod's), sourced by guest-lib.sh (the test VMs) and
# cluster-checks.sh (Vagrant and the test VMs). POSIX sh; bash's /dev/tcp, as a node may have no
# HTTP client.

# hget HOST PORT: the body's last line, which for the check pods is the name of the node serving it.
hget() { timeout 5 bash -c 'exec 3<>"/dev/tcp/$0/$1" && printf "GET / HTTP/1.0\r\n\r\n" >&3 && cat <&3' "$1" "$2" 2>/dev/null | tail -1; }

# backends_seen HOST PORT: the distinct backends answering at HOST:PORT within 12 requests (stops at
# 2), space-separated.
backends_seen() {
  _seen=
  for _ in 1 2 3 4 5 6 7 8 9 10 11 12; do
    _b=$(hget "$1" "$2") || _b=
    [ -n "$_b" ] && case " $_seen " in *" $_b "*) ;; *) _seen="$_seen $_b" ;; esac
    [ "$(echo $_seen | wc -w)" -ge 2 ] && break
  done
  echo $_seen
}
