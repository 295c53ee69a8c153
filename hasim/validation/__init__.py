"""The validation suite: the simulator against theory, case by case (``hasim validate``).

``CASES`` lists the cases (``hasim.validation.cases``); ``validate()`` runs them to
their stated precision and returns a ``Report``: one row per case (theory, mean,
95 % interval, relative error, verdict) and the coverage check across cases.
"""

from __future__ import annotations

from hasim.validation.cases import CASES, Case
from hasim.validation.suite import Report, validate

__all__ = ["CASES", "Case", "Report", "validate"]
