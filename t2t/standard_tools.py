"""Old import path of `t2t.domain.standard_tools`, kept for domain folders written against it."""

from t2t.domain.standard_tools import *  # noqa: F403
from t2t.domain.standard_tools import __all__  # noqa: F401
