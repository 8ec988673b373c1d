"""The native stack as a list of components, one module each, started in list order.

A component is a subclass of :class:`~orderstream.stack.components.base.Component` that says
how it is installed (``check_installed``), what it renders (``files``), how it runs under
supervisord (``programs``), which ports it takes and which variable chooses each (``ports``),
its one-time set-up (``prepare``), how to wait for it (``wait_ready``), what to do once it is
up (``after_start``), how ``orderstream status`` checks it (``checks``), what
``orderstream stack info`` shows (``where``), whether it should run at all (``wanted``) and
what ``stop --purge`` deletes (``purge_paths``). Every hook has a do-nothing default.
``self.ctx`` (:class:`~orderstream.stack.components.base.StackContext`) gives the stack's
settings, paths, the supervisor client, the environment and helpers (``say``, ``tool``,
``wait_running``); waits use :func:`orderstream.poll.wait_for`, retrying only on
``NotReady`` and the exception types named in ``retry_on``.

How to add a component (e.g. Prometheus):

1. Write ``orderstream/stack/components/prometheus.py`` with ``class Prometheus(Component)``
   and ``name = "prometheus"``. Read its own knobs in ``__init__`` from ``self.ctx.env`` with
   the readers of :mod:`orderstream.knobs` (e.g. ``env_port(ctx.env,
   "ORDERSTREAM_<NAME>_PORT", 9090)``); a bad value raises ``SettingsError`` naming it.
   Return its config from ``files()`` (paths under ``self.layout.conf``, text from
   :mod:`orderstream.stack.render`), its process from ``programs()``, its ports from
   ``ports()`` (clashes with any other component's port are refused, naming both variables),
   a real health probe from ``checks()`` and its data directory from ``purge_paths()``.
2. Add ``Prometheus`` to :data:`COMPONENTS` below, after the components it depends on.
3. Add its variables to the README's settings table (a unit test checks the table), its
   name to the expected start order and its programs to the expected supervisor programs in
   ``tests/unit/stack/test_components.py`` (which already checks that every listed component
   renders, that its ports do not clash and that ``status`` names it), and a test of what it
   renders.
"""

from __future__ import annotations

from orderstream import knobs
from orderstream.stack.components.base import (
    Check,
    Component,
    File,
    Port,
    Program,
    StackContext,
    StackError,
)
from orderstream.stack.components.connect_workers import ConnectWorkers
from orderstream.stack.components.connector import CdcConnector
from orderstream.stack.components.dataflow import Dataflow
from orderstream.stack.components.demoload import DemoLoad
from orderstream.stack.components.kafka import KafkaCluster
from orderstream.stack.components.mariadb import MariaDB

__all__ = [
    "COMPONENTS",
    "Check",
    "Component",
    "File",
    "Port",
    "Program",
    "StackContext",
    "StackError",
    "build",
]

#: Start order; ``stop`` goes backwards.
COMPONENTS: tuple[type[Component], ...] = (
    MariaDB,
    KafkaCluster,
    ConnectWorkers,
    CdcConnector,
    Dataflow,
    DemoLoad,
)


def build(ctx: StackContext) -> list[Component]:
    """The stack's components in start order; two settings choosing one port is an error
    naming both (:class:`~orderstream.knobs.SettingsError`)."""
    components = [component(ctx) for component in COMPONENTS]
    by_setting: dict[str, list[int]] = {}
    for component in components:
        for port in component.ports():
            by_setting.setdefault(port.setting, []).append(port.port)
    knobs.check_port_clashes(by_setting.items())
    return components
