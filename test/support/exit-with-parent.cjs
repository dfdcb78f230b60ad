// Preloaded (`--require`) into every process a test starts. Its stdin is a pipe from the test
// process; when that closes (the test run ended, crashed or was killed), this process ends too,
// so no server or worker outlives the test run. Unref'd: it never keeps a finished process alive.
process.stdin.on('end', () => process.kill(process.pid, 'SIGKILL'));
process.stdin.on('error', () => undefined);
process.stdin.resume();
if (typeof process.stdin.unref === 'function') process.stdin.unref();
