// How the agent's own Node process is started (service files, `npm start`, bench:agent), so every
// way of running it costs what bench:agent measured.
// --lite-mode: no optimizing compiler. The agent's work is small and bursty (a scan a second); the
// optimizer's code and profiles cost about 12 MB of resident memory and bought no measurable CPU.
// --no-expose-wasm: lite mode turns WebAssembly off anyway; saying so spares a V8 warning at every start.
export const agentNodeArgs: readonly string[] = ['--lite-mode', '--no-expose-wasm'];

// glibc keeps an allocator arena per thread that ever allocated; the agent allocates little, and
// two arenas hold it in about 3 MB less (Linux only; other systems ignore the variable).
export const agentEnv: Readonly<Record<string, string>> =
  process.platform === 'linux' ? { MALLOC_ARENA_MAX: '2' } : {};
