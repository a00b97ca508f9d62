"""How the pools read their monitor actors (ray_pools.MonitorReads), on a scripted stand-in for
Ray: never blocking, one read in flight, and a monitor that died said once and then left alone
(hung replicas and tasks are then no longer judged, rather than judged on a guess). The real
monitors on a cluster: test_ray_replicas.py, test_ray_engine.py."""

from __future__ import annotations

from typing import Any

from redstar.execution.ray_pools import NO_ANSWER, MonitorReads


class Read:
    def __init__(self, args: tuple[Any, ...]) -> None:
        self.args, self.answer, self.ready = args, None, False


class Monitor:
    def __init__(self) -> None:
        self.reads: list[Read] = []
        self.read = self  # ``monitor.read.remote(...)``

    def remote(self, *args: Any) -> Read:
        self.reads.append(Read(args))
        return self.reads[-1]


class ScriptedRay:
    def wait(self, refs: list[Read], num_returns: int = 1, timeout: float | None = None) -> tuple[list, list]:
        assert timeout == 0, "a monitor read must never block the driver"
        return [ref for ref in refs if ref.ready], []

    def get(self, ref: Read) -> Any:
        if isinstance(ref.answer, Exception):
            raise ref.answer
        return ref.answer


def test_one_read_in_flight_sent_again_when_due_and_its_answer_taken_once():
    monitor, said = Monitor(), []
    reads = MonitorReads(ScriptedRay(), monitor, 2.0, "the tasks' monitor", "hung tasks", said.append)
    assert reads.take() is NO_ANSWER and reads.due(10.0)
    reads.send(10.0, ["done-1"])
    assert monitor.reads[0].args == (["done-1"],)
    assert not reads.due(20.0)  # one in flight: not asked again
    assert reads.take() is NO_ANSWER  # not come yet
    monitor.reads[0].answer, monitor.reads[0].ready = ["task-a"], True
    assert reads.take() == ["task-a"] and reads.take() is NO_ANSWER
    assert not reads.due(11.0) and reads.due(12.0)  # every 2 s from the last send
    assert said == []


def test_a_monitor_that_died_is_said_once_and_not_read_again():
    monitor, said = Monitor(), []
    reads = MonitorReads(ScriptedRay(), monitor, 1.0, "the replicas' heartbeat monitor", "hung replicas", said.append)
    reads.send(0.0)
    monitor.reads[0].answer, monitor.reads[0].ready = RuntimeError("The actor died unexpectedly"), True
    assert reads.take() is NO_ANSWER
    assert said == ["ray: warning: the replicas' heartbeat monitor is gone (The actor died unexpectedly); "
                    "hung replicas are no longer detected in this run"]
    assert reads.monitor is None and not reads.due(100.0) and reads.take() is NO_ANSWER
    assert len(monitor.reads) == 1 and len(said) == 1


def test_without_a_monitor_nothing_is_ever_sent():
    reads = MonitorReads(ScriptedRay(), None, 1.0, "the tasks' monitor", "hung tasks", print)
    assert not reads.due(100.0) and reads.take() is NO_ANSWER
