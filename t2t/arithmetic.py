"""Old import path of `t2t.domain.arithmetic`, kept for domain folders written against it."""

from t2t.domain.arithmetic import *  # noqa: F403
from t2t.domain.arithmetic import __all__  # noqa: F401
