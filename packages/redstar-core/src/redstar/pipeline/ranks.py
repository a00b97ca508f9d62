"""A run's train stage under a multi-process launcher (``accelerate launch``, ``torchrun``).

Such a launcher starts the same ``redstar`` command in every process. Only rank 0 runs the
pipeline: it holds the run directory's lock, runs or skips each stage, and keeps the run's state,
fingerprints and summary. The other ranks ("followers") never touch that bookkeeping: they wait
for rank 0's orders, and for each training step rank 0 starts they build the same trainer from
the same recipe and join its training, so that the trainers' processes form one
``torch.distributed`` world (data parallel, DeepSpeed ZeRO, Ulysses). When rank 0 is done they
exit; when it fails before or between training steps, it posts the error and the followers exit
with it instead of waiting for orders that will never come. A failure *inside* a training step
is the launcher's to handle (the other ranks are in collective operations then): torchrun's
agent ends its node's workers when one of them fails.

Rank 0 and the followers talk through the key-value store of torchrun's agent (the
``MASTER_ADDR:MASTER_PORT`` store that ``init_process_group`` also uses), which lives in the
launcher, not in a worker: a follower can wait on it for as long as rank 0 takes (hours of
curation, if it was not done first) and still hear when rank 0 fails. Launchers without that
store (``deepspeed``, ``mpirun``) are refused with a clear error before any process starts work.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime
import itertools
import json
import logging
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from redstar.errors import RedStarError

if TYPE_CHECKING:
    from redstar.plugins import Host
    from redstar.recipe import Recipe

log = logging.getLogger(__name__)

#: How long rank 0, having failed, waits for the followers to read its error before it exits
#: (the launcher ends them as soon as rank 0 exits, and their own message says more).
ACK_SECONDS = 30.0
#: How often a follower looks for rank 0's next message.
POLL_SECONDS = 0.5

_SIZE_VARIABLES = ("WORLD_SIZE", "OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "MV2_COMM_WORLD_SIZE")
_RANK_VARIABLES = ("RANK", "OMPI_COMM_WORLD_RANK", "PMI_RANK", "MV2_COMM_WORLD_RANK")


class RankZeroFailed(RedStarError):
    """Raised in a follower when rank 0 stopped the run: the message is rank 0's error."""


@dataclass(frozen=True)
class Launch:
    """This process's place in the launch: ``rank`` of ``world_size`` processes."""

    rank: int = 0
    world_size: int = 1

    @property
    def multi(self) -> bool:
        return self.world_size > 1

    @property
    def leads(self) -> bool:
        """Rank 0: the process that runs the pipeline and keeps its bookkeeping."""
        return self.rank == 0


def _first_int(environ: Mapping[str, str], names: tuple[str, ...], default: int) -> int:
    for name in names:
        value = environ.get(name)
        if value not in (None, ""):
            try:
                return int(value)
            except ValueError:
                raise RedStarError(f"environment variable {name}={value!r} is not an integer") from None
    return default


def current_launch(environ: Mapping[str, str] | None = None) -> Launch:
    """This process's rank and world size as the launcher set them (torchrun, accelerate,
    deepspeed and MPI variables, as accelerate reads them); one process when none is set."""
    environ = os.environ if environ is None else environ
    return Launch(_first_int(environ, _RANK_VARIABLES, 0), _first_int(environ, _SIZE_VARIABLES, 1))


def connect_store(environ: Mapping[str, str] | None = None) -> Any:
    """A client of torchrun's agent store (see the module docstring), or a clear error when the
    launcher has none."""
    environ = os.environ if environ is None else environ
    if environ.get("TORCHELASTIC_USE_AGENT_STORE") != "True" or not environ.get("MASTER_ADDR"):
        raise RedStarError(
            "a multi-process run (WORLD_SIZE > 1) must be started by `accelerate launch` or `torchrun`, whose "
            "agent keeps the store the ranks talk through; with another launcher (deepspeed, mpirun, srun), "
            "train one trainer per process instead: `redstar train --trainer ... --data ... --out ...`")
    from torch.distributed import TCPStore

    address, port = environ["MASTER_ADDR"], int(environ.get("MASTER_PORT", "29500"))
    try:
        return TCPStore(host_name=address, port=port, is_master=False, wait_for_workers=False,
                        timeout=datetime.timedelta(seconds=60))
    except Exception as exc:  # torch raises RuntimeError subclasses that vary by version
        raise RedStarError(f"cannot reach the launcher's store at {address}:{port}: {exc}") from None


