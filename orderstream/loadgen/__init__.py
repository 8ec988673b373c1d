"""The order simulator behind ``orderstream loadgen``.

Layers, inner to outer: :mod:`.catalog` and :mod:`.planner` (pure: the seeded order
lifecycle as a timeline of :class:`~.planner.PlannedChange`), :mod:`.runner` (open-loop
pacing, no SQL), :mod:`.writer` and :mod:`.db` (pymysql), :mod:`.cli` (argparse entry).
"""

from orderstream.loadgen.planner import ChangeKind, PlanConfig, PlannedChange, plan

__all__ = ["ChangeKind", "PlanConfig", "PlannedChange", "plan"]
