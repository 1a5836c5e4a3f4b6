"""The public measures API: ``from monoscope import metrics``.

The code lives in `monoscope.core.analysis.metrics`; this module re-exports its public names so
notebooks and scripts keep one stable import path.
"""

from monoscope.core.analysis.metrics import *  # noqa: F403
from monoscope.core.analysis.metrics import __all__ as __all__
