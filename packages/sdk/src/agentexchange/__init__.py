"""agentexchange: the typed Python client (sync and async) for the TradeReady REST API.

Usage::

    from agentexchange import AgentExchangeClient

    client = AgentExchangeClient(api_key="ak_live_...")   # or set TRADEREADY_API_KEY

    runs = client.get_training_runs(status="completed", limit=10)
    run = client.get_training_run(run_id="run_abc123")
    print(f"Episodes: {run['total_episodes']}  Avg ROI: {run['avg_roi_pct']}%  Avg Sharpe: {run['avg_sharpe']}")
    comparison = client.compare_training_runs(run_ids=["run_ppo_v1", "run_dqn_v1"])

The base URL is ``base_url=``, else ``TRADEREADY_BASE_URL``, else ``http://localhost:8000``.
``AsyncAgentExchangeClient`` has the same methods, awaited. Results are plain dicts typed by
``agentexchange.types``; failures raise subclasses of :class:`AgentExchangeError`.
"""

from agentexchange._async_client import AsyncAgentExchangeClient
from agentexchange._client import AgentExchangeClient
from agentexchange._errors import (
    AgentExchangeError,
    APIConnectionError,
    APIResponseError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InvalidArgumentError,
    MissingAPIKeyError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    ValidationError,
)
from agentexchange._stream import AsyncBacktestStream, BacktestStream
from agentexchange._version import __version__

__all__ = [
    "APIConnectionError",
    "APIResponseError",
    "APIStatusError",
    "APITimeoutError",
    "AgentExchangeClient",
    "AgentExchangeError",
    "AsyncAgentExchangeClient",
    "AsyncBacktestStream",
    "AuthenticationError",
    "BacktestStream",
    "BadRequestError",
    "ConflictError",
    "InvalidArgumentError",
    "MissingAPIKeyError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitError",
    "ServerError",
    "ValidationError",
    "__version__",
]

# Show the public import path (agentexchange.NotFoundError) in reprs and tracebacks.
for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type):
        _obj.__module__ = __name__
del _name, _obj
