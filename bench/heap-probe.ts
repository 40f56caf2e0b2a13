/**
 * Preloaded into a benchmark server (`node --expose-gc --import
 * ./bench/heap-probe.ts …`): on SIGUSR2 it runs a full garbage collection
 * and writes `heap <bytes>` to stderr — the V8 heap in use plus memory held
 * outside it by ArrayBuffers and native objects (`heapUsed + external`), a
 * steadier figure than RSS, which GC timing moves by megabytes.
 */
process.on("SIGUSR2", () => {
  ;(globalThis as { gc?: () => void }).gc?.()
  const m = process.memoryUsage()
  process.stderr.write(`heap ${m.heapUsed + m.external}\n`)
})
