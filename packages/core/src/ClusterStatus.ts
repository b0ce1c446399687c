/**
 * What a cluster runner reports about itself, for health checks (the gateway's `/readyz`): its
 * address and how many of the cluster's shards it holds. Provided by
 * `@sluice/core/cluster/ClusterConversations`'s layer; absent on one process. A leaf module, so
 * reading it loads nothing of the cluster.
 *
 * @since 0.2.0
 */
import { Context } from "effect"

export interface ClusterStatusService {
  /** host:port the other runners reach this one at. */
  readonly runner: string
  /** Shards this runner holds now, of `total`. */
  readonly shards: () => { readonly held: number; readonly total: number }
}

export class ClusterStatus extends Context.Tag("@sluice/core/ClusterStatus")<ClusterStatus, ClusterStatusService>() {}
