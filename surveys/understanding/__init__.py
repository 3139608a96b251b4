"""Reply understanding, one module per concern (the rules of ``surveys.parser`` call them).

* :mod:`surveys.understanding.dispute` -- threats to take a matter further (``dispute.toml``);
* :mod:`surveys.understanding.model` -- the learned model over character n-grams and the
  rules' evidence that arbitrates every label (``model.json``), and its explanation.
"""

from surveys.native import activate

# the compiled modules of this package, when built and matching the sources (surveys/native.py)
activate(__path__, "understanding")
