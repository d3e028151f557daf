"""A scenario's results priced: which rates and which usage the cost figures take."""

from __future__ import annotations

from slokit.results._cost import CostFigures, Usage, price
from slokit.results._model import ScenarioResults
from slokit.spec import CostPrices

__all__ = ["price_scenario"]


def price_scenario(prices: CostPrices, results: ScenarioResults) -> CostFigures:
    """``results`` priced: the served rate is the answered, not failed requests per measured
    second; a capacity search adds its sustainable rate (unless it never finished) and prices
    sampled usage at the sustainable step's peak, the rest at the measured part's means."""
    total = results.total
    seconds = results.measured_s
    served = (total.count - total.failed) / seconds if seconds > 0 else 0.0
    capacity = results.capacity
    sustainable = None
    usage = Usage()
    if results.resources is not None:
        summaries = results.resources.summaries(results.warmup_s)
        cpu, rss = summaries.get("cpu"), summaries.get("rss")
        usage = Usage(cpu=None if cpu is None else cpu.mean, rss=None if rss is None else rss.mean)
    if capacity is not None and capacity.limit != "none" and capacity.sustainable:
        sustainable = capacity.sustainable
        step = capacity.sustainable_step
        if step is not None and step.resources:
            peak = step.resources
            usage = Usage(cpu=peak.get("cpu", usage.cpu), rss=peak.get("rss", usage.rss))
    return price(prices, served_rate=served, sustainable=sustainable, usage=usage)
