"""The web dashboard over the run store: ``slokit dashboard``.

::

    from slokit.dashboard import create_app, serve

    app = create_app(None, project_dir=Path("."))      # a Starlette app over .slokit/runs.db
    serve(None, project_dir=Path("."), port=8787)      # the same, under uvicorn, on loopback

Pages: the overview (``/``: every service and scenario with its last run's verdicts and
numbers, a p95 sparkline, and the error budgets from Prometheus when configured), trends of
one scenario across runs (``/services/SERVICE/SCENARIO``), one run with report.html's
charts (``/runs/ID``, its results.json at ``/runs/ID/results.json``) and two runs compared
(``/compare?a=ID&b=ID``); ``/api/...`` mirrors them as JSON. Everything, plotly.js included,
is served by the app itself: no page loads anything from anywhere else.
"""

from slokit.dashboard._app import create_app
from slokit.dashboard._serve import DEFAULT_PORT, serve

__all__ = ["DEFAULT_PORT", "create_app", "serve"]
