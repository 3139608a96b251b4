"""Append-only, hash-chained records: satisfaction answers and the audit trail.

Each row stores ``prev_hash`` (the previous row's ``hash``) and ``hash`` =
SHA-256 over ``prev_hash`` and a canonical JSON of the fields named in ``CHAIN_FIELDS``.
Rows are written only through ``bot.ledger.append`` and never updated; corrections are new rows.
"""

from __future__ import annotations

from typing import ClassVar

from tortoise import fields
from tortoise.models import Model

from models.fields import UTCDatetimeField


class Answer(Model):
    """One answer to one survey question (a satisfaction record)."""

    CHAIN_FIELDS: ClassVar[tuple[str, ...]] = (
        "checkin_id", "conversation_id", "episode_id", "department_id", "channel",
        "question_id", "score", "text", "message_id", "recorded_at",
        "clinician", "treatment_type", "local_day", "clinician_code",
    )
    # Chained only when set: rows written before the field existed (NULL) hash as they did.
    OPTIONAL_CHAIN_FIELDS: ClassVar[frozenset[str]] = frozenset({"clinician_code"})

    id = fields.BigIntField(primary_key=True)
    checkin_id = fields.IntField(null=True, db_index=True)
    conversation_id = fields.IntField(db_index=True)
    episode_id = fields.IntField(null=True, db_index=True)
    department_id = fields.IntField(null=True)
    channel = fields.CharField(max_length=16)
    survey_id = fields.CharField(max_length=64)
    question_id = fields.CharField(max_length=64)
    score = fields.SmallIntField(null=True)
    text = fields.TextField(default="")
    message_id = fields.BigIntField(null=True)
    recorded_at = UTCDatetimeField()
    # Denormalised from the episode at recording time (and chained with the rest), so the
    # manager tallies group over this one table without joins: see bot/tallies.py.
    # Nullable without defaults: a row appended without them hashes None and stores NULL,
    # so the chain still verifies.
    clinician = fields.CharField(max_length=128, null=True)
    # The clinician's id in the hospital system (import column clinician_id), when given:
    # clinicians are told apart within their department by it, else by name.
    clinician_code = fields.CharField(max_length=64, null=True)
    treatment_type = fields.CharField(max_length=64, null=True)
    # recorded_at as a local calendar day, YYYY-MM-DD in the organisation's time zone
    local_day = fields.CharField(max_length=10, null=True)
    prev_hash = fields.CharField(max_length=64)
    hash = fields.CharField(max_length=64, unique=True)

    class Meta:
        table = "answer"
        # Covering indexes for the tallies: each starts with the column grouped by and ends
        # with local_day, so a GROUP BY streams one index in order (bot/tallies.py).
        indexes = (
            ("department_id", "recorded_at"),
            ("department_id", "question_id", "score", "local_day"),
            ("department_id", "clinician", "clinician_code", "question_id", "score",
             "local_day"),
            ("treatment_type", "question_id", "score", "local_day"),
            ("channel", "question_id", "score", "local_day"),
            ("question_id", "score", "local_day"),
            # day ranges of the tallies the rollups cannot serve (clinician, treatment): covers
            # every column they read, so PostgreSQL scans only the range's index entries
            ("local_day", "department_id", "clinician", "clinician_code", "treatment_type",
             "channel", "question_id", "score"),
        )


class AnswerTally(Model):
    """Scored answers counted per group and local month (derived, not chained).

    Kept by ``bot.ledger.append`` in the same transaction as each scored Answer, so it always
    equals counting the answer table (tests/test_tallies_rollup.py checks). Month-grain tallies
    read it instead of the answer table: far fewer rows. Nullable answer columns are stored as
    0 or '' with a bit in ``nulls`` (1 department, 2 clinician, 4 treatment, 8 local day) so the
    unique key (and its upsert) also works for them. Rebuild with
    ``bot.analytics.tallies.rebuild_rollup`` after writing answers any other way.
    """

    id = fields.BigIntField(primary_key=True)
    department_id = fields.IntField(default=0)
    clinician = fields.CharField(max_length=128, default="")
    clinician_code = fields.CharField(max_length=64, default="")
    treatment_type = fields.CharField(max_length=64, default="")
    channel = fields.CharField(max_length=16)
    question_id = fields.CharField(max_length=64)
    score = fields.SmallIntField()
    local_month = fields.CharField(max_length=7, default="")  # YYYY-MM of local_day
    nulls = fields.SmallIntField(default=0)
    n = fields.BigIntField(default=0)

    class Meta:
        table = "answer_tally"
        unique_together = (("department_id", "clinician", "clinician_code", "treatment_type",
                            "channel", "question_id", "score", "local_month", "nulls"),)
        # clinician's is covering (nulls, n): SQLite streams it in group order
        indexes = (("department_id", "clinician", "clinician_code", "question_id", "score",
                    "local_month", "nulls", "n"),
                   ("channel", "question_id", "score", "local_month"),
                   ("treatment_type", "question_id", "score", "local_month"),
                   ("question_id", "score", "local_month"))


