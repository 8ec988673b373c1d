"""``orderstream chaos``: a fault suite people can run against the live stack.

Each scenario runs the load generator, injects one fault, heals it, waits until
``orderstream status`` is healthy, runs ``reconcile`` and prints one line: what was done, how
long the fault lasted, how long recovery took, whether the money still matches and what was
dead-lettered. :mod:`.registry` holds the scenarios (one module per family registers its
own); :mod:`.harness` runs them; :mod:`.cli` is the subcommand.
"""
