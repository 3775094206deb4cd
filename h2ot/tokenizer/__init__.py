"""The hierarchical hourglass tokenizer: pruning strategies, recovery strategies and the schedule.

It knows nothing about any backbone; :class:`h2ot.lifter.PoseLifter` wires it into one.
"""

from h2ot.tokenizer.pruning import (PRUNERS, PruneContext, Pruner, build_pruner, dpc_knn_score, select_top,
                                    uniform_positions)
from h2ot.tokenizer.recovery import (RECOVERIES, AttentionRecovery, InterpolationRecovery, build_recovery,
                                     interpolation_weights)
from h2ot.tokenizer.schedule import Schedule, format_schedule, parse_schedule, tokens_per_block, validate_schedule

__all__ = [
    "PRUNERS", "PruneContext", "Pruner", "build_pruner", "dpc_knn_score", "select_top", "uniform_positions",
    "RECOVERIES", "AttentionRecovery", "InterpolationRecovery", "build_recovery", "interpolation_weights",
    "Schedule", "format_schedule", "parse_schedule", "tokens_per_block", "validate_schedule",
]
