"""The paper's experiments as one call: `run_replication(study, ReplicateRequest(...), state)`.

Presets (`quick`, `paper`), the sampling grid, persona rotation and decay schedules live in
`presets`; the time estimate in `estimate`; the table assembly in `tables`; the HTML page and
figures in `report`; the result record in `result`; the protocol (through
`monoscope.core.pipeline.run_chain`) in `pipeline`. See docs/replication.md.
"""

from __future__ import annotations

from monoscope.core.replicate.estimate import Estimate, estimate
from monoscope.core.replicate.pipeline import plan, run_replication
from monoscope.core.replicate.presets import (
    DECAYS,
    PPL_MAX,
    PRESETS,
    PROTOCOLS,
    Config,
    ReplicateError,
    ReplicateRequest,
    decay_temperature,
    expand,
    persona_for,
)
from monoscope.core.replicate.result import ReplicationResult
from monoscope.core.replicate.tables import Table, assemble

__all__ = [
    "DECAYS",
    "PPL_MAX",
    "PRESETS",
    "PROTOCOLS",
    "Config",
    "Estimate",
    "ReplicateError",
    "ReplicateRequest",
    "ReplicationResult",
    "Table",
    "assemble",
    "decay_temperature",
    "estimate",
    "expand",
    "persona_for",
    "plan",
    "run_replication",
]
