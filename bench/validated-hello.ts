/**
 * examples/hello.ts under the validator, for the benchmark's overhead row
 * (bench/run.ts): `egi serve bench/validated-hello.ts`.
 */
import hello from "../examples/hello.ts"
import { validate } from "../src/testing/validate.ts"

export default validate(hello)
