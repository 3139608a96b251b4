"""The reply parser's public names (the parser itself is ``surveys.understanding``).

Kept so that ``from surveys.parser import ReplyParser, Lexicon`` goes on working: the rules,
the learned model and the explanation are one module per concern in
``surveys/understanding/`` (``rules.py`` reads a reply, calling the others).
"""

from surveys.lexicon import Lexicon
from surveys.understanding.evidence import Evidence, Interpretation
from surveys.understanding.rules import ReplyParser, parse

__all__ = ["Evidence", "Interpretation", "Lexicon", "ReplyParser", "parse"]