class AnswerDay(Model):
    """Scored answers counted per department, channel, question, score and local day (derived).

    The day rollup: kept by ``bot.ledger.append`` beside AnswerTally, in the same transaction.
    Tallies by department, channel or question that filter on nothing else (clinician,
    treatment) read it for every period and any day range, since days sum to weeks, months,
    quarters and custom ranges. Clinician and treatment are left out on purpose: with them a
    day has nearly as many rows as answers. A missing department or day is stored as 0 or ''
    with bit 1 or 8 in ``nulls`` (as in AnswerTally). Rebuild with
    ``bot.analytics.tallies.rebuild_rollup``.
    """

    id = fields.BigIntField(primary_key=True)
    department_id = fields.IntField(default=0)
    question_id = fields.CharField(max_length=64)
    score = fields.SmallIntField()
    nulls = fields.SmallIntField(default=0)
    local_day = fields.CharField(max_length=10, default="")  # YYYY-MM-DD, '' when missing
    channel = fields.CharField(max_length=16)
    n = fields.BigIntField(default=0)

    class Meta:
        table = "answer_day"
        # local_day first: PostgreSQL reads a day range from it
        unique_together = (("local_day", "department_id", "question_id", "score", "nulls",
                            "channel"),)
        # covering (n last): SQLite streams department and channel groups in index order
        indexes = (("department_id", "question_id", "score", "nulls", "local_day", "n"),
                   ("channel", "question_id", "score", "nulls", "local_day", "n"))


class FiveCounts(Model):
    """The five scores of a rollup row as five columns (how many 1s, 2s... 5s), and which of
    its grouping columns stand for a missing value (``nulls``, as in AnswerTally)."""

    nulls = fields.SmallIntField(default=0)
    n1 = fields.BigIntField(default=0)
    n2 = fields.BigIntField(default=0)
    n3 = fields.BigIntField(default=0)
    n4 = fields.BigIntField(default=0)
    n5 = fields.BigIntField(default=0)

    class Meta:
        abstract = True


class AnswerClinicianDay(FiveCounts):
    """Scored answers counted per department, clinician, question and local day (derived).

    The clinician rollup: kept by ``bot.ledger.append`` beside the other two, in the same
    transaction. Clinician tallies (and department or question tallies filtered to one
    clinician) with no treatment or channel filter read it for every period and day range. The
    five scores are five columns, not five rows: a clinician's day has few answers, and one row
    per clinician, question and day is what keeps the table several times smaller than the
    answers (a quarter of clinician × week reads tens of thousands of rows, not a quarter of a
    million answers). A missing department, clinician or day is stored as 0 or '' with bit 1, 2
    or 8 in ``nulls`` (as in AnswerTally). Rebuild with ``bot.analytics.tallies.rebuild_rollup``.
    """

    id = fields.BigIntField(primary_key=True)
    local_day = fields.CharField(max_length=10, default="")  # YYYY-MM-DD, '' when missing
    department_id = fields.IntField(default=0)
    clinician = fields.CharField(max_length=128, default="")
    clinician_code = fields.CharField(max_length=64, default="")
    question_id = fields.CharField(max_length=64)

    class Meta:
        table = "answer_clinician_day"
        # local_day first: a day range is one index range on both databases
        unique_together = (("local_day", "department_id", "clinician", "clinician_code",
                            "question_id", "nulls"),)


class AnswerMonth(Model):
    """AnswerDay summed per local month (derived): the same columns with ``month_start``
    (YYYY-MM-01, '' when the day is missing) for the day.

    Kept by ``bot.ledger.append`` beside the day rollup, in the same transaction. Month,
    quarter and whole-range tallies read their whole months here and only the days at either
    end of the range from AnswerDay: a year is about 12 rows per group instead of 365 (the
    department × month page at a million answers read 200,000 day rows).
    """

    id = fields.BigIntField(primary_key=True)
    month_start = fields.CharField(max_length=10, default="")
    department_id = fields.IntField(default=0)
    question_id = fields.CharField(max_length=64)
    score = fields.SmallIntField()
    nulls = fields.SmallIntField(default=0)
    channel = fields.CharField(max_length=16)
    n = fields.BigIntField(default=0)

    class Meta:
        table = "answer_month"
        unique_together = (("month_start", "department_id", "question_id", "score", "nulls",
                            "channel"),)


