"""`ReplicationResult`: what one `run_replication` call did and produced (read by the report)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from monoscope.core.replicate.estimate import Estimate
from monoscope.core.replicate.presets import Config, ReplicateRequest
from monoscope.core.replicate.tables import Table


@dataclass
class ReplicationResult:
    request: ReplicateRequest
    dataset: str
    configs: list[Config]
    run_ids: list[int]
    estimate: Estimate
    prompts: list[str]
    generated_now: int = 0
    tokens_now: int = 0
    annotated_now: int = 0
    measured_now: bool = False
    tables: list[Table] = field(default_factory=list)
    out: Path | None = None
    report: Path | None = None
    seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def repeated_nothing(self) -> bool:
        """True when this call found every piece of work already done."""
        return not (self.generated_now or self.annotated_now or self.measured_now)
