"""Request and response shapes of the seed contract: the only user of marshmallow.

`base` holds the strict fields and validators, `job` the job, start, retry and empty bodies and the job's
shape, `inspect` what inspect answers.
"""

from .base import RESERVED_ENV, describe_errors
from .inspect import InspectSchema, InspectView, ResultSchema, ResultView, dump_inspect, dump_result
from .job import (
    OPTIONAL_JOB_FIELDS,
    EmptySchema,
    JobSchema,
    RetrySchema,
    StartSchema,
    TargetSchema,
    dump_job,
    dump_saved_job,
    dump_target,
    load_empty,
    load_job,
    load_job_edit,
    load_retry,
    load_start,
    merge_rolling,
    refuse_duplicate_targets,
)
from .service import (
    ContainerSchema,
    ErrorSchema,
    HealthSchema,
    ServiceSchema,
    SettingsSchema,
    WarningSchema,
    dump_containers,
    dump_health,
    dump_services,
    dump_settings,
    dump_warnings,
)
from .stats import ExecutionStatsSchema, ServiceStatsSchema, dump_execution_stats, load_stats_query

__all__ = [
    "ExecutionStatsSchema",
    "ServiceStatsSchema",
    "dump_execution_stats",
    "load_stats_query",
    "ContainerSchema",
    "ErrorSchema",
    "HealthSchema",
    "ServiceSchema",
    "SettingsSchema",
    "WarningSchema",
    "dump_containers",
    "dump_health",
    "dump_services",
    "dump_settings",
    "dump_warnings",
    "OPTIONAL_JOB_FIELDS",
    "RESERVED_ENV",
    "EmptySchema",
    "InspectSchema",
    "InspectView",
    "JobSchema",
    "ResultSchema",
    "ResultView",
    "RetrySchema",
    "StartSchema",
    "TargetSchema",
    "describe_errors",
    "dump_inspect",
    "dump_job",
    "dump_result",
    "dump_saved_job",
    "dump_target",
    "load_empty",
    "load_job",
    "load_job_edit",
    "load_retry",
    "load_start",
    "merge_rolling",
    "refuse_duplicate_targets",
]