class AnswerClinicianMonth(FiveCounts):
    """AnswerClinicianDay summed per local month (derived), as AnswerMonth is AnswerDay."""

    id = fields.BigIntField(primary_key=True)
    month_start = fields.CharField(max_length=10, default="")
    department_id = fields.IntField(default=0)
    clinician = fields.CharField(max_length=128, default="")
    clinician_code = fields.CharField(max_length=64, default="")
    question_id = fields.CharField(max_length=64)

    class Meta:
        table = "answer_clinician_month"
        unique_together = (("month_start", "department_id", "clinician", "clinician_code",
                            "question_id", "nulls"),)


class AnswerClinicianWeek(FiveCounts):
    """AnswerClinicianDay summed per ISO week (derived), keyed by the week's Monday."""

    id = fields.BigIntField(primary_key=True)
    week_start = fields.CharField(max_length=10, default="")
    department_id = fields.IntField(default=0)
    clinician = fields.CharField(max_length=128, default="")
    clinician_code = fields.CharField(max_length=64, default="")
    question_id = fields.CharField(max_length=64)

    class Meta:
        table = "answer_clinician_week"
        unique_together = (("week_start", "department_id", "clinician", "clinician_code",
                            "question_id", "nulls"),)


class AnswerTreatmentDay(FiveCounts):
    """Scored answers counted per department, treatment type, question and local day, the five
    scores as five columns (derived, as AnswerClinicianDay is for clinicians).

    Kept by ``bot.ledger.append`` beside the other rollups, in the same transaction. Treatment
    tallies (and department or question tallies of one treatment) with no clinician or channel
    filter read it for every period and day range. A missing department, treatment or day is
    stored as 0 or '' with bit 1, 4 or 8 in ``nulls`` (as in AnswerTally).
    """

    id = fields.BigIntField(primary_key=True)
    local_day = fields.CharField(max_length=10, default="")  # YYYY-MM-DD, '' when missing
    department_id = fields.IntField(default=0)
    treatment_type = fields.CharField(max_length=64, default="")
    question_id = fields.CharField(max_length=64)

    class Meta:
        table = "answer_treatment_day"
        unique_together = (("local_day", "department_id", "treatment_type", "question_id",
                            "nulls"),)


class AnswerTreatmentMonth(FiveCounts):
    """AnswerTreatmentDay summed per local month (derived), as AnswerMonth is AnswerDay."""

    id = fields.BigIntField(primary_key=True)
    month_start = fields.CharField(max_length=10, default="")
    department_id = fields.IntField(default=0)
    treatment_type = fields.CharField(max_length=64, default="")
    question_id = fields.CharField(max_length=64)

    class Meta:
        table = "answer_treatment_month"
        unique_together = (("month_start", "department_id", "treatment_type", "question_id",
                            "nulls"),)


class AuditEvent(Model):
    """A past-tense fact: who did what to which record, and when."""

    CHAIN_FIELDS: ClassVar[tuple[str, ...]] = (
        "kind", "actor", "subject_type", "subject_id", "data", "recorded_at",
    )

    id = fields.BigIntField(primary_key=True)
    kind = fields.CharField(max_length=64)
    actor = fields.CharField(max_length=64)
    subject_type = fields.CharField(max_length=32)
    subject_id = fields.CharField(max_length=64)
    data: dict = fields.JSONField(default=dict)
    recorded_at = UTCDatetimeField()
    prev_hash = fields.CharField(max_length=64)
    hash = fields.CharField(max_length=64, unique=True)

    class Meta:
        table = "audit_event"
        indexes = (("subject_type", "subject_id"),)


class KeyValue(Model):
    """Small shared runtime values (e.g. provider access tokens), shared by all processes."""

    key = fields.CharField(max_length=128, primary_key=True)
    value = fields.TextField()
    expires_at = UTCDatetimeField(null=True)

    class Meta:
        table = "key_value"


class LabelCorrection(Model):
    """A staff member's correction of how the bot read a reply: training data for
    ``survey-bot train`` (exported by ``survey-bot corrections export``).

    ``labels`` holds the whole corrected reading (score, opt_out, complaint, dispute,
    red_flag, question), ``parsed`` what the bot had read, ``text`` the reply.  Rows are
    never updated: a later correction of the same message supersedes an earlier one.  Each
    is also an audit event (``labels_corrected``).
    """

    id = fields.IntField(primary_key=True)
    escalation_id = fields.IntField(db_index=True)
    message_id = fields.BigIntField(null=True, db_index=True)
    staff_id = fields.IntField()
    text = fields.TextField()
    labels: dict = fields.JSONField()
    parsed: dict = fields.JSONField()
    note = fields.TextField(default="")
    created_at = UTCDatetimeField()

    class Meta:
        table = "label_correction"
