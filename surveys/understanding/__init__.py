"""Reply understanding: the rules, one module per concern, and the learned model over them.

:mod:`~surveys.understanding.rules` reads a reply (``ReplyParser``; ``surveys.parser``
re-exports it), calling on

* :mod:`~surveys.understanding.normalize` -- NFKC, simplified characters, lower case;
* :mod:`~surveys.understanding.numbers` and :mod:`~surveys.understanding.scores` -- numbers,
  stars, rating words (``scores.toml``, ``ratings.toml``) and the score decision;
* :mod:`~surveys.understanding.redflag` and :mod:`~surveys.understanding.safety` -- red flags
  (``redflag.toml``) and when a mention is none: :mod:`~surveys.understanding.resolution`
  (denied, resolved, mild, hypothetical), :mod:`~surveys.understanding.circumstance` (past,
  someone else's, a grievance's circumstance), :mod:`~surveys.understanding.selfharm`;
* :mod:`~surveys.understanding.optout` and :mod:`~surveys.understanding.contact` -- stops
  (``optout.toml``), deaths, wrong numbers, moves to other care;
* :mod:`~surveys.understanding.complaint` (``complaint.toml``) and
  :mod:`~surveys.understanding.dispute` (``dispute.toml``);
* :mod:`~surveys.understanding.questions`;
* :mod:`~surveys.understanding.model` and :mod:`~surveys.understanding.decide` -- the
  learned model (``model.json``) and how it settles each label within what the rules hold
  exact; :mod:`~surveys.understanding.learn` trains it (``survey-bot train``);
* :mod:`~surveys.understanding.explain` -- the explanation of every decision;
* :mod:`~surveys.understanding.evidence`, :mod:`~surveys.understanding.text` and
  :mod:`~surveys.understanding.compose` -- what the others share.
"""

from surveys.native import activate

# the compiled modules of this package, when built and matching the sources (surveys/native.py)
activate(__path__, "understanding")
