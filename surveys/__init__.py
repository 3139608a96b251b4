"""Pure domain: survey definitions, schedules, the reply parser and the conversation engine."""

from surveys.native import activate

# the compiled parser, when built and matching the sources (surveys/native.py)
activate(__path__)
