"""The reconciliation audit behind ``orderstream reconcile``.

Pure: :mod:`.model` (window values), :mod:`.wire` (decoding the topics' records),
:mod:`.compare` (the comparison and the readable diff), :mod:`.reference` (the ground-truth
semantics in Python, for tests). IO: :mod:`.truth` (SQL over order_status_history),
:mod:`.topics` (Kafka). Entry: :mod:`.cli`.
"""
