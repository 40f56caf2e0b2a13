/**
 * What the CLI's supervising parents (`--workers`, `--reload`) share about
 * the server processes they start: how long past its drain timeout a child
 * gets before SIGKILL, and how its exit reads in a log line.
 */

/** ms a child may take past its drain timeout after SIGTERM before it gets SIGKILL. */
export const KILL_GRACE_MS = 2000

/** A child's end for a log line: `signal SIGKILL`, `exit code 1`. */
export const exitCause = (code: number | null, signal: string | null): string =>
  signal !== null ? `signal ${signal}` : `exit code ${code}`
