"""A small, honest fake of QuantConnect's API v2 for tests (see :mod:`.protocol`)."""

from tests.fake_qc_api.protocol import (
    FakeNode,
    FakeQuantConnect,
    RecordedRequest,
    default_nodes,
    make_node,
)
from tests.fake_qc_api.server import (
    LEAN_CLI_PORT,
    FakeServer,
    fixed_port_lock,
    in_process_transport,
)

__all__ = [
    "LEAN_CLI_PORT",
    "FakeNode",
    "FakeQuantConnect",
    "FakeServer",
    "RecordedRequest",
    "default_nodes",
    "fixed_port_lock",
    "in_process_transport",
    "make_node",
]
