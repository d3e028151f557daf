"""``python -m slokit.demo [--host H] [--port N] [--break] [--seed S]`` serves the demo."""

from slokit.demo._server import main

raise SystemExit(main())
