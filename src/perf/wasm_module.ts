/**
 * Loading our WebAssembly SIMD modules (each `src/perf/<name>.wat`, its bytes
 * in `<name>_wasm.ts` as base64, once importing a plain memory and once a
 * shared one): compiled once per variant, instantiated once per memory.
 * Where the engine rejects a module (no SIMD, or no threads for the shared
 * variant) or the memory cannot be found, the result is `null` and callers
 * keep tfjs's own kernels or their JavaScript path.
 */

/** A module's two variants, compiled on first use. */
export class WasmModule<Exports> {
  private readonly variants: {plain?: WebAssembly.Module|null; shared?: WebAssembly.Module|null} = {};
  private readonly instances = new WeakMap<WebAssembly.Memory, Exports|null>();

  /** `plain` and `shared`: the base64 bytes importing a plain and a shared memory. */
  constructor(private readonly plain: string, private readonly shared: string) {}

  /** The compiled variant for a plain or shared memory, or `null` where the engine rejects it. */
  compiled(shared: boolean): WebAssembly.Module|null {
    const key = shared ? 'shared' : 'plain';
    if (this.variants[key] === undefined) {
      this.variants[key] = null;
      if (typeof WebAssembly !== 'undefined') {
        const bytes = decodeBase64(shared ? this.shared : this.plain);
        // Engines without SIMD (or threads, for the shared variant) reject the module.
        this.variants[key] = WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
      }
    }
    return this.variants[key] ?? null;
  }

  /** The module's exports on `memory` (one instance per memory), or `null` where it cannot run. */
  on(memory: WebAssembly.Memory): Exports|null {
    const known = this.instances.get(memory);
    if (known !== undefined) return known;
    let exports: Exports|null = null;
    try {
      const module = this.compiled(isShared(memory));
      if (module !== null) exports = new WebAssembly.Instance(module, {env: {memory}}).exports as unknown as Exports;
    } catch {
      exports = null;
    }
    this.instances.set(memory, exports);
    return exports;
  }
}

/** The `WebAssembly.Memory` of tfjs's wasm backend, or `null` (not that backend, or no WebAssembly). */
export function backendMemory(backend: unknown): WebAssembly.Memory|null {
  if (typeof WebAssembly === 'undefined' || backend == null) return null;
  const wasm = (backend as {wasm?: {asm?: {memory?: unknown}; wasmMemory?: unknown}}).wasm;
  if (wasm == null) return null;
  // The single-threaded builds export their memory (Module.asm.memory); the
  // threaded build creates a shared one and keeps it as Module.wasmMemory.
  for (const candidate of [wasm.asm?.memory, wasm.wasmMemory]) {
    if (candidate instanceof WebAssembly.Memory) return candidate;
  }
  return null;
}

function isShared(memory: WebAssembly.Memory): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
}

function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(new ArrayBuffer(binary.length));
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
