"""Failure analysis: the task-set audit, the taxonomy, plotly figures, the HTML report and the
trajectory inspector.
"""

from t2t.failures.audit import (
    AUDIT_COLUMNS,
    MOTIVE_WORDS,
    AuditReport,
    GroundingRow,
    TaskAudit,
    audit_frame,
    audit_task,
    audit_task_sets,
    audit_tasks,
    format_audit,
    grounding_frame,
    task_text,
)
from t2t.failures.figures import (
    cost_vs_success,
    failure_breakdown,
    pass_k_curves,
    pass_k_heatmap,
    save_figures,
    standard_figures,
    turns_distribution,
)
from t2t.failures.inspector import TrajectoryInspector
from t2t.failures.report import write_report
from t2t.failures.taxonomy import (
    FAILURE_TYPES,
    classify_failures,
    episode_frame,
    failure_counts,
    run_labels,
)

__all__ = [
    "AUDIT_COLUMNS",
    "MOTIVE_WORDS",
    "AuditReport",
    "GroundingRow",
    "TaskAudit",
    "audit_frame",
    "audit_task",
    "audit_task_sets",
    "audit_tasks",
    "format_audit",
    "grounding_frame",
    "task_text",
    "FAILURE_TYPES",
    "TrajectoryInspector",
    "classify_failures",
    "cost_vs_success",
    "episode_frame",
    "failure_breakdown",
    "failure_counts",
    "pass_k_curves",
    "pass_k_heatmap",
    "run_labels",
    "save_figures",
    "standard_figures",
    "turns_distribution",
    "write_report",
]
