"""The demo load: ``orderstream loadgen`` at ORDERSTREAM_DEMO_RATE changes/s, until stopped."""

from __future__ import annotations

from orderstream.stack.components.base import Check, Component, Program
from orderstream.stack.supervisor import SupervisorUnavailable

RATE_SETTING = "ORDERSTREAM_DEMO_RATE"


class DemoLoad(Component):
    name = "loadgen"

    def command(self) -> list[str]:
        rate = f"{self.settings.demo_rate:g}"
        return [self.ctx.python, "-m", "orderstream", "loadgen", "--rate", rate]

    def programs(self) -> list[Program]:
        return [Program(self.name, self.command(), {"PYTHONUNBUFFERED": "1"})]

    def wanted(self) -> bool:
        return self.settings.demo_rate > 0

    def wait_ready(self) -> None:
        self.ctx.wait_running(self.name, timeout=30)
        self.ctx.say(f"demo load running at {self.settings.demo_rate:g} order changes/s")

    def checks(self) -> list[Check]:
        if not self.wanted():
            return [Check(self.name, True, f"off ({RATE_SETTING}=0)")]
        rate = f"{self.settings.demo_rate:g} order changes/s"
        try:
            state = self.ctx.supervisor.program(self.name)
        except SupervisorUnavailable as exc:
            return [Check(self.name, False, str(exc))]
        if state.running:
            return [Check(self.name, True, f"running at {rate} (pid {state.pid})")]
        log = self.ctx.log_of(self.name)
        return [Check(self.name, False, f"{state.state}, should run at {rate}: see {log}")]
