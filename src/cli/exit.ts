/**
 * How an interrupted run exits. SIGTERM/SIGINT interrupt the main fiber; for
 * a verb that was doing a backup that is a failure (exit 130), but for the
 * scheduler it is how a service manager stops it: exit 0.
 */
let stopped = 130

export const stopIsSuccess = () => {
  stopped = 0
}

export const stopExitCode = () => stopped
