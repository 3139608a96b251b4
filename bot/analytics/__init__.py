"""Manager analytics: satisfaction tallies, follow-up figures, comment themes, reports, exports.

- ``stats``: Student-t quantiles, Wilson intervals, rates.
- ``tallies``: score tallies over the answers and their rollups (one query per tally).
- ``suppression``: small groups and the complementary groups that keep them hidden.
- ``views``: one computation per page, shared by the page, CSV, XLSX and JSON.
- ``operations``: follow-up (应随访 / 已随访 / 随访率 / 及时率 / 失访), escalations, complaints.
- ``themes``: what comments talk about (configurable word lists), praise of staff.
- ``reports``: the monthly and quarterly report; ``delivery``: sending it to the managers.
- ``exports``: CSV / XLSX / JSON writers; every cell is written inert (no formulas).
- ``charts``: server-drawn SVG.
"""
