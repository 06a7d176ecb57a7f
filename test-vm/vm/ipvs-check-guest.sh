#!/bin/sh
# Inside the test VM (run by k8ts-vmtest.service, named by ipvs-check.sh on the kernel command line):
# loads the IPVS modules and runs the IPVS applier check (ipvs-check-guest.ts, built into dist/).
# vmtest.bench=1000,10000 adds the programming benchmark. Exit code: the check's.
arg() { tr ' ' '\n' </proc/cmdline | sed -n "s/^vmtest\.$1=//p" | head -1; }
echo "ipvscheck: guest up $(cut -d' ' -f1 /proc/uptime) s kernel $(uname -r)"
ip link set lo up
modprobe -a ip_vs ip_vs_rr dummy nf_conntrack nf_nat || { echo "ipvscheck: modprobe FAIL"; exit 1; }
bench=$(arg bench)
cd /mnt/src || exit 1
# vmtest.itest=1: also the IPVS socket's integration test (kernel/ipvs/socket.itest.ts), whose
# IPVS branch needs this kernel.
if [ "$(arg itest)" = 1 ]; then
  if node --experimental-vm-modules --no-warnings node_modules/jest/bin/jest.js --selectProjects integration --runInBand --ci --cacheDirectory /tmp/jest-cache -- kernel/ipvs/socket.itest.ts; then
    printf "\nipvscheck: itest ok\n"
  else
    printf "\nipvscheck: itest FAIL\n"; exit 1
  fi
fi
if [ -n "$bench" ]; then
  node dist/test-vm/vm/ipvs-check-guest.js --bench "$bench"
else
  node dist/test-vm/vm/ipvs-check-guest.js
fi