class Channel:
    """Rank 0's numbered messages to the followers in a store, under ``prefix``."""

    def __init__(self, store: Any, prefix: str, world_size: int) -> None:
        self.store = store
        self.prefix = prefix
        self.world_size = world_size
        self.count = 0  # messages sent (rank 0) or read (followers)

    def _key(self, *parts: object) -> str:
        return "/".join((self.prefix, *map(str, parts)))

    def post(self, message: Mapping[str, Any]) -> None:
        self.store.set(self._key("message", self.count), json.dumps(message))
        self.count += 1

    def receive(self, poll: float = POLL_SECONDS) -> dict[str, Any]:
        """The next message, waiting for it as long as it takes."""
        key = self._key("message", self.count)
        try:
            while not self.store.check([key]):
                time.sleep(poll)
            message: dict[str, Any] = json.loads(self.store.get(key))
        except Exception as exc:
            raise RedStarError(f"lost the launcher's store while waiting for rank 0 ({exc}); rank 0's node or "
                               "the launcher is gone") from None
        self.count += 1
        return message

    def acknowledge(self) -> None:
        self.store.add(self._key("read", self.count - 1), 1)

    def wait_for_readers(self, seconds: float = ACK_SECONDS, poll: float = 0.1) -> bool:
        """Whether every follower acknowledged the last message within ``seconds``."""
        key, deadline = self._key("read", self.count - 1), time.monotonic() + seconds
        while self.store.add(key, 0) < self.world_size - 1:
            if time.monotonic() > deadline:
                return False
            time.sleep(poll)
        return True


def describe(exc: BaseException) -> str:
    """An exception as the one line a follower reports."""
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    if isinstance(exc, RedStarError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


class Team:
    """Rank 0's side: tells the followers which training step to join, and how the run ended."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel

    def train(self, order: Mapping[str, Any]) -> None:
        """Ask every follower to join the training step ``order`` (see
        :func:`redstar.pipeline.training.join_training`)."""
        self.channel.post({"kind": "train", **order})

    def finish(self) -> None:
        self.channel.post({"kind": "done"})

    def fail(self, exc: BaseException) -> None:
        self.channel.post({"kind": "failed", "error": describe(exc)})
        if not self.channel.wait_for_readers():
            log.warning("not every rank confirmed it read rank 0's error; the launcher will stop them")


_TEAM: contextvars.ContextVar[Team | None] = contextvars.ContextVar("redstar_team", default=None)
#: Each rank counts the runs of one launch (a sweep runs several) to keep their messages apart.
_SESSIONS: dict[int, itertools.count[int]] = {}


def team() -> Team | None:
    """The followers of the run rank 0 is running, or None outside a multi-process launch."""
    return _TEAM.get()


def _channel(launch: Launch) -> Channel:
    restart = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")
    session = next(_SESSIONS.setdefault(launch.rank, itertools.count()))
    return Channel(connect_store(), f"redstar/{restart}/{session}", launch.world_size)


@contextlib.contextmanager
def leading(launch: Launch) -> Iterator[Team]:
    """Rank 0 runs the pipeline inside this block; the followers hear how it ended."""
    lead = Team(_channel(launch))
    token = _TEAM.set(lead)
    try:
        yield lead
    except BaseException as exc:
        try:
            lead.fail(exc)
        except Exception as unsent:  # the store is gone too: the launcher stops the others
            log.warning("could not tell the other ranks that rank 0 failed: %s", unsent)
        raise
    else:
        lead.finish()
    finally:
        _TEAM.reset(token)


def follow(launch: Launch, recipe: Recipe, host: Host) -> list[str]:
    """A follower's part of the run: join each training step rank 0 starts, until rank 0 is done
    (returns the steps joined) or failed (:class:`RankZeroFailed` with its error)."""
    from redstar.pipeline.context import PluginContext
    from redstar.pipeline.training import join_training

    channel = _channel(launch)
    ctx = PluginContext(recipe=recipe, host=host)
    joined: list[str] = []
    log.info("rank %d of %d: following rank 0, which runs the pipeline", launch.rank, launch.world_size)
    try:
        while True:
            message = channel.receive()
            kind = message.get("kind")
            if kind == "done":
                return joined
            if kind == "failed":
                channel.acknowledge()
                raise RankZeroFailed(f"rank 0 stopped the run, so rank {launch.rank} stops too: {message['error']}")
            if kind != "train":
                raise RedStarError(f"rank 0 sent a message rank {launch.rank} does not understand: {message!r}")
            join_training(ctx, message)
            joined.append(message["stage"])
    finally:
        ctx.close()
