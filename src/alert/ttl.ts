/**
 * lambda-alertmanager's ttl grammar for the dead man's switch, checked when
 * the config is read: a bad ttl would otherwise surface only as the server's
 * 400 at the first check-in, a day later.
 *
 *   +<Go duration>   +25h, +24h30m, +1.5h (units ns us µs ms s m h)
 *   +<N>d@<HH>:<MM>  N days from the server's today, at HH:MM UTC
 *   <RFC 3339>       an absolute deadline
 */
const goDuration = /^(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|\u00b5s|\u03bcs|ms|s|m|h))+$/
const daysAt = /^\+\d+d@\d{2}:\d{2}$/
const rfc3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/

export const isTtlSpec = (spec: string): boolean =>
  daysAt.test(spec) || (spec.startsWith("+") && goDuration.test(spec.slice(1))) || rfc3339.test(spec)
