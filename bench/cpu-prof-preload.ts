// Preloaded into the server under test (NODE_OPTIONS=--import <this file>) when a benchmark wants a
// CPU profile: Node 20 refuses `--cpu-prof` in NODE_OPTIONS, and the harness starts the server
// itself, so the profiler is driven through the in-process inspector instead. The profile is
// written as <K8TS_BENCH_CPU_PROF_DIR>/<pid>.cpuprofile when the process exits normally (SIGTERM);
// the inspector answers a same-thread session synchronously, so this works in an 'exit' handler.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';

const dir = process.env['K8TS_BENCH_CPU_PROF_DIR'];
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 500 });
  session.post('Profiler.start');
  process.on('exit', () => {
    session.post('Profiler.stop', (err, result) => {
      if (!err) writeFileSync(join(dir, `${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
