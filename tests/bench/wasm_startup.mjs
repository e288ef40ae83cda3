// Cold-start proxy for each worker: time to compile its wasm module (WebAssembly.compile, what
// an isolate does before the first request) and to instantiate it with stub imports, median of
// several runs. Usage: node wasm_startup.mjs <file.wasm>...
import { readFileSync } from "node:fs";

const RUNS = 7;
const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];

for (const file of process.argv.slice(2)) {
  const bytes = readFileSync(file);
  const compile = [];
  const instantiate = [];
  for (let i = 0; i < RUNS; i++) {
    let t = performance.now();
    const module = await WebAssembly.compile(bytes);
    compile.push(performance.now() - t);
    // wasm-bindgen imports are JS glue; stubs are enough to measure instantiation itself.
    const imports = {};
    for (const imp of WebAssembly.Module.imports(module)) {
      imports[imp.module] ??= {};
      imports[imp.module][imp.name] =
        imp.kind === "function" ? () => {} :
        imp.kind === "memory" ? new WebAssembly.Memory({ initial: 17 }) :
        imp.kind === "table" ? new WebAssembly.Table({ initial: 1, element: "anyfunc" }) :
        new WebAssembly.Global({ value: "i32", mutable: true }, 0);
    }
    t = performance.now();
    try {
      await WebAssembly.instantiate(module, imports);
      instantiate.push(performance.now() - t);
    } catch {
      instantiate.push(NaN);
    }
  }
  console.log(JSON.stringify({ file, compile_ms: median(compile), instantiate_ms: median(instantiate) }));
}
