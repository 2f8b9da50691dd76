"""socialsim's SLURM launcher as a Hydra plugin (Hydra instantiates launchers only from ``hydra_plugins``).

``src/socialsim/conf/hydra/launcher/slurm.yaml`` selects it; what it does is in :mod:`socialsim.cluster`.
"""

from socialsim import cluster


class SlurmLauncher(cluster.SlurmLauncher):
    """:class:`socialsim.cluster.SlurmLauncher`, registered with Hydra."""


__all__ = ["SlurmLauncher"]
