"""Room on the Ray cluster for a command's actors: an ask no node can meet fails at once, one
the free resources cannot meet now is said before the wait, and a wait that ends is explained."""

from __future__ import annotations

from dataclasses import dataclass

from raygate.errors import ClusterError

# How long actors may take to get their resources and start (an eval actor's start includes
# loading the model) before the command gives up, unless the command is told otherwise.
EVAL_START_TIMEOUT_S = 600.0
LOAD_START_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class ActorAsk:
    """`count` actors of one kind, each reserving `num_cpus` and `num_gpus`; the options that
    set how many there are and how much each asks for."""

    what: str
    count: int
    num_cpus: float
    num_gpus: float
    count_option: str
    size_options: str

    @property
    def hint(self) -> str:
        return f"lower {self.count_option}, {self.size_options}"

    def each(self) -> str:
        return _amounts({"CPU": self.num_cpus, "GPU": self.num_gpus})

    def describe(self) -> str:
        return f"{self.count} {self.what}(s) of {self.each()} each"

    def fitting(self, resources: dict[str, float]) -> int:
        """How many of these actors `resources` hold, at most `count`."""
        asked = {"CPU": self.num_cpus, "GPU": self.num_gpus}
        held = [(resources.get(name, 0.0) + 1e-9) // each for name, each in asked.items() if each]
        return int(min([self.count, *held]))

    def fits(self, resources: dict[str, float], actors: int = 1) -> bool:
        """Whether `resources` hold `actors` of these actors."""
        return (
            resources.get("CPU", 0.0) >= actors * self.num_cpus
            and resources.get("GPU", 0.0) >= actors * self.num_gpus
        )


def check_room(ask: ActorAsk) -> str | None:
    """ClusterError when no node of the cluster, nor a node type its autoscaler may add, could
    host one actor (Ray would wait forever); a note when the free resources cannot start them
    all now (other work holds the rest), to show before waiting; None when they fit."""
    free = _free_for(ask)
    return None if ask.fits(free, ask.count) else _waiting(ask, free)


def starting_room(ask: ActorAsk) -> tuple[int, str | None]:
    """For a pool that may start with fewer actors than asked and grow as resources free (an
    eval's): how many to start with (those the free resources hold now, at least one) and a
    note when that is not all of them; ClusterError as check_room."""
    free = _free_for(ask)
    fitting = ask.fitting(free)
    if fitting >= ask.count or ask.fits(free, ask.count):
        return ask.count, None
    if fitting == 0:
        return 1, _waiting(ask, free)
    return fitting, (
        f"{fitting} of {ask.describe()} start now (the cluster has {_amounts(free)} free; other "
        "work holds the rest); the others join as resources free"
    )


def _free_for(ask: ActorAsk) -> dict[str, float]:
    """The cluster's free resources now; ClusterError when no node, nor a node type its
    autoscaler may add, could host one of the actors."""
    import ray

    nodes = [node["Resources"] for node in ray.nodes() if node.get("Alive")]
    if not any(ask.fits(node) for node in nodes) and not _autoscaler_could_add(ask):
        largest = ", ".join(_amounts(node) for node in nodes) or "no live node"
        raise ClusterError(
            f"each {ask.what} asks for {ask.each()}, but no node of the Ray cluster has that "
            f"much (nodes: {largest}); lower {ask.size_options}, or add a node that has it"
        )
    return ray.available_resources()


def _waiting(ask: ActorAsk, free: dict[str, float]) -> str:
    return (
        f"{ask.describe()} wait for resources: the cluster has {_amounts(free)} free now, "
        "other work holds the rest"
    )


def start_timed_out(actors: str, timeout_s: float, hint: str) -> ClusterError:
    """The error of `actors` (what they are and ask for) that did not all start in time, with
    the cluster as it is now."""
    import ray

    free, total = ray.available_resources(), ray.cluster_resources()
    return ClusterError(
        f"{actors} did not all start within {timeout_s:g} s: the cluster has {_amounts(free)} "
        f"free of {_amounts(total)} (see `ray status`); free resources, {hint}, or give them "
        "longer with --start-timeout (in a release file: eval.start_timeout_s)"
    )


def _amounts(resources: dict[str, float]) -> str:
    gpus = resources.get("GPU", 0.0)
    cpus = f"{resources.get('CPU', 0.0):g} CPU"
    return f"{cpus} and {gpus:g} GPU" if gpus else cpus


def _autoscaler_could_add(ask: ActorAsk) -> bool:
    """Whether the cluster's autoscaler has a node type that could host one actor. Read the
    way Ray Data reads it (the cluster config the autoscaler keeps in the GCS; none on a
    cluster without an autoscaler)."""
    try:
        from ray._private.state import state

        config = state.get_cluster_config()
    except Exception:  # an internal API: unknown means no autoscaler to wait for
        return False
    if not config:
        return False
    return any(
        group.max_count != 0 and ask.fits(dict(group.resources))
        for group in config.node_group_configs
    )
