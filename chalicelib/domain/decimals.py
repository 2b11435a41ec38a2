"""Numbers written as text (query strings): plain ASCII decimals only.

``int()`` and ``float()`` alone would also take " 5", "1_0", "\\uff15" (a fullwidth 5), "nan" and
"infinity"; one definition serves every parameter that arrives as text.
"""

from __future__ import annotations

import re

ASCII_INTEGER = re.compile(r"[+-]?[0-9]+")
ASCII_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
