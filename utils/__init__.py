"""Compute-node tooling for a QuantConnect options bot: settings, node catalog, memory model,
analyzer and optimizer, resource monitor, circuit breaker, metrics log, deployment.

Names are imported lazily (PEP 562), so ``from utils import create_resource_monitor`` inside
LEAN loads only the runtime modules it needs, and the command-line tools start fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from utils.lazy_exports import lazy_exports

# Exported name -> module that defines it.
_EXPORTS: dict[str, str] = {
    # errors
    "ProjectError": "utils.errors",
    "InputError": "utils.errors",
    "SettingsError": "utils.errors",
    "UnknownNodeError": "utils.errors",
    "AnalysisError": "utils.errors",
    # settings
    "Settings": "utils.settings",
    "load_settings": "utils.settings",
    # node catalog
    "DEFAULT_CATALOG": "utils.node_catalog",
    "Family": "utils.node_catalog",
    "NodeCatalog": "utils.node_catalog",
    "NodeSpec": "utils.node_catalog",
    # memory model
    "MemoryModel": "utils.memory_model",
    "MemoryEstimate": "utils.memory_model",
    "Workload": "utils.memory_model",
    # analyzer and optimizer
    "AlgorithmRequirements": "utils.node_optimizer",
    "NodeOptimizer": "utils.node_optimizer",
    "NodePlan": "utils.node_optimizer",
    "Recommendations": "utils.node_optimizer",
    "EnvironmentRecommendation": "utils.node_optimizer",
    "OptimizationEstimate": "utils.node_optimizer",
    "SourceLine": "utils.node_optimizer",
    "AlgorithmAnalyzer": "utils.algorithm_analyzer",
    "AlgorithmAnalysis": "utils.algorithm_analyzer",
    "analyze_algorithm": "utils.algorithm_analyzer",
    # resource monitor
    "create_resource_monitor": "utils.resource_monitor",
    "ResourceMonitor": "utils.resource_monitor",
    "ResourceMetrics": "utils.resource_monitor",
    "ResourceAlert": "utils.resource_monitor",
    "HealthState": "utils.resource_monitor",
    "HealthStatus": "utils.resource_monitor",
    "MetricStatistics": "utils.resource_monitor",
    "AlertRule": "utils.resource_monitor",
    "Severity": "utils.thresholds",
    # circuit breaker
    "CircuitBreaker": "utils.circuit_breaker",
    "BreakerState": "utils.circuit_breaker",
    "BreakerEvent": "utils.circuit_breaker",
    "BreakerStatus": "utils.circuit_breaker",
    "OrderDecision": "utils.circuit_breaker",
    "ResetRefusedError": "utils.circuit_breaker",
    "create_circuit_breaker": "utils.circuit_breaker",
    # metrics log
    "JsonLinesWriter": "utils.metrics_log",
    "JsonLinesFollower": "utils.metrics_log",
    "read_log": "utils.metrics_log",
    # clocks and system probe
    "Clock": "utils.clock",
    "SystemClock": "utils.clock",
    "ManualClock": "utils.clock",
    "SystemProbe": "utils.system_probe",
    "HostProbe": "utils.system_probe",
    # deployment (desktop only: never shipped to LEAN)
    "QuantConnectAPI": "utils.qc_api",
    "Credentials": "utils.qc_api",
    "load_credentials": "utils.qc_api",
    "ApiError": "utils.qc_api",
    "CredentialsError": "utils.qc_api",
    "LeanCli": "utils.lean_cli",
    "LeanCliError": "utils.lean_cli",
    "Deployment": "utils.deployment",
    "DeployRequest": "utils.deployment",
    "DeploymentType": "utils.deployment",
}

if TYPE_CHECKING:  # the same names, eagerly, for type checkers
    from utils.algorithm_analyzer import AlgorithmAnalysis as AlgorithmAnalysis
    from utils.algorithm_analyzer import AlgorithmAnalyzer as AlgorithmAnalyzer
    from utils.algorithm_analyzer import analyze_algorithm as analyze_algorithm
    from utils.circuit_breaker import BreakerEvent as BreakerEvent
    from utils.circuit_breaker import BreakerState as BreakerState
    from utils.circuit_breaker import BreakerStatus as BreakerStatus
    from utils.circuit_breaker import CircuitBreaker as CircuitBreaker
    from utils.circuit_breaker import OrderDecision as OrderDecision
    from utils.circuit_breaker import ResetRefusedError as ResetRefusedError
    from utils.circuit_breaker import create_circuit_breaker as create_circuit_breaker
    from utils.clock import Clock as Clock
    from utils.clock import ManualClock as ManualClock
    from utils.clock import SystemClock as SystemClock
    from utils.deployment import Deployment as Deployment
    from utils.deployment import DeploymentType as DeploymentType
    from utils.deployment import DeployRequest as DeployRequest
    from utils.errors import AnalysisError as AnalysisError
    from utils.errors import InputError as InputError
    from utils.errors import ProjectError as ProjectError
    from utils.errors import SettingsError as SettingsError
    from utils.errors import UnknownNodeError as UnknownNodeError
    from utils.lean_cli import LeanCli as LeanCli
    from utils.lean_cli import LeanCliError as LeanCliError
    from utils.memory_model import MemoryEstimate as MemoryEstimate
    from utils.memory_model import MemoryModel as MemoryModel
    from utils.memory_model import Workload as Workload
    from utils.metrics_log import JsonLinesFollower as JsonLinesFollower
    from utils.metrics_log import JsonLinesWriter as JsonLinesWriter
    from utils.metrics_log import read_log as read_log
    from utils.node_catalog import DEFAULT_CATALOG as DEFAULT_CATALOG
    from utils.node_catalog import Family as Family
    from utils.node_catalog import NodeCatalog as NodeCatalog
    from utils.node_catalog import NodeSpec as NodeSpec
    from utils.node_optimizer import AlgorithmRequirements as AlgorithmRequirements
    from utils.node_optimizer import EnvironmentRecommendation as EnvironmentRecommendation
    from utils.node_optimizer import NodeOptimizer as NodeOptimizer
    from utils.node_optimizer import NodePlan as NodePlan
    from utils.node_optimizer import OptimizationEstimate as OptimizationEstimate
    from utils.node_optimizer import Recommendations as Recommendations
    from utils.node_optimizer import SourceLine as SourceLine
    from utils.qc_api import ApiError as ApiError
    from utils.qc_api import Credentials as Credentials
    from utils.qc_api import CredentialsError as CredentialsError
    from utils.qc_api import QuantConnectAPI as QuantConnectAPI
    from utils.qc_api import load_credentials as load_credentials
    from utils.resource_monitor import AlertRule as AlertRule
    from utils.resource_monitor import HealthState as HealthState
    from utils.resource_monitor import HealthStatus as HealthStatus
    from utils.resource_monitor import MetricStatistics as MetricStatistics
    from utils.resource_monitor import ResourceAlert as ResourceAlert
    from utils.resource_monitor import ResourceMetrics as ResourceMetrics
    from utils.resource_monitor import ResourceMonitor as ResourceMonitor
    from utils.resource_monitor import create_resource_monitor as create_resource_monitor
    from utils.settings import Settings as Settings
    from utils.settings import load_settings as load_settings
    from utils.system_probe import HostProbe as HostProbe
    from utils.system_probe import SystemProbe as SystemProbe
    from utils.thresholds import Severity as Severity

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
