/**
 * The systemd unit `scheduler install-systemd-service-file` writes. Hardened
 * as far as a backup tool allows: it must reach the Docker socket, read what
 * static targets read, write local storage, and signal commands it runs in
 * containers when they time out (root, CAP_KILL).
 */
export interface UnitOptions {
  /** The `ubackup` launcher, absolute. */
  readonly launcher: string
  /** Where `./config.json` and relative storage paths are found. */
  readonly workingDirectory: string
  /** An explicit config file, absolute. */
  readonly config?: string | undefined
  /** The folder of the `node` that runs ubackup now: put first on the unit's PATH (nvm and the like install outside systemd's default PATH). */
  readonly nodeDirectory: string
}

const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

const quote = (word: string) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `"${word.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`)

export const systemdUnit = (options: UnitOptions): string =>
  [
    "[Unit]",
    "Description=ubackup: encrypted backups of Docker containers and commands",
    "Wants=network-online.target",
    "After=network-online.target docker.service",
    "",
    "[Service]",
    "Type=exec",
    `ExecStart=${[options.launcher, "scheduler", "run", ...(options.config ? ["--config", options.config] : [])].map(quote).join(" ")}`,
    `WorkingDirectory=${quote(options.workingDirectory)}`,
    `Environment=${quote(`PATH=${[options.nodeDirectory, ...defaultPath.split(":").filter((dir) => dir !== options.nodeDirectory)].join(":")}`)}`,
    "Restart=on-failure",
    "RestartSec=30s",
    // SIGTERM aborts the uploads in flight (nothing partial is published) and exits 0
    "TimeoutStopSec=30s",
    // the CPU priority is lowered by ubackup itself (nice 19), as µbackup did; disk I/O here
    "IOSchedulingClass=idle",
    // hardening that still lets it reach /var/run/docker.sock and write local storage
    "NoNewPrivileges=yes",
    "PrivateTmp=yes",
    "ProtectSystem=full",
    "ProtectKernelTunables=yes",
    "ProtectKernelModules=yes",
    "ProtectKernelLogs=yes",
    "ProtectControlGroups=yes",
    "ProtectClock=yes",
    "ProtectHostname=yes",
    "RestrictSUIDSGID=yes",
    "RestrictRealtime=yes",
    "RestrictNamespaces=yes",
    "LockPersonality=yes",
    "SystemCallArchitectures=native",
    "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
    "UMask=0077",
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    ""
  ].join("\n")
