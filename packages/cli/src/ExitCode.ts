/**
 * The exit codes of the `sluice` binary, so scripts can tell failures apart.
 *
 * @since 0.1.0
 */

/** Done. */
export const Ok = 0
/** The command ran and failed (model error, reply failed, gateway crashed, file unreadable). */
export const Failure = 1
/** Bad command line: unknown command or flag, bad flag value, missing argument. */
export const Usage = 2
/** The configuration file is invalid (its errors name the key path). */
export const InvalidConfig = 3
/** Could not reach or authenticate with the gateway (`--remote`). */
export const Unavailable = 4
/** Stopped by SIGINT (Ctrl-C outside chat). */
export const Interrupted = 130
/** Stopped by SIGTERM. */
export const Terminated = 143

export type ExitCode = number
