"""Start and stop the native stack under supervisord, component by component, idempotently.

``start`` renders every component's configuration, starts supervisord, then for each
component in :data:`~orderstream.stack.components.COMPONENTS` order runs its one-time set-up,
starts its programs, waits until it is ready and does its after-start work (topics, the
connector). On a running, healthy stack it changes nothing and says so. ``stop`` stops the
components in reverse order and then supervisord.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from orderstream.poll import NotReady, wait_for
from orderstream.settings import Settings
from orderstream.stack import components as stack_components
from orderstream.stack.components import Component, StackContext, StackError
from orderstream.stack.components.base import port_open
from orderstream.stack.components.dataflow import Dataflow
from orderstream.stack.render import write_if_changed
from orderstream.stack.supervisor import SupervisorUnavailable, supervisord_conf

__all__ = ["Stack", "StackError"]


class Stack:
    def __init__(self, ctx: StackContext) -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        self.layout = ctx.layout
        self.supervisor = ctx.supervisor
        self.components = stack_components.build(ctx)

    @classmethod
    def from_env(cls) -> Stack:
        return cls(StackContext.of(Settings.from_env()))

    def say(self, message: str) -> None:
        self.ctx.say(message)

    # --- configuration ----------------------------------------------------------------------

    def supervisord_conf(self) -> str:
        return supervisord_conf(self.layout, [c.programs() for c in self.components])

    def render(self) -> bool:
        """Write every component's files and supervisord.conf; True when any file changed."""
        changed = False
        for component in self.components:
            for file in component.files():
                changed |= write_if_changed(file.path, file.text, file.mode)
        # holds the Connect workers' environment (credentials): owner-only
        conf = self.supervisord_conf()
        changed |= write_if_changed(self.layout.supervisor_config, conf, mode=0o600)
        return changed

    def check_ports_free(self) -> None:
        """Fail early, naming port and setting, when another process holds a port of ours."""
        running = (
            {n for n, p in self.supervisor.programs().items() if p.running}
            if self.supervisor.is_running()
            else set()
        )
        taken = [
            f"{port.port} ({port.setting}, for {port.program})"
            for component in self.components
            for port in component.ports()
            if port.program not in running and port_open(self.settings.host, port.port, timeout=0.5)
        ]
        if taken:
            raise StackError(
                "ports already in use by another process: "
                + ", ".join(taken)
                + "; stop that process or choose other ports with the named settings"
            )

    # --- supervisord --------------------------------------------------------------------------

    def start_supervisord(self) -> None:
        if self.supervisor.is_running():
            return
        self.layout.logs.mkdir(parents=True, exist_ok=True)
        supervisord = Path(sys.executable).with_name("supervisord")
        env = dict(os.environ)
        env["PATH"] = env.get("PATH", "") + ":/usr/sbin:/sbin"
        result = subprocess.run(
            [str(supervisord), "-c", str(self.layout.supervisor_config)],
            env=env,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            output = (result.stderr or result.stdout).strip().splitlines()
            raise StackError(
                f"supervisord did not start: {output[0] if output else result.returncode}"
            )
        wait_for(
            "supervisord", self.supervisor.programs, timeout=20, retry_on=(SupervisorUnavailable,)
        )

    def start_component(self, component: Component) -> None:
        names = [p.name for p in component.programs()]
        if not component.wanted():
            for name in names:
                self.supervisor.stop(name)
            self.say(f"{component.name} off")
            return
        component.prepare()
        for name in names:
            if not self.supervisor.program(name).running:
                self.supervisor.start(name, wait=False)
        component.wait_ready()
        component.after_start()

    def start(self) -> None:
        for component in self.components:
            component.check_installed()
        self.check_ports_free()
        changed = self.render()
        was_running = self.supervisor.is_running()
        if was_running and changed:
            added, modified, removed = self.supervisor.update()
            for verb, names in (("added", added), ("restarting", modified), ("removed", removed)):
                if names:
                    self.say(f"configuration changed: {verb} {', '.join(names)}")
        before = self.supervisor.programs() if was_running else {}
        self.start_supervisord()
        for component in self.components:
            self.start_component(component)
        if was_running and not changed and all(p.running for p in before.values()):
            self.say("stack was already running and healthy: nothing changed")

    # --- stopping -----------------------------------------------------------------------------

    def stop(self, purge: bool = False) -> None:
        if self.supervisor.is_running():
            # reverse start order; a component's programs stop together (a Kafka node left
            # alone without a controller quorum cannot finish its controlled shutdown)
            for component in reversed(self.components):
                self.stop_programs([p.name for p in component.programs()])
            self.supervisor.shutdown()
            wait_for("supervisord to exit", self._supervisord_gone, timeout=60)
        else:
            self.say("stack is not running")
        if purge:
            paths = [p for c in self.components for p in c.purge_paths()]
            for path in [*paths, self.layout.logs, self.layout.conf]:
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
            self.say(f"deleted data, logs and configuration under {self.layout.root} (jars kept)")

    def reset_dataflow(self) -> None:
        """Stop the dataflow, delete its recovery state and start it again: it re-reads its
        topic from the beginning (the recovery for a recovery state that does not fit)."""
        dataflow = next(c for c in self.components if isinstance(c, Dataflow))
        self.stop_programs([p.name for p in dataflow.programs()])
        for path in dataflow.purge_paths():
            shutil.rmtree(path, ignore_errors=True)
        self.say(f"deleted the dataflow's recovery state {self.layout.recovery}")
        self.start_supervisord()
        self.start_component(dataflow)
        self.say("dataflow restarted from the beginning of its topic")

    def stop_programs(self, names: list[str]) -> None:
        programs = self.supervisor.programs()
        present = [n for n in names if n in programs]
        if not present:
            return
        for name in present:
            self.say(f"stopping {name}")
            self.supervisor.stop(name, wait=False)

        def all_stopped() -> None:
            states = self.supervisor.programs()
            busy = [n for n in present if states[n].state in {"RUNNING", "STARTING", "STOPPING"}]
            if busy:
                raise NotReady("still stopping: " + ", ".join(busy))

        wait_for(", ".join(present) + " to stop", all_stopped, timeout=120)

    def _supervisord_gone(self) -> None:
        if self.layout.supervisor_socket.exists() and self.supervisor.is_running():
            raise NotReady("supervisord still running")

    def is_running(self) -> bool:
        """supervisord of this runtime directory answers."""
        return self.supervisor.is_running()

    def where_to_look(self) -> str:
        """What ``scripts/start.sh`` prints once the stack is up."""
        lines = [("orderstream status", "health of every component")]
        lines += [line for c in self.components for line in c.where()]
        lines += [
            ("audit", "orderstream reconcile --wait 120"),
            ("logs", f"{self.layout.logs}/"),
            ("stop (keeps data)", "scripts/stop.sh    (--purge deletes it)"),
        ]
        width = max(len(what) for what, _ in lines) + 2
        body = "\n".join(f"  {what:<{width}}{where}" for what, where in lines)
        return f"Where to look (commands are in .venv/bin):\n{body}"
