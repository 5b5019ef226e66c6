/**
 * Who may back up under a service name. A container names its service
 * itself (label `ubackup.service`, or its Swarm or Compose service), and any
 * image can set labels, so a name is a claim, checked at every discovery:
 *
 * - a static target's name is the static target's: a container that
 *   claims it is refused;
 * - containers of one owner (replicas of one Swarm or Compose service)
 *   share their name;
 * - when containers of different owners claim one name, every claimant is
 *   refused until the operator gives them distinct names.
 *
 * A refused container is a failed target of the run, reported under the
 * name it claimed (the operator learns of it) and never stored: so a
 * container can neither write into another's backups nor, by succeeding,
 * resolve another's failure alert or move its last-success metric.
 */
import type { DockerTarget, InvalidTarget } from "../domain/Target.ts"

export const resolveClaims = (
  containers: ReadonlyArray<DockerTarget | InvalidTarget>,
  staticNames: ReadonlySet<string>
): { readonly targets: ReadonlyArray<DockerTarget>; readonly invalid: ReadonlyArray<InvalidTarget> } => {
  const owners = new Map<string, Set<string>>()
  for (const claimant of containers) owners.set(claimant.service, (owners.get(claimant.service) ?? new Set()).add(claimant.owner))
  const targets: Array<DockerTarget> = []
  const invalid: Array<InvalidTarget> = []
  for (const claimant of containers) {
    const claimedBy = owners.get(claimant.service)!
    const conflict = staticNames.has(claimant.service)
      ? `service name "${claimant.service}" belongs to a static target of the config; this container may not back up under it (give it another ubackup.service)`
      : claimedBy.size > 1
      ? `service name "${claimant.service}" is claimed by unrelated containers (${[...claimedBy].sort().join(", ")}); none is backed up until each has its own ubackup.service`
      : undefined
    if (conflict === undefined) {
      if (claimant._tag === "Docker") targets.push(claimant)
      else invalid.push(claimant)
      continue
    }
    const commandText = claimant.commandText
    invalid.push({
      _tag: "Invalid",
      service: claimant.service,
      taskId: claimant.taskId,
      containerName: claimant.containerName,
      commandText,
      owner: claimant.owner,
      reason: claimant._tag === "Invalid" ? `${claimant.reason}; and ${conflict}` : conflict
    })
  }
  return { targets, invalid }
}
