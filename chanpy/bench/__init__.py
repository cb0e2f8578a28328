"""chanpy's benchmarks: scenarios against peers, run by ``python -m chanpy.bench``.

``scenarios`` defines each workload once (chanpy's implementation and its
peers'); ``runner`` runs them interleaved and computes ratios; ``report``
renders the table, the JSON and the chart; ``cli`` is the command. The
pytest-benchmark suite in the repository's ``bench/`` runs the same
scenario objects.
"""

from chanpy.bench.scenarios import SCENARIOS, Impl, Measurement, Scenario, by_name

__all__ = ["SCENARIOS", "Impl", "Measurement", "Scenario", "by_name"]
