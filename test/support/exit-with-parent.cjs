// Preloaded (`--require`) into every process a test starts: when the test process goes away (the
// run ended, crashed or was killed), this process is re-parented, notices within half a second and
// ends too, so no server or worker outlives the test run. Unref'd: it never keeps a process alive.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.kill(process.pid, 'SIGKILL');
}, 500).unref();
