"""Old import path of `t2t.domain.record_checks`, kept for domain folders written against it."""

from t2t.domain.record_checks import *  # noqa: F403
from t2t.domain.record_checks import __all__  # noqa: F401
