"""Sharded runs on Dask: the one package that imports dask/distributed (and only when a run is sharded).

In: ``--scheduler`` or ``--workers``, and a validated plan. Out: ``connect`` gives a ``Cluster``
(``cluster.py``: reach it, check its workers run this pfdiag) and ``ShardedEngine`` runs the plan on it
with ``Engine``'s interface (``shards.py``).
"""

from diag.run.distributed.cluster import Cluster, ClusterError, connect
from diag.run.distributed.shards import ShardedEngine, run_shard, shard_size

__all__ = ["Cluster", "ClusterError", "ShardedEngine", "connect", "run_shard", "shard_size"]
