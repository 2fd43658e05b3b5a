"""SQLAlchemy models. Importing this package registers every table on ``Base.metadata``.

Each area owns one module (accounts, market, backtests, training); add new modules to the imports below.
"""

from tradeready.server.store.models import accounts as accounts
from tradeready.server.store.models import backtests as backtests
from tradeready.server.store.models import evaluations as evaluations
from tradeready.server.store.models import market as market
from tradeready.server.store.models import ratelimit as ratelimit
from tradeready.server.store.models import training as training
from tradeready.server.store.models.accounts import Account, ApiKey
from tradeready.server.store.models.base import Base, UTCDateTime, new_id, utcnow

__all__ = ["Account", "ApiKey", "Base", "UTCDateTime", "new_id", "utcnow"]
