"""Run an algorithm file on the LEAN stand-in in this process and print what happened as JSON.

For integration tests that need a fresh interpreter: a staged project (only its own folder and
this one on ``sys.path``), or a runtime with a module made unimportable. Usage::

    python run_on_stand_in.py ALGORITHM STORE [--live] [--block MODULE ...]

It initializes the algorithm at 09:30, runs an hour of scheduled events, delivers an SPY chain
in the entry window, ends the algorithm, and prints ``{"messages", "orders", "modules"}``.
Standard library and the stand-in only (``lean_stand_in`` must be importable).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main() -> None:
    """Parse the arguments, run the algorithm, print the JSON result."""
    parser = argparse.ArgumentParser()
    parser.add_argument("algorithm", type=Path)
    parser.add_argument("store", type=Path)
    parser.add_argument("--live", action="store_true")
    parser.add_argument("--block", action="append", default=[])
    options = parser.parse_args()
    for name in options.block:  # `import name` now raises ImportError, as if not installed
        sys.modules[name] = None  # type: ignore[assignment]

    from lean_stand_in import LeanStandIn, load_algorithm

    module = load_algorithm(options.algorithm, "main")
    engine = LeanStandIn(
        module.OptionsTradingBot, live_mode=options.live, object_store=options.store
    )
    engine.initialize()
    engine.advance(3600)  # to 10:30, every scheduled event on the way
    engine.quote_chain("SPY", 470.0)
    engine.send_data()
    engine.end()
    loaded = {
        name: getattr(sys.modules[name], "__file__", None)
        for name in ("utils", "utils.settings", "utils.deployed_settings", "utils.resource_monitor")
        if sys.modules.get(name) is not None
    }
    print(
        json.dumps(
            {
                "messages": engine.messages,
                "orders": [[o.kind, o.symbol.value, o.quantity] for o in engine.orders.values()],
                "modules": loaded,
            }
        )
    )


if __name__ == "__main__":
    main()
